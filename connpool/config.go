package connpool

import (
	"errors"
	"log/slog"
	"runtime"
	"time"

	"medispatcher/internal/wire"
)

// Defaults of Config and ConsumerConfig.
const (
	DefaultListenConns = 2
	DefaultOpTimeout   = 5 * time.Second
	DefaultDialTimeout = 2 * time.Second
	DefaultBackoffMin  = 100 * time.Millisecond
	DefaultBackoffMax  = 5 * time.Second
	DefaultBatch       = 16
	DefaultIdleWait    = time.Second
	DefaultTTR         = wire.TTR
	DefaultOpWakeDelay = 10 * time.Millisecond
)

func (c Config) withDefaults() (Config, error) {
	if len(c.Addrs) == 0 {
		return c, errors.New("connpool: config: no server address")
	}
	for _, a := range c.Addrs {
		if a == "" {
			return c, errors.New("connpool: config: empty server address")
		}
	}
	c.Addrs = append([]string(nil), c.Addrs...)
	if c.CmdConns <= 0 {
		c.CmdConns = max(2, runtime.GOMAXPROCS(0))
	}
	if c.ListenConns <= 0 {
		c.ListenConns = DefaultListenConns
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func (c ConsumerConfig) withDefaults(p Config) ConsumerConfig {
	if c.Links <= 0 {
		c.Links = p.ListenConns
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.IdleWait < time.Second {
		// reserve-with-timeout counts whole seconds; 0 would be a busy loop.
		c.IdleWait = DefaultIdleWait
	}
	c.IdleWait = c.IdleWait.Truncate(time.Second)
	if c.TTR <= 0 {
		c.TTR = DefaultTTR
	}
	if c.OpWakeDelay == 0 {
		c.OpWakeDelay = DefaultOpWakeDelay
	}
	return c
}
