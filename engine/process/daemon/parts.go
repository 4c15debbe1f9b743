package daemon

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

// startParts starts the background parts in g. They run until g stops or
// Run's context ends; none of them can stop the daemon.
func (d *Daemon) startParts(g *group) {
	cfg, log := d.cfg, d.log
	// Wake tubes a crashed process left behind hold a job each: remove them,
	// beanstalkd's cost per job grows with its number of tubes.
	g.start("wake-tube sweep", func(ctx context.Context) {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if n := d.pool.SweepOrphanWakeTubes(sctx); n > 0 {
			log.Info("removed jobs of orphan wake tubes", "jobs", n)
		}
	})
	if d.redis.configured() {
		g.start("redis connect", d.redis.connect)
	}
	g.start("failure store client", func(ctx context.Context) { d.redis.onConnect(ctx, d.failures.SetClient) })
	g.start("recover lists", d.recoverLists)
	g.start("backlog sampler", d.sampler.Run)
	if cfg.Observability {
		g.start("alerts", d.alerts.Run)
		g.start("recover-list gauge", func(ctx context.Context) {
			d.redis.onConnect(ctx, func(c rueidis.Client) {
				(&recoverGauge{}).run(ctx, c, cfg.MsgQueueFaultToleranceListNamePrefix, 10*time.Second, log)
			})
		})
	}
	d.sd = newSystemd(log)
	if d.sd.n.Enabled() {
		g.start("systemd notifications", d.notifySystemd)
	}
	// Installed before Run logs the start and kept until Close, so that a
	// SIGHUP never takes its default action (ending the process) while the
	// daemon runs or drains, even with a Redis source, which has nothing
	// to re-read.
	signal.Notify(d.hup, syscall.SIGHUP)
	g.start("SIGHUP", func(ctx context.Context) { d.onSIGHUP(ctx, d.hup) })
}

// onSIGHUP re-reads a file subscription source on each SIGHUP until ctx
// ends.
func (d *Daemon) onSIGHUP(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if d.reload != nil {
				d.log.Info("SIGHUP: reloading subscriptions")
				d.reloadFile(ctx)
			}
		}
	}
}
