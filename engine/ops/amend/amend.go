// Package amend kicks buried jobs of medispatcher's tubes back to ready:
// the main tube and every channel and retry tube on every beanstalkd
// server. medispatcher itself never buries work in progress, but the old
// daemon did (a crashed 2.x daemon leaves its in-flight jobs buried), and
// operators' `amender -f CONFIG` must keep working.
//
// It kicks job by job (peek-buried, kick-job), never with `kick N`, which
// would kick delayed jobs (retries not yet due) when a tube has no buried
// ones left.
package amend

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"medispatcher/connpool"
	"medispatcher/internal/wire"
)

// TubeReport is what was found and done in one tube of one server.
type TubeReport struct {
	Server string
	Tube   string
	Buried int64 // buried when looked at
	Kicked int   // kicked (0 in a dry run)
	Err    error // the first failure in this tube, if any
}

// KickFailer records a job that could not be kicked (the DATA log's
// KICKFAIL); nil to skip.
type KickFailer func(server, tube string, id uint64, reason string)

// Run looks at every tube of every server of pool that is the main tube, a
// channel tube or a retry tube (prefix: PrefixOfChannelQueue) and, unless
// dryRun, kicks each of its buried jobs. Reports are sorted by server and
// tube; the error is non-nil when a server could not be listed.
func Run(ctx context.Context, pool *connpool.Pool, mainTube, prefix string, dryRun bool, kickFail KickFailer) ([]TubeReport, error) {
	var reports []TubeReport
	var errs []error
	for si, addr := range pool.Servers() {
		tubes, err := pool.ListTubes(ctx, si)
		if err != nil {
			errs = append(errs, fmt.Errorf("list tubes of %s: %w", addr, err))
			continue
		}
		sort.Strings(tubes)
		for _, tube := range tubes {
			if _, _, ok := wire.ParseTube(tube, prefix); tube != mainTube && !ok {
				continue
			}
			st, err := pool.StatsTube(ctx, si, tube)
			if errors.Is(err, connpool.ErrNotFound) {
				continue // gone since list-tubes
			}
			rep := TubeReport{Server: addr, Tube: tube, Buried: st.Buried, Err: err}
			if err == nil && st.Buried > 0 && !dryRun {
				rep.Kicked, rep.Err = kickBuried(ctx, pool, si, addr, tube, st.Buried, kickFail)
			}
			if rep.Buried > 0 || rep.Err != nil {
				reports = append(reports, rep)
			}
		}
	}
	return reports, errors.Join(errs...)
}

// kickBuried kicks up to n buried jobs of tube, one by one.
func kickBuried(ctx context.Context, pool *connpool.Pool, si int, addr, tube string, n int64, kickFail KickFailer) (int, error) {
	kicked := 0
	for i := int64(0); i < n; i++ {
		id, _, err := pool.Peek(ctx, si, tube, "buried")
		if errors.Is(err, connpool.ErrNotFound) {
			return kicked, nil // none left: someone else kicked or deleted them
		}
		if err != nil {
			return kicked, fmt.Errorf("peek-buried %s on %s: %w", tube, addr, err)
		}
		if err := pool.KickJob(ctx, si, id); err != nil && !errors.Is(err, connpool.ErrNotFound) {
			if kickFail != nil {
				kickFail(addr, tube, id, err.Error())
			}
			return kicked, fmt.Errorf("kick-job %d in %s on %s: %w", id, tube, addr, err)
		}
		kicked++
	}
	return kicked, nil
}
