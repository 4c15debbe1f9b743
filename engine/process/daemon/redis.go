package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/rueidis"

	"medispatcher/internal/config"
	"medispatcher/internal/redisopt"
)

// redisConn connects to Redis in the background with backoff, so a Redis
// that is down at start delays only what needs it. Its connect loop is a
// background part (Daemon.startParts); close is called once that part has
// returned, so a client connected late is closed too.
type redisConn struct {
	cfg   *config.Config
	opt   rueidis.ClientOption
	log   *slog.Logger
	ready chan struct{}
	c     rueidis.Client
}

// newRedisConn checks the Redis options (TLS files) without connecting.
func newRedisConn(cfg *config.Config, log *slog.Logger) (*redisConn, error) {
	opt, err := redisopt.Option(cfg)
	if err != nil {
		return nil, err
	}
	return &redisConn{cfg: cfg, opt: opt, log: log, ready: make(chan struct{})}, nil
}

// configured reports whether a Redis address is set: without one the
// client never connects and what waits for it waits until its ctx ends.
func (rc *redisConn) configured() bool { return len(rc.cfg.Redis.Addrs) > 0 }

// connect tries until a client connects or ctx ends.
func (rc *redisConn) connect(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		c, err := rueidis.NewClient(rc.opt)
		if err == nil {
			rc.c = c
			close(rc.ready)
			return
		}
		rc.log.Warn("redis not reachable; retrying", "addr", rc.cfg.Redis.Addr, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// onConnect calls f with the client once connected (or never, if ctx ends).
func (rc *redisConn) onConnect(ctx context.Context, f func(rueidis.Client)) {
	select {
	case <-rc.ready:
		f(rc.c)
	case <-ctx.Done():
	}
}

// client returns the client once connected, waiting at most until ctx
// ends (nil then).
func (rc *redisConn) client(ctx context.Context) rueidis.Client {
	select {
	case <-rc.ready:
		return rc.c
	default:
	}
	select {
	case <-rc.ready:
		return rc.c
	case <-ctx.Done():
		return nil
	}
}

func (rc *redisConn) close() {
	select {
	case <-rc.ready:
		rc.c.Close()
	default:
	}
}
