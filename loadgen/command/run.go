package command

import (
	"context"
	"errors"
	"fmt"
	"io"

	"medispatcher/loadgen"
	"medispatcher/loadgen/cptransport"
)

// runLoad is `loadgen run`: one run against a daemon that is already up.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseRun(args, stderr)
	if o == nil {
		return code
	}
	if err := o.cfg.Check(); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return loadgen.ExitUsage
	}
	if err := checkBeanstalkd(o.cfg.Servers); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return loadgen.ExitError
	}
	put, err := newPutter(ctx, o.client, o.cfg.Servers)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return loadgen.ExitError
	}
	rep, err := loadgen.Run(ctx, o.cfg, put)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		if errors.Is(err, loadgen.ErrConfig) {
			return loadgen.ExitUsage
		}
		return loadgen.ExitError
	}
	if err := writeReport(rep, o, stdout); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return loadgen.ExitError
	}
	return rep.ExitCode(o.strict)
}

// newPutter is the producer's beanstalkd client: connpool, the daemon's own
// (the default), or nil for the raw client loadgen.Run opens itself.
func newPutter(ctx context.Context, client string, servers []string) (loadgen.Putter, error) {
	if client == "raw" {
		return nil, nil
	}
	return cptransport.New(ctx, servers)
}
