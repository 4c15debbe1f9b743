package daemon

import (
	"context"
	"log/slog"
	"sync"
)

// group owns the daemon's background goroutines. start runs a named part
// on the group's context; stop ends that context and returns once every
// part has returned. A part must return soon after its context ends.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	wg     sync.WaitGroup
}

// newGroup returns a group whose context ends with parent's or on stop.
func newGroup(parent context.Context, log *slog.Logger) *group {
	ctx, cancel := context.WithCancel(parent)
	return &group{ctx: ctx, cancel: cancel, log: log}
}

// start runs part in a goroutine of the group; name is for the log.
func (g *group) start(name string, part func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		part(g.ctx)
		g.log.Debug("daemon part returned", "part", name)
	}()
}

// stop ends the parts' context and waits for all of them.
func (g *group) stop() {
	g.cancel()
	g.wg.Wait()
}
