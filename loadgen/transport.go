package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"medispatcher/internal/wire"
	"medispatcher/loadgen/bstalk"
)

// Putter puts a main-tube job on server (an index into Config.Servers; the
// implementation may fall back to another). connpool.Pool fits through
// loadgen/cptransport; RawPutter is the independent client.
type Putter interface {
	Put(ctx context.Context, server int, tube string, body []byte) error
	Close() error
}

// RawPutter puts over one pipelined bstalk connection per server.
type RawPutter struct {
	conns []*bstalk.Conn
	reqs  sync.Pool
}

// NewRawPutter connects to every server.
func NewRawPutter(servers []string) (*RawPutter, error) {
	p := &RawPutter{reqs: sync.Pool{New: func() any { return new(bstalk.Request) }}}
	for _, s := range servers {
		c, err := bstalk.Dial(s, 5*time.Second)
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p.conns = append(p.conns, c)
	}
	return p, nil
}

// Put implements Putter (wire.Priority, wire.TTR).
func (p *RawPutter) Put(_ context.Context, server int, tube string, body []byte) error {
	r := p.reqs.Get().(*bstalk.Request)
	r.Op, r.Tube, r.Body, r.Pri, r.TTR = bstalk.OpPut, tube, body, wire.Priority, wire.TTRSeconds
	err := p.conns[server%len(p.conns)].Do(r)
	r.Body = nil
	p.reqs.Put(r)
	if err != nil {
		return fmt.Errorf("put to %s: %w", tube, err)
	}
	return nil
}

// Close closes the connections.
func (p *RawPutter) Close() error {
	for _, c := range p.conns {
		_ = c.Close()
	}
	return nil
}

// Census counts the jobs still queued for the run: main-tube jobs (each
// owes one delivery per subscription of its topic) and the jobs of every
// channel and retry tube.
type Census struct {
	Main     int64                // main-tube jobs on all servers
	PerSub   map[int64]int64      // channel + retry jobs per subscription
	Channels int64                // sum of PerSub
	Reserved int64                // jobs a consumer holds right now (in any tube)
	Tubes    map[string]TubeCount // every non-empty tube, for diagnosis
}

// TubeCount is what one tube held at the census.
type TubeCount struct {
	Ready, Reserved, Delayed, Buried int64
}

// TakeCensus reads stats-tube of the main tube and of every channel and
// retry tube of plan on every server, pipelined.
func TakeCensus(ctx context.Context, servers []string, mainTube, prefix string, plan *Plan) (Census, error) {
	c := Census{PerSub: make(map[int64]int64, len(plan.Subs)), Tubes: map[string]TubeCount{}}
	type q struct {
		sub int64
		r   bstalk.Request
	}
	for _, addr := range servers {
		conn, err := bstalk.Dial(addr, 5*time.Second)
		if err != nil {
			return c, fmt.Errorf("census: %w", err)
		}
		reqs := make([]q, 0, 1+2*len(plan.Subs))
		reqs = append(reqs, q{r: bstalk.Request{Op: bstalk.OpStatsTube, Tube: mainTube}})
		for _, s := range plan.Subs {
			reqs = append(reqs,
				q{sub: s.ID, r: bstalk.Request{Op: bstalk.OpStatsTube, Tube: s.ChannelTube(prefix)}},
				q{sub: s.ID, r: bstalk.Request{Op: bstalk.OpStatsTube, Tube: s.RetryTube(prefix)}})
		}
		for i := range reqs {
			conn.Send(&reqs[i].r)
		}
		var firstErr error
		for i := range reqs {
			err := reqs[i].r.Wait()
			if errors.Is(err, bstalk.ErrNotFound) {
				continue
			}
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("census: stats-tube %s on %s: %w", reqs[i].r.Tube, addr, err)
				}
				continue
			}
			st := reqs[i].r.Stats
			n := st.InQueue()
			c.Reserved += st.Reserved
			if n > 0 {
				tc := c.Tubes[addr+" "+reqs[i].r.Tube]
				tc.Ready += st.Ready
				tc.Reserved += st.Reserved
				tc.Delayed += st.Delayed
				tc.Buried += st.Buried
				c.Tubes[addr+" "+reqs[i].r.Tube] = tc
			}
			if reqs[i].sub == 0 {
				c.Main += n
			} else {
				c.PerSub[reqs[i].sub] += n
				c.Channels += n
			}
		}
		_ = conn.Close()
		if firstErr != nil {
			return c, firstErr
		}
		if err := ctx.Err(); err != nil {
			return c, err
		}
	}
	return c, nil
}
