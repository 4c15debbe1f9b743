package connpool

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a set of pipelined links to every server in Config.Addrs.
type Pool struct {
	cfg  Config
	base time.Time // monotonic origin of request times
	reqs sync.Pool // *request

	servers []*server
	rr      atomic.Uint64 // rotation of puts without a preferred server
	closed  atomic.Bool
	wg      sync.WaitGroup

	mu        sync.Mutex
	consumers map[*Consumer]struct{}
}

// server is one beanstalkd and its command links.
type server struct {
	addr string
	cmd  []*link
	rr   atomic.Uint64
}

// New validates cfg and starts the links. A server that is down is not an
// error: its links keep reconnecting in the background. New returns once
// every command link's first connection attempt settled (connected and
// answered, or failed), or when ctx is done, so that a Put right after New
// finds the servers that are up.
func New(ctx context.Context, cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:       cfg,
		base:      time.Now(),
		consumers: make(map[*Consumer]struct{}),
	}
	p.reqs.New = func() any { return &request{done: make(chan struct{}, 1)} }
	for i, addr := range cfg.Addrs {
		s := &server{addr: addr}
		for range cfg.CmdConns {
			s.cmd = append(s.cmd, newLink(p, nil, i, "cmd"))
		}
		p.servers = append(p.servers, s)
	}
	for _, s := range p.servers {
		for _, l := range s.cmd {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				l.run()
			}()
		}
	}
	for _, s := range p.servers {
		for _, l := range s.cmd {
			select {
			case <-l.settled:
			case <-ctx.Done():
				return p, nil
			}
		}
	}
	return p, nil
}

// now is the time in ns since p.base (monotonic).
func (p *Pool) now() int64 { return int64(time.Since(p.base)) }

// at converts a time from now() to a deadline; 0 means none.
func (p *Pool) at(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return p.base.Add(time.Duration(t))
}

func (p *Pool) getReq() *request { return p.reqs.Get().(*request) }

func (p *Pool) putReq(r *request) {
	r.reset()
	p.reqs.Put(r)
}

// Close stops every link; pending requests fail with ErrClosed.
func (p *Pool) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	for _, c := range p.consumerList() {
		c.closeLinks()
	}
	for _, s := range p.servers {
		for _, l := range s.cmd {
			l.close()
		}
	}
	p.wg.Wait()
	return nil
}

// consumerList returns the live consumers (a copy: callers act on them
// without holding p.mu).
func (p *Pool) consumerList() []*Consumer {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := make([]*Consumer, 0, len(p.consumers))
	for c := range p.consumers {
		cs = append(cs, c)
	}
	return cs
}

// Servers returns Config.Addrs.
func (p *Pool) Servers() []string { return append([]string(nil), p.cfg.Addrs...) }

// Healthy reports whether server has at least one connected command link.
func (p *Pool) Healthy(server int) bool {
	return server >= 0 && server < len(p.servers) && p.servers[server].pick() != nil
}

// Stats returns one entry per link, consumers' links included.
func (p *Pool) Stats() []LinkStats {
	var out []LinkStats
	for _, s := range p.servers {
		for _, l := range s.cmd {
			out = append(out, l.stats())
		}
	}
	for _, c := range p.consumerList() {
		for _, l := range c.links {
			out = append(out, l.stats())
		}
	}
	return out
}

// pick returns a connected command link of s in rotation, nil if none.
func (s *server) pick() *link {
	n := uint64(len(s.cmd))
	i := s.rr.Add(1)
	for j := uint64(0); j < n; j++ {
		if l := s.cmd[(i+j)%n]; l.up.Load() {
			return l
		}
	}
	return nil
}

// Put puts body into tube. prefer >= 0 tries that server first and falls
// back to other healthy servers when it is unavailable; prefer < 0 spreads
// puts over healthy servers. A put that failed on a connection error is
// retried once on another server only when it is certain the first did
// not take it (the request was never written).
func (p *Pool) Put(ctx context.Context, prefer int, tube string, body []byte, pri uint32, delay, ttr time.Duration) (PutResult, error) {
	if err := checkTube(tube); err != nil {
		return PutResult{Server: -1}, fmt.Errorf("put to %q: %w", tube, err)
	}
	if p.closed.Load() {
		return PutResult{Server: -1}, fmt.Errorf("put to %s: %w", tube, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return PutResult{Server: -1}, fmt.Errorf("put to %s: %w", tube, err)
	}
	n := len(p.servers)
	start := prefer
	if prefer < 0 || prefer >= n {
		start = int(p.rr.Add(1) % uint64(n))
	}
	retried := false
	for i := 0; i < n; i++ {
		si := (start + i) % n
		l := p.servers[si].pick()
		if l == nil {
			continue
		}
		id, err := l.put(ctx, tube, body, pri, seconds(delay), ttrSeconds(ttr))
		if err == nil {
			return PutResult{Server: si, ID: id}, nil
		}
		if err == ErrUnavailable && !retried {
			// Never written: certainly not stored; one more server may take it.
			retried = true
			continue
		}
		return PutResult{Server: si, ID: id}, fmt.Errorf("put to %s on %s: %w", tube, l.addr, err)
	}
	return PutResult{Server: -1}, fmt.Errorf("put to %s: %w", tube, ErrUnavailable)
}

// put is the hot path: no allocation, one short critical section.
func (l *link) put(ctx context.Context, tube string, body []byte, pri uint32, delay, ttr uint64) (uint64, error) {
	r := l.p.getReq()
	r.op = opPut
	l.mu.Lock()
	if l.conn == nil || !l.up.Load() {
		l.mu.Unlock()
		l.p.putReq(r)
		return 0, ErrUnavailable
	}
	now := l.p.now()
	l.useLocked(tube, now)
	l.wbuf = appendPut(l.wbuf, pri, delay, ttr, body)
	l.push(r, now)
	l.mu.Unlock()
	if err := l.wait(ctx, r); err != nil {
		return 0, err
	}
	id, err := r.id, r.err
	l.p.putReq(r)
	return id, err
}

// cmdLink returns a connected command link of server.
func (p *Pool) cmdLink(server int) (*link, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if server < 0 || server >= len(p.servers) {
		return nil, fmt.Errorf("connpool: no server %d", server)
	}
	l := p.servers[server].pick()
	if l == nil {
		return nil, ErrUnavailable
	}
	return l, nil
}

// call runs one command on a command link of server and returns the
// finished request (the caller recycles it with putReq).
func (p *Pool) call(ctx context.Context, server int, o op, tube string, build func([]byte) []byte) (*request, string, error) {
	l, err := p.cmdLink(server)
	if err != nil {
		return nil, p.addr(server), err
	}
	r := p.getReq()
	r.op = o
	if err := l.do(ctx, r, tube, build); err != nil {
		if err == ErrUnavailable {
			p.putReq(r)
		}
		return nil, l.addr, err
	}
	if r.err != nil {
		err := r.err
		p.putReq(r)
		return nil, l.addr, err
	}
	return r, l.addr, nil
}

func (p *Pool) addr(server int) string {
	if server >= 0 && server < len(p.cfg.Addrs) {
		return p.cfg.Addrs[server]
	}
	return "server " + strconv.Itoa(server)
}

// Delete deletes a job that is not reserved (ready, delayed, buried).
func (p *Pool) Delete(ctx context.Context, server int, id uint64) error {
	r, addr, err := p.call(ctx, server, opDelete, "", func(b []byte) []byte { return appendID(b, "delete", id) })
	if err != nil {
		return fmt.Errorf("delete job %d on %s: %w", id, addr, err)
	}
	p.putReq(r)
	return nil
}

// KickJob kicks one buried or delayed job.
func (p *Pool) KickJob(ctx context.Context, server int, id uint64) error {
	r, addr, err := p.call(ctx, server, opKickJob, "", func(b []byte) []byte { return appendID(b, "kick-job", id) })
	if err != nil {
		return fmt.Errorf("kick job %d on %s: %w", id, addr, err)
	}
	p.putReq(r)
	return nil
}

// Kick kicks up to bound buried (or, if none, delayed) jobs of tube.
func (p *Pool) Kick(ctx context.Context, server int, tube string, bound int) (int, error) {
	if err := checkTube(tube); err != nil {
		return 0, fmt.Errorf("kick %q: %w", tube, err)
	}
	r, addr, err := p.call(ctx, server, opKick, tube, func(b []byte) []byte { return appendID(b, "kick", uint64(max(bound, 0))) })
	if err != nil {
		return 0, fmt.Errorf("kick %s on %s: %w", tube, addr, err)
	}
	n := int(r.n)
	p.putReq(r)
	return n, nil
}

// StatsTube returns stats-tube of tube; ErrNotFound when the tube does not exist.
func (p *Pool) StatsTube(ctx context.Context, server int, tube string) (TubeStats, error) {
	if err := checkTube(tube); err != nil {
		return TubeStats{}, fmt.Errorf("stats-tube %q: %w", tube, err)
	}
	r, addr, err := p.call(ctx, server, opStatsTube, "", func(b []byte) []byte { return appendWord(b, "stats-tube", tube) })
	if err != nil {
		return TubeStats{}, fmt.Errorf("stats-tube %s on %s: %w", tube, addr, err)
	}
	st := parseTubeStats(r.body)
	p.putReq(r)
	return st, nil
}

// StatsJob returns stats-job of a job.
func (p *Pool) StatsJob(ctx context.Context, server int, id uint64) (JobStats, error) {
	r, addr, err := p.call(ctx, server, opStatsJob, "", func(b []byte) []byte { return appendID(b, "stats-job", id) })
	if err != nil {
		return JobStats{}, fmt.Errorf("stats-job %d on %s: %w", id, addr, err)
	}
	st := parseJobStats(r.body)
	p.putReq(r)
	return st, nil
}

// ListTubes returns list-tubes of server.
func (p *Pool) ListTubes(ctx context.Context, server int) ([]string, error) {
	r, addr, err := p.call(ctx, server, opListTubes, "", func(b []byte) []byte { return append(b, "list-tubes\r\n"...) })
	if err != nil {
		return nil, fmt.Errorf("list-tubes on %s: %w", addr, err)
	}
	tubes := parseYAMLList(r.body)
	p.putReq(r)
	return tubes, nil
}

// Peek returns the next job of tube in state "ready", "delayed" or "buried".
func (p *Pool) Peek(ctx context.Context, server int, tube, state string) (id uint64, body []byte, err error) {
	if err := checkTube(tube); err != nil {
		return 0, nil, fmt.Errorf("peek %q: %w", tube, err)
	}
	var cmd string
	switch state {
	case "ready":
		cmd = "peek-ready\r\n"
	case "delayed":
		cmd = "peek-delayed\r\n"
	case "buried":
		cmd = "peek-buried\r\n"
	default:
		return 0, nil, fmt.Errorf("peek %s: unknown state %q", tube, state)
	}
	r, addr, err := p.call(ctx, server, opPeek, tube, func(b []byte) []byte { return append(b, cmd...) })
	if err != nil {
		return 0, nil, fmt.Errorf("peek %s %s on %s: %w", state, tube, addr, err)
	}
	id, body = r.id, r.body
	p.putReq(r)
	return id, body, nil
}
