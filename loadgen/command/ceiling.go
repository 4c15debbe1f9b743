package command

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
)

// runCeiling is `loadgen ceiling`: what beanstalkd and fasthttp reach on
// this machine without the daemon.
func runCeiling(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ceiling", stderr)
	servers := fs.String("servers", "127.0.0.1:11300", "beanstalkd server (the first is used)")
	d := fs.Duration("duration", 5*time.Second, "length of each measurement")
	size := fs.Int("size", 512, "job size")
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	res, err := ceiling.Measure(ctx, ceiling.Config{Beanstalkd: strings.Split(*servers, ",")[0], Duration: *d, Size: *size})
	if err != nil {
		fmt.Fprintln(stderr, "loadgen ceiling:", err)
		return loadgen.ExitError
	}
	fmt.Fprintf(stdout, "beanstalkd dispatch cycle: %.0f msg/s\nfasthttp client→server:   %.0f req/s\n", res.CycleRate, res.HTTPRate)
	return loadgen.ExitOK
}
