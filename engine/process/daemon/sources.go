package daemon

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/internal/config"
)

// subscriptionSource is where the engine takes its subscriptions from:
// the Redis hash (once Redis is connected), the 2.x MySQL tables, or the
// file, which reload re-reads (nil for the others). Each invalid version
// of a subscription entry is counted and, with Observability, alerted.
// db is the 2.x database's pool (nil unless the subscriptions come from
// MySQL).
func subscriptionSource(cfg *config.Config, redis *redisConn, db *sql.DB, alerts *alert.Monitor, log *slog.Logger) (src subs.Source, reload func()) {
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
		return newMySQLSource(cfg, db, lim, opts, sourceAlerts(cfg, alerts), log), nil
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
