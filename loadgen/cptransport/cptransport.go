// Package cptransport lets the load generator put through connpool, the
// daemon's own pipelined beanstalkd client, so that producer-side figures
// reflect the client medispatcher ships. It only adapts; it must never add
// retries or buffering of its own.
package cptransport

import (
	"context"
	"fmt"

	"medispatcher/connpool"
	"medispatcher/internal/wire"
)

// Putter puts main-tube jobs through a connpool.Pool.
type Putter struct {
	pool *connpool.Pool
}

// New starts a pool over servers.
func New(ctx context.Context, servers []string) (*Putter, error) {
	p, err := connpool.New(ctx, connpool.Config{Addrs: servers})
	if err != nil {
		return nil, fmt.Errorf("connpool for %v: %w", servers, err)
	}
	return &Putter{pool: p}, nil
}

// Put puts with the producers' parameters: wire.Priority, no delay, wire.TTR.
func (p *Putter) Put(ctx context.Context, server int, tube string, body []byte) error {
	if _, err := p.pool.Put(ctx, server, tube, body, wire.Priority, 0, wire.TTR); err != nil {
		return fmt.Errorf("put to %s: %w", tube, err)
	}
	return nil
}

// Close closes the pool.
func (p *Putter) Close() error { return p.pool.Close() }
