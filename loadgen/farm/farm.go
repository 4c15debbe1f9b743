// Package farm is the fake subscriber farm of the load generator: fasthttp
// servers on loopback that answer the pushes of medispatcher like the old
// daemon's subscribers do ({"status":1}), with per-class behaviour
// (latency distribution, error ratio and kind, dead, rate-limited, down
// for a while, overloaded beyond a number of pushes in flight), and
// record every arrival: which (subscription, seq) arrived, how often, and
// how late against the message's scheduled send time.
//
// A subscription's URL is /s/<id>?class=<name>&topic=<index>, so the farm
// needs no registration and also serves subscriptions it did not create
// (`loadgen farm`). It listens on loopback only and must never become the
// bottleneck of a benchmark: no allocation and no shared lock per push.
package farm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Latency histograms hold microseconds from 1 µs to 10 minutes.
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
	histShards = 8
)

// Config of a Farm. Zero values take the defaults.
type Config struct {
	Addr     string    // listen address; default "127.0.0.1:0"
	Profiles []Profile // one per class; the first is used for unknown class names
	MaxSubs  int       // highest subscription id served; default 1<<16
	MaxSeq   uint64    // highest seq accepted per subscription; default 1<<28
	Logger   *slog.Logger
}

// Farm is a running set of fake subscribers.
type Farm struct {
	cfg      Config
	log      *slog.Logger
	ln       net.Listener
	srv      *fasthttp.Server
	done     chan struct{}
	deadAddr string
	serving  sync.WaitGroup // Serve of each outage class's port

	outageMu       sync.Mutex
	outagesStarted bool
	closing        bool
	edges          chan Edge

	classes []*class
	subs    []atomic.Pointer[subState]

	winFrom, winTo atomic.Int64 // scheduled-time window whose latencies count
	gateClosed     atomic.Bool
	active         atomic.Int64

	arrivals  atomic.Int64 // every push that reached the handler
	delivered atomic.Int64 // first successful answer per (sub, seq)
	dups      atomic.Int64
	failed    atomic.Int64 // pushes answered with a failure on purpose
	probes    atomic.Int64
	malformed atomic.Int64
	late      atomic.Int64 // answered 503 after the gate closed

	probeCh chan struct{} // a subscription received its first probe

	waitMu  sync.Mutex
	waitMin atomic.Int64 // smallest delivered count a waiter wants
	waiters []waiter

	tickMu   sync.Mutex
	tickHist *hdrhistogram.Histogram
	lastDel  int64
}

type waiter struct {
	n  int64
	ch chan struct{}
}

type class struct {
	p      Profile
	idx    int
	shards [histShards]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
		_  [40]byte // keep shards on their own cache lines
	}
	cum *hdrhistogram.Histogram // merged at each Tick; owned by tickMu
	out *outage                 // nil unless the class has an outage
}

type subState struct {
	id    int64
	topic int
	class *class

	mu        sync.Mutex
	bits      []uint64
	delivered int64
	dups      int64
	failed    int64
	retries   int64
	probes    int64
	tokens    float64
	last      int64 // unix ns of the last arrival (token bucket)
	overLimit int64
	// inflight is the message pushes being answered now, overloaded
	// those answered 503 for finding too many (Profile.OverloadAt).
	inflight   atomic.Int64
	overloaded int64
}

// New validates cfg, listens and starts serving.
func New(cfg Config) (*Farm, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if len(cfg.Profiles) == 0 {
		cfg.Profiles = []Profile{{Name: "default"}}
	}
	if cfg.MaxSubs <= 0 {
		cfg.MaxSubs = 1 << 16
	}
	if cfg.MaxSeq == 0 {
		cfg.MaxSeq = 1 << 28
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Farm{cfg: cfg, log: cfg.Logger, done: make(chan struct{}),
		subs:     make([]atomic.Pointer[subState], cfg.MaxSubs+1),
		tickHist: hdrhistogram.New(histMin, histMax, histDigits), probeCh: make(chan struct{}, 1)}
	f.waitMin.Store(math.MaxInt64)
	seen := map[string]bool{}
	for i := range cfg.Profiles {
		p := cfg.Profiles[i]
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("farm: profile %q defined twice", p.Name)
		}
		seen[p.Name] = true
		c := &class{p: p, idx: i, cum: hdrhistogram.New(histMin, histMax, histDigits)}
		for s := range c.shards {
			c.shards[s].h = hdrhistogram.New(histMin, histMax, histDigits)
		}
		f.classes = append(f.classes, c)
	}
	f.winTo.Store(math.MaxInt64)
	f.edges = make(chan Edge, 2*len(f.classes))

	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("farm: listen address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("farm: listen address %q is not loopback", cfg.Addr)
	}
	// A dead subscriber is a port that refuses connections: take a free
	// port and give it back.
	dl, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("farm: probe dead port: %w", err)
	}
	f.deadAddr = dl.Addr().String()
	_ = dl.Close()

	f.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("farm: listen %s: %w", cfg.Addr, err)
	}
	f.srv = &fasthttp.Server{
		Handler:               f.handle,
		Name:                  "loadgen-farm",
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
		NoDefaultContentType:  true,
		ReadTimeout:           time.Minute,
		IdleTimeout:           time.Minute,
		ConnState:             connState,
	}
	go func() {
		defer close(f.done)
		f.serve(f.ln)
	}()
	if err := f.listenOutages(host); err != nil {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.Close(c)
		return nil, err
	}
	return f, nil
}

func (f *Farm) serve(ln net.Listener) {
	if err := f.srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		f.log.Error("farm serve", "err", err)
	}
}

// listenOutages gives every class with an outage a port of its own on
// host, which it can take down without touching the other classes'.
func (f *Farm) listenOutages(host string) error {
	for _, c := range f.classes {
		if !c.p.HasOutage() {
			continue
		}
		ln, err := listenFlip(host)
		if err != nil {
			return err
		}
		c.out = &outage{ln: ln}
		f.serving.Add(1)
		go func() {
			defer f.serving.Done()
			f.serve(ln)
		}()
	}
	return nil
}

// Addr is the farm's listen address.
func (f *Farm) Addr() string { return f.ln.Addr().String() }

// Classes returns the validated profiles, index = class number.
func (f *Farm) Classes() []Profile {
	out := make([]Profile, len(f.classes))
	for i, c := range f.classes {
		out[i] = c.p
	}
	return out
}

// ClassIndex returns the class number of name, or -1.
func (f *Farm) ClassIndex(name string) int {
	for i, c := range f.classes {
		if c.p.Name == name {
			return i
		}
	}
	return -1
}

// URL is the push URL of subscription id of topic index topic in class.
func (f *Farm) URL(id int64, topic, class int) string {
	addr := f.Addr()
	switch c := f.classes[class]; {
	case c.p.Dead:
		addr = f.deadAddr
	case c.out != nil:
		addr = c.out.ln.addr
	}
	return fmt.Sprintf("http://%s/s/%d?class=%s&topic=%d", addr, id, f.classes[class].p.Name, topic)
}

// SetWindow restricts latency recording to messages scheduled in
// [from, to) (unix ns): warm-up and drain traffic is counted but not timed.
// A run sets it as its producer starts, so its first call is the run's
// start as the farm knows it: the outages (Profile.Outage) count from it.
func (f *Farm) SetWindow(from, to int64) {
	f.winFrom.Store(from)
	f.winTo.Store(to)
	f.startOutages(time.Now())
}

// CloseGate makes every later push fail with 503 and go uncounted, so the
// queues and the farm's counts can be read as one consistent cut.
func (f *Farm) CloseGate() { f.gateClosed.Store(true) }

// OpenGate undoes CloseGate: pushes are answered and counted again (a run
// is over, and its farm keeps serving a daemon that is still up).
func (f *Farm) OpenGate() { f.gateClosed.Store(false) }

// Active is the number of pushes being answered right now.
func (f *Farm) Active() int64 { return f.active.Load() }

// Close stops serving within ctx.
func (f *Farm) Close(ctx context.Context) error {
	f.stopOutages()
	err := f.srv.ShutdownWithContext(ctx)
	// Shutdown only closes listeners Serve has registered; closing ours
	// too covers a Close that races with the start of Serve.
	_ = f.ln.Close()
	for _, c := range f.classes {
		if c.out != nil {
			_ = c.out.ln.Close()
		}
	}
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	f.serving.Wait()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("farm: shutdown: %w", err)
	}
	return nil
}

var (
	pathPrefix = []byte("/s/")
	okBody     = []byte(`{"status":1}`)
	failBody   = []byte(`{"status":0}`)
)

// handle answers one push: 503 once the gate is closed, 404/400 for a push
// it cannot read, at once for a probe, 503 at once beyond the class's
// capacity, otherwise after the class's latency (longer beyond its slow_at)
// with a failure (at the class's error ratio) or {"status":1}, recording
// the first delivery of each (subscription, seq) and its latency.
func (f *Farm) handle(ctx *fasthttp.RequestCtx) {
	f.active.Add(1)
	defer f.active.Add(-1)
	arrival := time.Now().UnixNano()
	f.arrivals.Add(1)
	if f.gateClosed.Load() {
		f.late.Add(1)
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	st, seq, ts, ok := f.read(ctx)
	if !ok {
		return
	}
	if o := st.class.out; o != nil && o.ln.isDown.Load() {
		refuse(ctx)
		return
	}
	p := &st.class.p
	st.arrive(arrival, p, ctx.QueryArgs().GetUintOrZero("retry_times") > 0)
	if ts == 0 { // a probe: the subscription is known to the daemon
		f.probed(st)
		answerOK(ctx)
		return
	}
	n := st.inflight.Add(1)
	defer st.inflight.Add(-1)
	if p.overloaded(n) {
		f.turnAway(ctx, st)
		return
	}
	if d := p.Latency.Sample(rand.Float64()) + p.slowdown(n); d > 0 {
		time.Sleep(d)
	}
	if p.ErrorRatio > 0 && rand.Float64() < p.ErrorRatio {
		f.fail(ctx, st, p)
		return
	}
	f.deliver(st, seq, ts, arrival)
	answerOK(ctx)
}

// read finds the push's subscription and its message's seq and ts; a push
// it cannot read is answered (404 or 400), counted malformed, and not ok.
func (f *Farm) read(ctx *fasthttp.RequestCtx) (st *subState, seq uint64, ts int64, ok bool) {
	if st = f.sub(ctx); st == nil {
		f.malformed.Add(1)
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return nil, 0, 0, false
	}
	seq, ts, ok = ScanSeqTS(ctx.PostArgs().Peek("message"))
	if !ok || seq > f.cfg.MaxSeq {
		f.malformed.Add(1)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return nil, 0, 0, false
	}
	return st, seq, ts, true
}

// refuse answers a push that reached a class's port as it went down, and
// closes its connection: the push is not counted.
func refuse(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
}

func answerOK(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.SetBodyRaw(okBody)
}

// arrive counts a retry and runs the class's token bucket.
func (s *subState) arrive(now int64, p *Profile, retry bool) {
	s.mu.Lock()
	if retry {
		s.retries++
	}
	if p.RateLimit > 0 {
		s.rateCheck(now, p.RateLimit, p.Burst)
	}
	s.mu.Unlock()
}

// probed counts a probe and signals a subscription's first one.
func (f *Farm) probed(st *subState) {
	st.mu.Lock()
	st.probes++
	first := st.probes == 1
	st.mu.Unlock()
	f.probes.Add(1)
	if first {
		select {
		case f.probeCh <- struct{}{}:
		default:
		}
	}
}

// fail answers with the class's failure kind: a 500, {"status":0}, or
// {"status":0} after hanging for the class's Hang.
func (f *Farm) fail(ctx *fasthttp.RequestCtx, st *subState, p *Profile) {
	st.mu.Lock()
	st.failed++
	st.mu.Unlock()
	f.failed.Add(1)
	switch p.ErrorKind {
	case ErrStatus0:
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.Response.SetBodyRaw(failBody)
	case ErrTimeout:
		time.Sleep(p.Hang.D())
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.Response.SetBodyRaw(failBody)
	default:
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
	}
}

// deliver records seq as delivered to st (or a duplicate), wakes the
// waiters of the delivered count, and records the latency from the
// message's scheduled time ts when ts lies in the timed window.
func (f *Farm) deliver(st *subState, seq uint64, ts, arrival int64) {
	if o := st.class.out; o != nil {
		o.delivered()
	}
	st.mu.Lock()
	first := st.set(seq)
	if first {
		st.delivered++
	} else {
		st.dups++
	}
	st.mu.Unlock()
	if !first {
		f.dups.Add(1)
		return
	}
	if d := f.delivered.Add(1); d >= f.waitMin.Load() {
		f.wake(d)
	}
	if ts >= f.winFrom.Load() && ts < f.winTo.Load() {
		st.class.record((arrival-ts)/int64(time.Microsecond), st.id)
	}
}

// record adds a latency of us microseconds (clamped to the histograms'
// range) to the shard of subscription id.
func (c *class) record(us, id int64) {
	us = min(max(us, histMin), histMax)
	sh := &c.shards[uint64(id)%histShards]
	sh.mu.Lock()
	_ = sh.h.RecordValue(us)
	sh.mu.Unlock()
}

// sub finds or creates the state of the subscription named by the path.
func (f *Farm) sub(ctx *fasthttp.RequestCtx) *subState {
	path := ctx.Path()
	if !bytes.HasPrefix(path, pathPrefix) {
		return nil
	}
	rest := path[len(pathPrefix):]
	id, n := parseUint(rest, 0)
	if n == 0 || n != len(rest) || id == 0 || id >= uint64(len(f.subs)) {
		return nil
	}
	if st := f.subs[id].Load(); st != nil {
		return st
	}
	q := ctx.QueryArgs()
	ci := 0
	if name := q.Peek("class"); len(name) > 0 {
		for i, c := range f.classes {
			if c.p.Name == string(name) {
				ci = i
				break
			}
		}
	}
	st := &subState{id: int64(id), topic: q.GetUintOrZero("topic"), class: f.classes[ci]}
	if f.subs[id].CompareAndSwap(nil, st) {
		return st
	}
	return f.subs[id].Load()
}

// set marks seq; it reports whether seq was new. Caller holds mu.
func (s *subState) set(seq uint64) bool {
	w := int(seq >> 6)
	if w >= len(s.bits) {
		n := max(2*len(s.bits), w+1, 64)
		nb := make([]uint64, n)
		copy(nb, s.bits)
		s.bits = nb
	}
	m := uint64(1) << (seq & 63)
	if s.bits[w]&m != 0 {
		return false
	}
	s.bits[w] |= m
	return true
}

// rateCheck runs a token bucket over the arrivals, with a little slack for
// transit jitter: an arrival that finds the bucket empty is over the limit.
// Caller holds mu.
func (s *subState) rateCheck(now int64, rate float64, burst int) {
	limit := float64(burst) + 1
	if s.last == 0 {
		s.tokens = limit
	} else {
		s.tokens = min(limit, s.tokens+float64(now-s.last)/1e9*rate*1.05)
	}
	s.last = now
	if s.tokens >= 1 {
		s.tokens--
	} else {
		s.overLimit++
	}
}

// DeliveredAtLeast returns a channel closed once the farm has counted n
// first deliveries.
func (f *Farm) DeliveredAtLeast(n int64) <-chan struct{} {
	ch := make(chan struct{})
	f.waitMu.Lock()
	f.waiters = append(f.waiters, waiter{n: n, ch: ch})
	if n < f.waitMin.Load() {
		f.waitMin.Store(n)
	}
	f.waitMu.Unlock()
	f.wake(f.delivered.Load())
	return ch
}

func (f *Farm) wake(d int64) {
	f.waitMu.Lock()
	defer f.waitMu.Unlock()
	kept := f.waiters[:0]
	lowest := int64(math.MaxInt64)
	for _, w := range f.waiters {
		if d >= w.n {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
		lowest = min(lowest, w.n)
	}
	f.waiters = kept
	f.waitMin.Store(lowest)
}

// ProbeSeen receives a value (coalesced) whenever a subscription gets its
// first probe.
func (f *Farm) ProbeSeen() <-chan struct{} { return f.probeCh }

// Totals are the farm's counters.
type Totals struct {
	Arrivals, Delivered, Dups, Failed, Probes, Malformed, Late int64
}

// Totals returns the counters now (cheap: for live progress).
func (f *Farm) Totals() Totals {
	return Totals{
		Arrivals: f.arrivals.Load(), Delivered: f.delivered.Load(), Dups: f.dups.Load(),
		Failed: f.failed.Load(), Probes: f.probes.Load(), Malformed: f.malformed.Load(), Late: f.late.Load(),
	}
}

// Interval is what Tick saw since the previous Tick.
type Interval struct {
	Delivered int64         // first deliveries
	Timed     int64         // of which inside the latency window
	P50, P99  time.Duration // of the timed ones
	Max       time.Duration
}

// Tick folds the latencies recorded since the last Tick into the per-class
// totals and returns the interval's figures. Call it periodically (the
// time series) and once at the end (before Class).
func (f *Farm) Tick() Interval {
	f.tickMu.Lock()
	defer f.tickMu.Unlock()
	f.tickHist.Reset()
	for _, c := range f.classes {
		for i := range c.shards {
			sh := &c.shards[i]
			sh.mu.Lock()
			if sh.h.TotalCount() > 0 {
				c.cum.Merge(sh.h)
				f.tickHist.Merge(sh.h)
				sh.h.Reset()
			}
			sh.mu.Unlock()
		}
	}
	del := f.delivered.Load()
	iv := Interval{Delivered: del - f.lastDel, Timed: f.tickHist.TotalCount()}
	f.lastDel = del
	if iv.Timed > 0 {
		iv.P50 = time.Duration(f.tickHist.ValueAtQuantile(50)) * time.Microsecond
		iv.P99 = time.Duration(f.tickHist.ValueAtQuantile(99)) * time.Microsecond
		iv.Max = time.Duration(f.tickHist.Max()) * time.Microsecond
	}
	return iv
}

// ClassLatency returns a copy of class's latency histogram (µs) as of the
// last Tick.
func (f *Farm) ClassLatency(class int) *hdrhistogram.Histogram {
	f.tickMu.Lock()
	defer f.tickMu.Unlock()
	h := hdrhistogram.New(histMin, histMax, histDigits)
	h.Merge(f.classes[class].cum)
	return h
}

// SubCounts are one subscription's records.
type SubCounts struct {
	ID                                       int64
	Topic, Class                             int
	Delivered, Dups, Failed, Retries, Probes int64
	OverLimit                                int64
	Overloaded                               int64 // answered 503 beyond the class's capacity
	InSet, Outside                           int64 // see Farm.Count
}

// Count returns subscription id's records; InSet counts the delivered seqs
// below n that are not in skip (sorted), Outside the other delivered seqs
// (messages the producer does not know it sent). ok is false if the farm
// never heard of id.
func (f *Farm) Count(id int64, n uint64, skip []uint64) (SubCounts, bool) {
	if id <= 0 || id >= int64(len(f.subs)) {
		return SubCounts{}, false
	}
	st := f.subs[id].Load()
	if st == nil {
		return SubCounts{ID: id}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	sc := SubCounts{ID: id, Topic: st.topic, Class: st.class.idx, Delivered: st.delivered, Dups: st.dups,
		Failed: st.failed, Retries: st.retries, Probes: st.probes, OverLimit: st.overLimit, Overloaded: st.overloaded}
	in := popcountBelow(st.bits, n)
	for _, s := range skip {
		if s < n && s>>6 < uint64(len(st.bits)) && st.bits[s>>6]&(1<<(s&63)) != 0 {
			in--
		}
	}
	sc.InSet = in
	sc.Outside = st.delivered - in
	return sc, true
}

// SubIDs returns the ids of every subscription the farm has seen.
func (f *Farm) SubIDs() []int64 {
	var ids []int64
	for i := range f.subs {
		if f.subs[i].Load() != nil {
			ids = append(ids, int64(i))
		}
	}
	return ids
}

// Probed reports whether subscription id has received a probe.
func (f *Farm) Probed(id int64) bool {
	if id <= 0 || id >= int64(len(f.subs)) {
		return false
	}
	st := f.subs[id].Load()
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.probes > 0
}

func popcountBelow(b []uint64, n uint64) int64 {
	var c int64
	full := n >> 6
	for i := uint64(0); i < full && i < uint64(len(b)); i++ {
		c += int64(bits.OnesCount64(b[i]))
	}
	if r := n & 63; r != 0 && full < uint64(len(b)) {
		c += int64(bits.OnesCount64(b[full] & (1<<r - 1)))
	}
	return c
}
