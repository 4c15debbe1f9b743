package command

import (
	"context"
	"fmt"
	"io"
	"strconv"
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
	tubes := fs.String("tubes", "4", "comma-separated channel-tube counts to measure both cycles with (e.g. 4,500)")
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	counts, err := parseCounts(*tubes)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen ceiling: --tubes:", err)
		return loadgen.ExitUsage
	}
	res, err := ceiling.Measure(ctx, ceiling.Config{Beanstalkd: strings.Split(*servers, ",")[0], Duration: *d, Size: *size, Tubes: counts})
	if err != nil {
		fmt.Fprintln(stderr, "loadgen ceiling:", err)
		return loadgen.ExitError
	}
	for _, c := range res.Cycles {
		fmt.Fprintf(stdout, "beanstalkd, %s\n", c)
	}
	fmt.Fprintf(stdout, "fasthttp client→server: %.0f req/s\n", res.HTTPRate)
	return loadgen.ExitOK
}

// parseCounts parses "4,500" into positive counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
