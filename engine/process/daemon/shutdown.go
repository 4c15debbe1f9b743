package daemon

import (
	"context"
	"os/signal"
	"time"
)

// failureFlushTimeout bounds the failure store's last writes at shutdown.
const failureFlushTimeout = 3 * time.Second

// step is one step of the shutdown: stop runs when built is true (New
// may have failed before the part was made, Run may not have run).
type step struct {
	name  string
	built bool
	stop  func()
}

// shutdown is the order in which Close stops the daemon, each step once
// the previous one has returned. The package comment says why.
func (d *Daemon) shutdown() []step {
	mysql, _ := d.source.(*mysqlSource)
	return []step{
		{"engine", d.ran, func() { d.stopRun(); <-d.runDone }},
		{"MySQL subscription source", mysql != nil, func() { mysql.stop() }},
		{"failure store", d.failures != nil, d.flushFailures},
		{"database pool", d.db != nil, func() { closeDatabase(d.db, d.log) }},
		{"SIGHUP handler", d.hup != nil, func() { signal.Stop(d.hup) }},
		{"HTTP servers", d.http != nil, d.http.shutdown},
		{"tracer", d.tracer != nil, d.flushTracer},
		{"background parts", d.parts != nil, func() { d.parts.stop() }},
		{"Redis client", d.redis != nil, func() { d.redis.close() }},
		{"beanstalkd pool", d.pool != nil, func() { _ = d.pool.Close() }},
		{"drop log", d.drops != nil, func() { closeLog(d.drops, "drop log", d.log) }},
		{"DATA log", d.data != nil, func() { closeLog(d.data, "DATA log", d.log) }},
	}
}

// Close stops the daemon (the shutdown order above); called while Run
// runs, it ends Run's context and waits for the engine's drain. Errors are
// logged: by then there is nobody left to act on them. It says
// "medispatcher stopped" when Run ended without error. Close is
// idempotent.
func (d *Daemon) Close() {
	d.once.Do(func() {
		// Under mu, so that Run either has not started (and now will not)
		// or has made what the steps stop.
		d.mu.Lock()
		d.closed = true
		steps := d.shutdown()
		d.mu.Unlock()
		for _, s := range steps {
			if !s.built {
				continue
			}
			t := time.Now()
			s.stop()
			d.log.Debug("daemon part stopped", "part", s.name, "took", time.Since(t).Round(time.Millisecond))
		}
		if d.ran && d.runErr == nil {
			d.log.Info("medispatcher stopped")
		}
	})
}

// flushFailures writes the failure records still queued; those left when
// failureFlushTimeout ends go to the DATA log.
func (d *Daemon) flushFailures() {
	ctx, cancel := context.WithTimeout(context.Background(), failureFlushTimeout)
	defer cancel()
	d.failures.Close(ctx)
}
