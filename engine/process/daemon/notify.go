package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"medispatcher/internal/sdnotify"
)

// linkPoll is how often the daemon looks for a connected beanstalkd link
// when its first subscription set came before any: the pool tells no one
// when a link comes up, and it happens once.
const linkPoll = 50 * time.Millisecond

// reloadWait bounds the wait for a SIGHUP's re-read to be applied before
// READY=1 ends the reload: a file that did not change, or cannot be read,
// applies nothing.
const reloadWait = time.Second

// systemd is what the daemon tells its service manager (a unit of
// Type=notify, package sdnotify); without $NOTIFY_SOCKET it tells nothing.
// The states it sends:
//
//   - READY=1 once the daemon dispatches: its engine applied its first
//     subscription set and a beanstalkd link is connected (until then
//     systemd holds the start, and units ordered after it wait). STATUS=
//     says how many subscriptions it dispatches, or why its main tube
//     waits: an empty first set (AllowEmptySubscriptionSet off) is a set
//     read, so the daemon is ready, but it takes no message until a
//     subscription is loaded;
//   - RELOADING=1 then READY=1 around a SIGHUP's re-read of the
//     subscriptions file (only once READY=1 was sent);
//   - WATCHDOG=1 every half watchdog interval, only while the engine's
//     heartbeat (its redistributors' loop) is younger than the interval:
//     a stalled engine misses its pings and systemd restarts the process,
//     as it would a hung one;
//   - STOPPING=1 when Run's context ends (SIGTERM or SIGINT): the drain
//     begins; the watchdog pings stop with it.
type systemd struct {
	n   *sdnotify.Notifier
	log *slog.Logger

	mu       sync.Mutex
	ready    bool // READY=1 sent, no RELOADING=1 or STOPPING=1 since
	stopping bool // STOPPING=1 sent: nothing follows it
	stalled  bool // the last watchdog ping was skipped
}

func newSystemd(log *slog.Logger) *systemd { return &systemd{n: sdnotify.FromEnv(), log: log} }

// sent logs a notification that could not be sent; systemd acts on its
// absence (a start that times out, a watchdog restart), the log says why.
func (s *systemd) sent(state string, err error) {
	if err != nil {
		s.log.Warn("systemd notification not sent", "state", state, "err", err)
	}
}

// markReady sends READY=1 with status, unless the daemon is stopping.
func (s *systemd) markReady(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.ready = true
	s.sent("READY", s.n.Ready(status))
	s.log.Debug("systemd told: ready", "status", status)
}

// reloading sends RELOADING=1 when the daemon was ready; it reports
// whether it did (and READY=1 must end the reload).
func (s *systemd) reloading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready || s.stopping {
		return false
	}
	s.ready = false
	s.sent("RELOADING", s.n.Reloading())
	return true
}

// stop sends STOPPING=1, once.
func (s *systemd) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.stopping, s.ready = true, false
	s.sent("STOPPING", s.n.Stopping("draining: pushes in flight finish, the rest goes back to beanstalkd"))
}

// watchdog pings when the engine's heartbeat hb is younger than interval,
// and says at WARN when the pings stop and when they resume. A zero hb is
// an engine not yet running: no ping, nothing said.
func (s *systemd) watchdog(hb time.Time, interval time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || hb.IsZero() {
		return
	}
	if age := time.Since(hb); age > interval {
		if !s.stalled {
			s.log.Warn("dispatch loop stalled: systemd watchdog pings withheld (systemd restarts the daemon if it stays so)",
				"heartbeat_age", age.Round(time.Millisecond), "watchdog", interval)
		}
		s.stalled = true
		return
	}
	if s.stalled {
		s.log.Warn("dispatch loop running again: systemd watchdog pings resumed")
	}
	s.stalled = false
	s.sent("WATCHDOG", s.n.Watchdog())
}

// notifySystemd is the background part telling systemd the daemon's
// states (see systemd) until Run's context ends.
func (d *Daemon) notifySystemd(ctx context.Context) {
	var ping <-chan time.Time
	interval := sdnotify.WatchdogInterval()
	if interval > 0 {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		ping = t.C
	}
	applied := d.engine.Applied()
	var poll *time.Ticker
	var polled <-chan time.Time
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			d.sd.stop()
			return
		case <-applied:
			applied, poll = nil, time.NewTicker(linkPoll)
			polled = poll.C
		case <-polled:
			if d.linked() {
				poll.Stop()
				polled = nil
				d.sd.markReady(d.status())
			}
		case <-ping:
			d.sd.watchdog(d.engine.Heartbeat(), interval)
		}
	}
}

// linked reports whether a link to one of the beanstalkd servers is up.
func (d *Daemon) linked() bool {
	for i := range d.cfg.QueueServers {
		if d.pool.Healthy(i) {
			return true
		}
	}
	return false
}

// status is the daemon's one-line status for systemd: what it dispatches,
// or why its main tube waits.
func (d *Daemon) status() string {
	if why := d.engine.Paused(); why != "" {
		return "main tube " + d.cfg.NameOfMainQueue + " paused: " + why
	}
	set := d.engine.Subscriptions()
	topics := map[string]struct{}{}
	for _, s := range set.All() {
		topics[s.Topic] = struct{}{}
	}
	return fmt.Sprintf("dispatching %s: %d subscriptions of %d topics", d.cfg.NameOfMainQueue, set.Len(), len(topics))
}

// reloadFile re-reads the file subscription source (SIGHUP). systemd hears
// RELOADING=1 first and READY=1 once the engine applied what was read, or
// after reloadWait when nothing was applied.
func (d *Daemon) reloadFile(ctx context.Context) {
	changed := d.engine.Changed() // taken first: an apply racing the re-read counts
	told := d.sd.reloading()
	d.reload()
	if !told {
		return
	}
	t := time.NewTimer(reloadWait)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return // STOPPING=1 follows
	}
	d.sd.markReady(d.status())
}
