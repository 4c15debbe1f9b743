// Package backlog samples the job counts of the tubes medispatcher uses
// (stats-tube on every server) in the background, for metrics, alerts, the
// admin API and the status page.
//
// Its cost is bounded by a request budget, not by the number of tubes: a
// sweep over all tubes issues at most Rate stats-tube requests per second,
// so with thousands of subscriptions a sweep takes longer instead of
// loading beanstalkd more. It must never sit on a hot path: readers get the
// last sample, never a fresh request.
package backlog

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/connpool"
)

// Counts are the jobs of one tube in each state.
type Counts struct {
	Ready    int64 `json:"ready"`
	Delayed  int64 `json:"delayed"`
	Reserved int64 `json:"reserved"`
	Buried   int64 `json:"buried"`
}

func (c *Counts) add(o Counts) {
	c.Ready += o.Ready
	c.Delayed += o.Delayed
	c.Reserved += o.Reserved
	c.Buried += o.Buried
}

// Sample is the last measurement of one tube.
type Sample struct {
	Sum       Counts    // over all servers that answered
	PerServer []Counts  // by server index
	Time      time.Time // when the last server of this tube answered
	Asked     time.Time // when the first request for it was sent: the counts include every change beanstalkd had applied by then
	Missing   int       // servers that did not answer in the last sweep
}

// Tube is one tube to sample and how it is exported.
type Tube struct {
	Name string
	// Labels are the Prometheus labels of its gauges, without braces (e.g.
	// `sub="7",topic="orders",lane="channel"`); "" = no gauges.
	Labels string
	// PerServer also exports a gauge per server (the main tube).
	PerServer bool
}

// Options tune a Sampler.
type Options struct {
	// Rate is the stats-tube requests per second over all servers; 0 = 1000
	// (measured: about 6 µs of beanstalkd CPU each, so 0.6 % of a core).
	Rate int
	// MinCycle is the shortest time between the starts of two sweeps;
	// 0 = 5 s.
	MinCycle time.Duration
	// Tubes lists what to sample; it is asked at the start of each sweep.
	Tubes func() []Tube
	// OnSweep is called after each full sweep (alerts read it).
	OnSweep func()
	Log     *slog.Logger
}

// Sampler keeps the last sample of every tube.
type Sampler struct {
	pool *connpool.Pool
	opts Options

	mu      sync.RWMutex
	samples map[string]*Sample
	gauges  map[string][]string // tube → gauge names, to unregister
	sweeps  uint64
	last    time.Time

	requests *metrics.Counter
	errs     *metrics.Counter
	sweepDur *metrics.Histogram
}

// New returns a sampler; it samples nothing before Run.
func New(pool *connpool.Pool, opts Options) *Sampler {
	if opts.Rate <= 0 {
		opts.Rate = 1000
	}
	if opts.MinCycle <= 0 {
		opts.MinCycle = 5 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Tubes == nil {
		opts.Tubes = func() []Tube { return nil }
	}
	return &Sampler{
		pool:     pool,
		opts:     opts,
		samples:  map[string]*Sample{},
		gauges:   map[string][]string{},
		requests: metrics.GetOrCreateCounter(`medispatcher_backlog_sample_requests_total`),
		errs:     metrics.GetOrCreateCounter(`medispatcher_backlog_sample_errors_total`),
		sweepDur: metrics.GetOrCreateHistogram(`medispatcher_backlog_sweep_duration_seconds`),
	}
}

// SetOnSweep sets Options.OnSweep; call it before Run (the callback may
// need the sampler itself).
func (s *Sampler) SetOnSweep(f func()) { s.opts.OnSweep = f }

// Get returns the last sample of tube; ok is false before its first.
func (s *Sampler) Get(tube string) (Sample, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.samples[tube]
	if p == nil {
		return Sample{}, false
	}
	return *p, true
}

// Sweeps returns the number of finished sweeps and when the last ended.
func (s *Sampler) Sweeps() (uint64, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sweeps, s.last
}

// Run sweeps until ctx ends; then the gauges go (a later sampler in the
// same process registers its own).
func (s *Sampler) Run(ctx context.Context) {
	defer s.forget(nil)
	for {
		start := time.Now()
		s.sweep(ctx)
		if ctx.Err() != nil {
			return
		}
		s.sweepDur.UpdateDuration(start)
		if s.opts.OnSweep != nil {
			s.opts.OnSweep()
		}
		t := time.NewTimer(time.Until(start.Add(s.opts.MinCycle)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// tick is the pacing step: each tick issues Rate/ticksPerSecond requests
// concurrently (they pipeline on the pool's command links) and waits for
// them, so the budget holds even when beanstalkd answers fast.
const ticksPerSecond = 10

func (s *Sampler) sweep(ctx context.Context) {
	tubes := s.opts.Tubes()
	s.forget(tubes)
	nsrv := len(s.pool.Servers())
	per := max(1, s.opts.Rate/ticksPerSecond)
	tick := time.NewTicker(time.Second / ticksPerSecond)
	defer tick.Stop()

	type job struct {
		tube   int
		server int
	}
	results := make([][]Counts, len(tubes))
	answered := make([][]bool, len(tubes))
	asked := make([]time.Time, len(tubes))
	for i := range tubes {
		results[i] = make([]Counts, nsrv)
		answered[i] = make([]bool, nsrv)
	}
	var batch []job
	flush := func() {
		now := time.Now()
		for _, j := range batch {
			if asked[j.tube].IsZero() {
				asked[j.tube] = now
			}
		}
		var wg sync.WaitGroup
		for _, j := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := s.statsTube(ctx, j.server, tubes[j.tube].Name)
				if err == nil {
					results[j.tube][j.server] = c
					answered[j.tube][j.server] = true
				}
			}()
		}
		wg.Wait()
		// A tube is complete once its last server was asked.
		for _, j := range batch {
			if j.server == nsrv-1 {
				s.store(tubes[j.tube], results[j.tube], answered[j.tube], asked[j.tube])
			}
		}
		batch = batch[:0]
	}
	for i := range tubes {
		for srv := 0; srv < nsrv; srv++ {
			batch = append(batch, job{i, srv})
			if len(batch) < per {
				continue
			}
			flush()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	flush()
	s.mu.Lock()
	s.sweeps++
	s.last = time.Now()
	s.mu.Unlock()
}

func (s *Sampler) statsTube(ctx context.Context, server int, tube string) (Counts, error) {
	s.requests.Inc()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := s.pool.StatsTube(ctx, server, tube)
	switch {
	case errors.Is(err, connpool.ErrNotFound):
		return Counts{}, nil // no such tube on that server: nothing in it
	case err != nil:
		s.errs.Inc()
		s.opts.Log.Debug("backlog sample failed", "tube", tube, "server", server, "err", err)
		return Counts{}, err
	}
	return Counts{Ready: st.Ready, Delayed: st.Delayed, Reserved: st.Reserved, Buried: st.Buried}, nil
}

func (s *Sampler) store(t Tube, per []Counts, answered []bool, asked time.Time) {
	smp := &Sample{PerServer: append([]Counts(nil), per...), Time: time.Now(), Asked: asked}
	for i, c := range per {
		if answered[i] {
			smp.Sum.add(c)
		} else {
			smp.Missing++
		}
	}
	s.mu.Lock()
	s.samples[t.Name] = smp
	_, known := s.gauges[t.Name]
	if !known {
		s.gauges[t.Name] = nil
	}
	s.mu.Unlock()
	if !known && t.Labels != "" {
		s.register(t, len(per))
	}
}

var states = [...]struct {
	name string
	get  func(*Counts) int64
}{
	{"ready", func(c *Counts) int64 { return c.Ready }},
	{"delayed", func(c *Counts) int64 { return c.Delayed }},
	{"reserved", func(c *Counts) int64 { return c.Reserved }},
	{"buried", func(c *Counts) int64 { return c.Buried }},
}

// register creates the gauges of a tube seen for the first time; they read
// the last sample when scraped.
func (s *Sampler) register(t Tube, nsrv int) {
	var names []string
	gauge := func(name string, read func() float64) {
		metrics.GetOrCreateGauge(name, read)
		names = append(names, name)
	}
	for _, st := range states {
		gauge(`medispatcher_backlog_jobs{`+t.Labels+`,state="`+st.name+`"}`, func() float64 {
			smp, _ := s.Get(t.Name)
			return float64(st.get(&smp.Sum))
		})
		if !t.PerServer {
			continue
		}
		for srv := 0; srv < nsrv; srv++ {
			addr := s.pool.Servers()[srv]
			gauge(`medispatcher_backlog_jobs_by_server{`+t.Labels+`,server=`+strconv.Quote(addr)+`,state="`+st.name+`"}`, func() float64 {
				smp, _ := s.Get(t.Name)
				if srv >= len(smp.PerServer) {
					return 0
				}
				return float64(st.get(&smp.PerServer[srv]))
			})
		}
	}
	s.mu.Lock()
	s.gauges[t.Name] = names
	s.mu.Unlock()
}

// forget drops the samples and gauges of tubes no longer listed (a
// cancelled subscription).
func (s *Sampler) forget(tubes []Tube) {
	keep := make(map[string]bool, len(tubes))
	for _, t := range tubes {
		keep[t.Name] = true
	}
	var drop []string
	s.mu.Lock()
	for name, gs := range s.gauges {
		if !keep[name] {
			drop = append(drop, gs...)
			delete(s.gauges, name)
			delete(s.samples, name)
		}
	}
	s.mu.Unlock()
	for _, g := range drop {
		metrics.UnregisterMetric(g)
	}
}
