package loadgen

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"medispatcher/engine/dispatch/subs"
)

// register stores the plan's subscriptions where the daemon reads them:
// one of three targets, the first of cfg's that is set: the subscriptions
// file (source "file:"), Redis (source "redis") or the 2.x MySQL tables
// (source "mysql"). Each replaces what an earlier run registered there.
func register(ctx context.Context, cfg *Config, plan *Plan) error {
	var err error
	switch {
	case cfg.SubsFile != "":
		err = subs.WriteFile(cfg.SubsFile, plan.Subs)
	case cfg.RedisAddr != "":
		err = registerRedis(ctx, cfg.RedisAddr, cfg.RedisPrefix, plan.Subs)
	case cfg.Database != nil:
		err = registerMySQL(ctx, *cfg.Database, plan.Subs)
	}
	if err != nil {
		return fmt.Errorf("register subscriptions: %w", err)
	}
	return nil
}

// registerRedis stores list in the Redis at addr under prefix.
func registerRedis(ctx context.Context, addr, prefix string, list []*subs.Subscription) error {
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return fmt.Errorf("redis %s: %w", addr, err)
	}
	defer cl.Close()
	for _, s := range list {
		if err := subs.RedisPut(ctx, cl, prefix, s); err != nil {
			return err
		}
	}
	return nil
}
