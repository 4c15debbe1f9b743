// Package clipool connects the operator tools that work on the queue
// servers (amender, cleanqueue, replay, failrec --resend) to the
// beanstalkd servers of their configuration. It is apart from package cli
// so that medictl, which uses cli but only speaks HTTP, links no
// beanstalkd client.
package clipool

import (
	"context"

	"medispatcher/connpool"
	"medispatcher/engine/ops/cli"
	"medispatcher/internal/config"
)

// Open loads the -f configuration and connects a pool to its servers. A
// failure is printed and code says how the tool exits.
func Open(ctx context.Context, e *cli.Env) (cfg *config.Config, pool *connpool.Pool, code int) {
	if cfg, code = e.Config(); code != cli.ExitOK {
		return nil, nil, code
	}
	if pool, code = Connect(ctx, e, cfg); code != cli.ExitOK {
		return nil, nil, code
	}
	return cfg, pool, cli.ExitOK
}

// Connect connects a pool to the servers of cfg. A failure is printed
// and code is ExitFailed.
func Connect(ctx context.Context, e *cli.Env, cfg *config.Config) (*connpool.Pool, int) {
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		return nil, e.Failf(cli.ExitFailed, "%v", err)
	}
	return pool, cli.ExitOK
}
