package command

import (
	"context"
	"fmt"
	"io"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/farm"
)

// printFarm prints the farm's totals and the figures of its last interval.
func printFarm(w io.Writer, f *farm.Farm, iv farm.Interval) {
	t := f.Totals()
	fmt.Fprintf(w, "arrivals %d delivered %d dups %d failed %d probes %d malformed %d | last interval: %d delivered, p50 %v p99 %v max %v\n",
		t.Arrivals, t.Delivered, t.Dups, t.Failed, t.Probes, t.Malformed, iv.Delivered, iv.P50, iv.P99, iv.Max)
}

// runFarm is `loadgen farm`: the subscriber farm alone, for a daemon
// driven by another producer, reporting every interval until stopped.
func runFarm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("farm", stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (loopback)")
	every := fs.Duration("interval", 5*time.Second, "report interval")
	var pf profileFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	profiles := []farm.Profile{pf.profile()}
	if pf.file != "" {
		cls, err := loadgen.LoadClasses(pf.file)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen farm:", err)
			return loadgen.ExitUsage
		}
		profiles = profiles[:0]
		for _, c := range cls {
			profiles = append(profiles, c.Profile)
		}
	}
	f, err := farm.New(farm.Config{Addr: *addr, Profiles: profiles})
	if err != nil {
		fmt.Fprintln(stderr, "loadgen farm:", err)
		return loadgen.ExitError
	}
	fmt.Fprintf(stdout, "farm listening on %s; subscription URLs: http://%s/s/<id>?class=<name> (classes:", f.Addr(), f.Addr())
	for _, p := range f.Classes() {
		fmt.Fprintf(stdout, " %s", p.Name)
	}
	fmt.Fprintln(stdout, "); messages must carry seq and ts (unix ns) in their body")
	tk := time.NewTicker(*every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = f.Close(c)
			iv := f.Tick()
			printFarm(stdout, f, iv)
			return loadgen.ExitOK
		case <-tk.C:
			printFarm(stdout, f, f.Tick())
		}
	}
}
