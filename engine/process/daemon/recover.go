package daemon

import (
	"context"

	"github.com/redis/rueidis"

	"medispatcher/engine/process/recoverlist"
)

// recoverLists puts the entries producers pushed to Redis while beanstalkd
// was out of reach into the main tube (package recoverlist), from the
// moment Redis is connected until ctx ends.
func (d *Daemon) recoverLists(ctx context.Context) {
	d.redis.onConnect(ctx, func(c rueidis.Client) {
		recoverlist.New(recoverlist.Config{
			Prefix: d.cfg.MsgQueueFaultToleranceListNamePrefix, MainTube: d.cfg.NameOfMainQueue, Logger: d.log,
		}, c, d.pool, d.data).Run(ctx)
	})
}
