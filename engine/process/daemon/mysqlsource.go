package daemon

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
)

// sourceStopTimeout bounds the wait for the MySQL source's last query at
// shutdown; its context has ended by then, so it returns at once unless
// the driver hangs.
const sourceStopTimeout = 5 * time.Second

// mysqlSource is the 2.x tables' subscription source on the daemon's
// database pool, which the failure rows share. The pool outlives it:
// stop waits for Run to return before the daemon closes the pool.
type mysqlSource struct {
	db    *sql.DB
	where string
	poll  time.Duration
	lim   subs.Limits
	opts  paneldb.Options
	log   *slog.Logger
	src   atomic.Pointer[paneldb.Source]

	mu      sync.Mutex
	stopped bool          // stop was called: Run no longer starts
	done    chan struct{} // closed when Run returns; nil before Run
}

// newMySQLSource makes the source on db. A database that cannot be read
// before any set was applied leaves the main tube paused, which the engine
// reports at ERROR and alerts (no_subscriptions) with the source's
// Problem, naming the database and its error. An outage with a set held
// keeps that set, is logged by the source once per outage and, with
// alerts (nil without Observability), raises subscription_source_down,
// then subscription_source_recovered when the database answers again.
func newMySQLSource(cfg *config.Config, db *sql.DB, lim subs.Limits, opts subs.Options, alerts *alert.Monitor, log *slog.Logger) *mysqlSource {
	s := &mysqlSource{db: db, where: paneldb.Where(cfg.Database), lim: lim, log: log,
		poll: time.Duration(cfg.Database.PollInterval) * time.Millisecond, opts: paneldb.Options{Options: opts}}
	if alerts != nil {
		s.opts.OnDown = func(err error, held bool) {
			if held {
				alerts.SubscriptionSourceDown(s.where, err)
			}
		}
		s.opts.OnUp = func(down time.Duration) { alerts.SubscriptionSourceUp(s.where, down) }
	}
	return s
}

// sourceAlerts is the monitor the subscription source raises its alerts
// on: nil without Observability.
func sourceAlerts(cfg *config.Config, alerts *alert.Monitor) *alert.Monitor {
	if !cfg.Observability {
		return nil
	}
	return alerts
}

// Problem implements subs.Problemer.
func (s *mysqlSource) Problem() string {
	if src := s.src.Load(); src != nil {
		return src.Problem()
	}
	return "database " + s.where + " not read yet"
}

// Run implements subs.Source; after stop it returns at once, touching
// no connection.
func (s *mysqlSource) Run(ctx context.Context, apply func(*subs.Set)) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	if s.done != nil {
		s.mu.Unlock()
		return errors.New("mysql subscription source: Run called twice")
	}
	done := make(chan struct{})
	s.done = done
	s.mu.Unlock()
	defer close(done)
	src := paneldb.NewSource(s.db, s.where, s.poll, s.lim, s.log)
	src.SetOptions(s.opts)
	s.src.Store(src)
	return src.Run(ctx, apply)
}

// stop waits for Run, whose context has ended, to return (sourceStopTimeout
// at most), and keeps a Run not started yet from starting: afterwards the
// source uses the pool no more and the daemon may close it.
func (s *mysqlSource) stop() {
	s.mu.Lock()
	s.stopped = true
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(sourceStopTimeout):
		s.log.Error("mysql subscription source still querying at shutdown; closing its database pool under it",
			"database", s.where, "waited", sourceStopTimeout)
	}
}
