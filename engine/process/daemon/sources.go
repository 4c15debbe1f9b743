package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
)

// subscriptionSource is where the engine takes its subscriptions from:
// the Redis hash (once Redis is connected), the 2.x MySQL tables, or the
// file, which reload re-reads (nil for the others). Each invalid version
// of a subscription entry is counted and, with Observability, alerted.
func subscriptionSource(cfg *config.Config, redis *redisConn, alerts *alert.Monitor, log *slog.Logger) (src subs.Source, reload func()) {
	lim := subs.Limits{
		MaxConcurrency:      cfg.MaxSendersPerChannel,
		MaxRetryConcurrency: cfg.MaxSendersPerRetryChannel,
		MaxTimeoutMS:        cfg.MaxMessageProcessTime,
		ChannelPrefix:       cfg.PrefixOfChannelQueue,
	}
	invalidSubs := metrics.GetOrCreateCounter(`medispatcher_subscription_invalid_total`)
	opts := subs.Options{Env: cfg.ReceptionEnv, OnInvalid: func(id int64, held bool, err error) {
		invalidSubs.Inc()
		if cfg.Observability {
			alerts.SubscriptionInvalid(id, held, err)
		}
	}}
	if cfg.SubscriptionFromRedis {
		return &lazyRedisSource{conn: redis, prefix: cfg.Redis.KeyPrefix, lim: lim, opts: opts, log: log}, nil
	}
	if cfg.SubscriptionFromMySQL {
		return newMySQLSource(cfg, lim, opts, log), nil
	}
	fs := subs.NewFileSource(cfg.SubscriptionFile, lim, log)
	fs.SetOptions(opts)
	return fs, fs.Reload
}

// lazyRedisSource is the Redis subscription source once Redis is reachable.
type lazyRedisSource struct {
	conn   *redisConn
	prefix string
	lim    subs.Limits
	opts   subs.Options
	log    *slog.Logger
	src    atomic.Pointer[subs.RedisSource]
}

// Problem implements subs.Problemer.
func (s *lazyRedisSource) Problem() string {
	if src := s.src.Load(); src != nil {
		return src.Problem()
	}
	return "Redis " + s.conn.cfg.Redis.Addr + " not connected yet"
}

func (s *lazyRedisSource) Run(ctx context.Context, apply func(*subs.Set)) error {
	select {
	case <-s.conn.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.conn.c == nil {
		return errors.New("redis subscription source: no [Redis] Addr configured")
	}
	src := subs.NewRedisSource(s.conn.c, s.prefix, s.lim, s.log)
	src.SetOptions(s.opts)
	s.src.Store(src)
	return src.Run(ctx, apply)
}

// mysqlSource is the 2.x tables' subscription source with its own
// connection pool, opened when Run starts and closed when it returns (the
// engine's drain, the first step of the shutdown).
type mysqlSource struct {
	db   config.DatabaseConfig
	lim  subs.Limits
	opts paneldb.Options
	log  *slog.Logger
	src  atomic.Pointer[paneldb.Source]
}

// newMySQLSource makes the source. A database that cannot be read before
// any set was applied leaves the main tube paused, which the engine
// reports at ERROR and alerts (no_subscriptions) with the source's
// Problem, naming the database and its error; an outage with a set held
// keeps that set and is logged by the source once per outage (no alert
// kind is about a subscription source that is down).
func newMySQLSource(cfg *config.Config, lim subs.Limits, opts subs.Options, log *slog.Logger) *mysqlSource {
	return &mysqlSource{db: cfg.Database, lim: lim, log: log, opts: paneldb.Options{Options: opts}}
}

// Problem implements subs.Problemer.
func (s *mysqlSource) Problem() string {
	if src := s.src.Load(); src != nil {
		return src.Problem()
	}
	return "database " + paneldb.Where(s.db) + " not read yet"
}

func (s *mysqlSource) Run(ctx context.Context, apply func(*subs.Set)) error {
	db, err := paneldb.Open(s.db)
	if err != nil {
		return fmt.Errorf("mysql subscription source: %w", err)
	}
	defer db.Close()
	src := paneldb.NewSource(db, paneldb.Where(s.db), time.Duration(s.db.PollInterval)*time.Millisecond, s.lim, s.log)
	src.SetOptions(s.opts)
	s.src.Store(src)
	return src.Run(ctx, apply)
}
