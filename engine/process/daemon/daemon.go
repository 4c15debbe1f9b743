// Package daemon assembles a medispatcher process from its configuration,
// runs it and stops it in order. It holds no dispatching logic of its own;
// cmd/medispatcher parses flags and calls New, Run and Close.
//
// # Parts
//
//   - the DATA log and the drop log (package datalog);
//   - the beanstalkd pool (package connpool), whose links' goroutines the
//     pool owns;
//   - Redis: one client, connected in the background with backoff, so that
//     a Redis down at start delays only what needs it;
//   - with SubscriptionSource = "mysql", the pool of the 2.x database
//     (package paneldb), opened once and shared by the subscription
//     source and the failure rows, bounded by Database.MaxConns;
//   - the failure store (package failures), whose writer goroutine the
//     store owns; records Redis does not take go to the DATA log, rows
//     of broadcast_failure_log the database does not take too;
//   - the subscription source: a file, Redis once connected, or the 2.x
//     MySQL tables;
//   - with OtelEndpoint, the tracer (package trace), whose exporting
//     goroutine its provider owns;
//   - the engine (package dispatch), run in Run's caller's goroutine: the
//     daemon lives as long as its engine does;
//   - the background parts, each a goroutine of one group (group.go): the
//     orphan wake-tube sweep, the Redis connection, handing the client to
//     the failure store, the recover lists, the backlog sampler, the alert
//     deliverer, the recover-list gauge, the SIGHUP handler and, under
//     systemd, the notifications to it (notify.go);
//   - the HTTP servers (DebugAddr, PrometheusApiAddr, StatisticApiAddr and
//     the admin API on ListenAddr), whose Serve goroutines the listeners
//     own (listen.go).
//
// # Lifecycle
//
// New builds and checks everything that can fail (log files, the pool,
// the Redis options, the database options, the alert gateways, the
// engine, the listening sockets) and starts none of the parts above. Run starts them and blocks
// until its context ends or the engine stops by itself (its subscription
// source failed); the background parts cannot stop the daemon. Close stops
// it in one order, each step once the previous one has returned (the list
// is Daemon.shutdown):
//
//  1. the engine drains (pushes in flight finish, the rest goes back to
//     beanstalkd) and Run returns; Close called while Run runs ends Run's
//     context first;
//  2. the MySQL subscription source returns (its context ended with the
//     engine's; 5 s at most);
//  3. the failure store writes the records it holds (3 s at most; the rest
//     goes to the DATA log), the failure rows included;
//  4. the database pool, which steps 2 and 3 used;
//  5. SIGHUP gets its default action back (until then, even while the
//     engine drains, it never ends the process);
//  6. the HTTP servers (2 s at most: an idle browser connection must not
//     hold the exit), so that the admin API and /metrics answer during
//     the drain;
//  7. the tracer exports the spans still queued (3 s at most), those of
//     the drain and of the last HTTP requests included;
//  8. the background parts: their context ends (it already has if Run's
//     context ended) and Close waits for every one;
//  9. the Redis client, which steps 3 and 8 used;
//  10. the beanstalkd pool;
//  11. the drop log, then the DATA log (5 s each at most), last because
//     every step before may still write to them.
package daemon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/observe/trace"
	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
	"medispatcher/internal/datalog"
)

// Daemon is one medispatcher process: New builds it, Run runs it, Close
// stops it.
type Daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	started time.Time

	data, drops *datalog.Writer
	pool        *connpool.Pool
	redis       *redisConn
	db          *sql.DB // the 2.x database, with SubscriptionSource = "mysql"
	failures    *failures.Store
	alerts      *alert.Monitor
	source      subs.Source
	reload      func() // re-reads a file source (SIGHUP); nil for Redis
	stats       *stats.Stats
	engine      *dispatch.Engine
	tracer      *trace.Tracer // nil without OtelEndpoint
	sampler     *backlog.Sampler
	http        *listeners
	parts       *group         // set by Run
	sd          *systemd       // set by Run
	hup         chan os.Signal // SIGHUP, from Run until Close

	mu      sync.Mutex
	ran     bool               // Run was called
	closed  bool               // Close was called
	stopRun context.CancelFunc // ends the engine's context
	runDone chan struct{}      // closed when Run returns
	runErr  error
	once    sync.Once
}

// New builds the daemon from cfg. Everything that can fail at start fails
// here, before any part runs; what was built is then closed again. ctx
// bounds the wait for the beanstalkd servers.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	d := &Daemon{cfg: cfg, log: log, started: time.Now(), runDone: make(chan struct{})}
	if err := d.build(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Run starts every part and blocks until ctx ends or the engine stops by
// itself; it returns the engine's error, if any. Call Close afterwards.
// Run runs once: a second call, or a call after Close, is an error.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	if d.ran || d.closed {
		d.mu.Unlock()
		cancel()
		return errors.New("daemon: Run after Run or Close")
	}
	d.ran, d.stopRun = true, cancel
	d.parts, d.hup = newGroup(ctx, d.log), make(chan os.Signal, 1)
	d.mu.Unlock()
	defer close(d.runDone)

	d.startParts(d.parts)
	d.http.serve()
	// The endpoints logged are those served, at the address bound.
	attrs := []any{"version", buildinfo.Version, "servers", d.cfg.QueueServers,
		"main_tube", d.cfg.NameOfMainQueue, "subscriptions", d.cfg.SubscriptionSource}
	attrs = append(attrs, d.http.served()...)
	d.log.Info("medispatcher started", append(attrs, "took", time.Since(d.started).Round(time.Millisecond))...)
	d.runErr = d.engine.Run(ctx)
	return d.runErr
}

// Run builds the daemon from cfg, runs it until ctx ends and closes it:
// New, Run and Close in one call.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	d, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Run(ctx)
}

// build makes the parts in dependency order; on error, those made so far
// are in d for Close.
func (d *Daemon) build(ctx context.Context) error {
	cfg, log := d.cfg, d.log
	var err error
	if d.data, err = openDataLog(cfg, log); err != nil {
		return err
	}
	if d.drops, err = openDropLog(cfg, log); err != nil {
		return err
	}
	d.pool, err = connpool.New(ctx, connpool.Config{
		Addrs:       cfg.QueueServers,
		CmdConns:    cfg.CmdConnsPerServer(),
		ListenConns: cfg.ListenConnsPerServer(),
		Logger:      log,
	})
	if err != nil {
		return fmt.Errorf("beanstalkd pool: %w", err)
	}
	if d.redis, err = newRedisConn(cfg, log); err != nil {
		return err
	}
	if d.db, err = openDatabase(cfg); err != nil {
		return err
	}
	d.failures = newFailureStore(cfg, d.data, d.db, log)
	if d.alerts, err = alert.New(cfg, log); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	d.source, d.reload = subscriptionSource(cfg, d.redis, d.db, d.alerts, log)
	d.stats = stats.New(stats.WithHandoffs(d.handoffs), stats.WithFilters(d.filterCounts), stats.WithStages(d.stageTimings))
	if err := d.newTracer(ctx); err != nil {
		return err
	}
	if d.engine, err = d.newEngine(); err != nil {
		return err
	}
	d.sampler = d.newSampler()
	d.http = &listeners{log: log}
	if err := d.http.observability(cfg, d.pool, d.stats); err != nil {
		return err
	}
	return d.serveAdmin()
}
