// Package clean empties a subscription's channel and retry tubes on every
// server: ready jobs, and on request delayed and buried ones too.
//
// It cleans up to a snapshot, never "until empty": it first counts each
// tube's jobs and deletes at most that many, oldest first, so it ends even
// while producers keep the tube filling. Every job it deletes is handed to
// a DropLog first (the daemon's drop log), so a cleaning can be replayed.
package clean

import (
	"context"
	"errors"
	"fmt"

	"medispatcher/connpool"
	"medispatcher/internal/wire"
)

// DropLog records a job before it is deleted; nil to skip.
type DropLog func(topic string, subID int64, job []byte, reason string) error

// Options of a cleaning.
type Options struct {
	Topic         string
	SubID         int64
	ChannelPrefix string
	Delayed       bool // also delayed jobs (retries not yet due)
	Buried        bool // also buried jobs
	DryRun        bool // count only
}

// Report is one state of one tube on one server.
type Report struct {
	Server, Tube, State string
	Found               int64 // jobs in that state at the snapshot
	Deleted             int
}

// Run cleans the subscription's tubes and returns what it found and did.
func Run(ctx context.Context, pool *connpool.Pool, o Options, drop DropLog) ([]Report, error) {
	if o.Topic == "" || o.SubID <= 0 {
		return nil, errors.New("clean: a topic and a subscription id are required")
	}
	channel := wire.ChannelTube(o.Topic, o.ChannelPrefix, o.SubID)
	states := []string{"ready"}
	if o.Delayed {
		states = append(states, "delayed")
	}
	if o.Buried {
		states = append(states, "buried")
	}
	var reports []Report
	var errs []error
	for si, addr := range pool.Servers() {
		for _, tube := range []string{channel, channel + wire.RetrySuffix} {
			st, err := pool.StatsTube(ctx, si, tube)
			if errors.Is(err, connpool.ErrNotFound) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("stats-tube %s on %s: %w", tube, addr, err))
				continue
			}
			for _, state := range states {
				found := map[string]int64{"ready": st.Ready, "delayed": st.Delayed, "buried": st.Buried}[state]
				rep := Report{Server: addr, Tube: tube, State: state, Found: found}
				if !o.DryRun {
					rep.Deleted, err = deleteUpTo(ctx, pool, si, tube, state, found, o, drop)
					if err != nil {
						errs = append(errs, err)
					}
				}
				reports = append(reports, rep)
			}
		}
	}
	return reports, errors.Join(errs...)
}

func deleteUpTo(ctx context.Context, pool *connpool.Pool, si int, tube, state string, n int64, o Options, drop DropLog) (int, error) {
	deleted := 0
	for i := int64(0); i < n; i++ {
		id, body, err := pool.Peek(ctx, si, tube, state)
		if errors.Is(err, connpool.ErrNotFound) {
			return deleted, nil
		}
		if err != nil {
			return deleted, fmt.Errorf("peek-%s %s: %w", state, tube, err)
		}
		if drop != nil {
			if err := drop(o.Topic, o.SubID, body, "queue cleaned ("+state+")"); err != nil {
				return deleted, fmt.Errorf("drop log, job %d kept: %w", id, err)
			}
		}
		if err := pool.Delete(ctx, si, id); err != nil && !errors.Is(err, connpool.ErrNotFound) {
			return deleted, fmt.Errorf("delete %d in %s: %w", id, tube, err)
		}
		deleted++
	}
	return deleted, nil
}
