package bench

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/farm"
)

// A class with a capacity (farm.Profile.OverloadAt, SlowAt) is a
// subscriber that turns pushes away beyond a number in flight. What the
// daemon does about it is read from its /metrics over the run's steady
// phase, once a second: its pushes to the class's subscriptions and their
// failures by kind (counters: the difference from the first scrape to the
// last), and its push window for them (a gauge: every sample).

// The daemons' push window of a subscription (labels sub, topic, lane),
// and the failure kinds that an overloaded subscriber causes.
const (
	metricPushWindow   = "medispatcher_push_window"
	failureKindStatus  = "http_status" // any answer status but 200: the farm's 503s
	failureKindTimeout = "timeout"
	overloadInterval   = time.Second
)

// overloadWatch samples the daemons' series of every class with a capacity
// over a run's steady phase.
type overloadWatch struct {
	ctx     context.Context
	env     *Env
	farm    *farm.Farm
	steady  time.Duration
	classes []*classWatch
	stop    chan struct{}

	mu      sync.Mutex
	stopped bool
	running sync.WaitGroup
}

// classWatch is what an overloadWatch keeps of one class.
type classWatch struct {
	idx         int // the farm's class number
	profile     farm.Profile
	concurrency int
	subs        map[string]bool // set at the steady phase's start
	first, last overloadSample
	windows     map[string][]float64 // lane → one value per sample
}

// overloadSample is one scrape of a class's series.
type overloadSample struct {
	ok                         bool
	at                         time.Time
	pushes, rejected, timeouts float64
	// window is the push window per lane: summed over the daemons,
	// averaged over the class's subscriptions; no entry for a lane
	// without a series.
	window                map[string]float64
	delivered, overloaded int64 // the farm's first deliveries and 503s
}

// hasCapacity reports whether a class of classes has a capacity.
func hasCapacity(classes []loadgen.Class) bool {
	for _, c := range classes {
		if c.HasCapacity() {
			return true
		}
	}
	return false
}

// watchOverloads samples the classes of cfg with a capacity from the
// start of the run's steady phase (cfg.OnSteady, which it chains) to its
// end.
func watchOverloads(ctx context.Context, env *Env, f *farm.Farm, cfg *loadgen.Config) *overloadWatch {
	w := &overloadWatch{ctx: ctx, env: env, farm: f, steady: cfg.Duration, stop: make(chan struct{})}
	for _, c := range cfg.Classes {
		if c.HasCapacity() {
			w.classes = append(w.classes, &classWatch{idx: f.ClassIndex(c.Name), profile: c.Profile,
				concurrency: c.Concurrency, windows: map[string][]float64{}})
		}
	}
	prev := cfg.OnSteady
	cfg.OnSteady = func() {
		if prev != nil {
			go prev()
		}
		w.sample()
	}
	return w
}

// sample scrapes at once and every overloadInterval until the steady
// phase is over or the watch is finished.
func (w *overloadWatch) sample() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.running.Add(1)
	w.mu.Unlock()
	defer w.running.Done()

	for _, c := range w.classes {
		c.subs = classSubs(w.farm, c.idx)
	}
	end := time.NewTimer(w.steady)
	defer end.Stop()
	tick := time.NewTicker(overloadInterval)
	defer tick.Stop()
	w.scrape()
	for {
		select {
		case <-tick.C:
			w.scrape()
		case <-end.C:
			w.scrape()
			return
		case <-w.stop:
			return
		case <-w.ctx.Done():
			return
		}
	}
}

// scrape reads every daemon's /metrics once and records a sample of each
// class; a scrape that cannot read them all records nothing.
func (w *overloadWatch) scrape() {
	texts := make([][]byte, 0, len(w.env.Daemons))
	for _, d := range w.env.Daemons {
		var buf bytes.Buffer
		if err := httpGet(w.ctx, "http://"+d.PromAddr+"/metrics", &buf); err != nil {
			return
		}
		texts = append(texts, buf.Bytes())
	}
	at := time.Now()
	for _, c := range w.classes {
		s := parseOverload(texts, c.subs)
		s.at = at
		s.delivered, s.overloaded = farmCounts(w.farm, c.subs)
		c.record(s)
	}
}

// record keeps s as the latest sample, the first if it is, and its
// windows.
func (c *classWatch) record(s overloadSample) {
	if !c.first.ok {
		c.first = s
	}
	c.last = s
	for lane, v := range s.window {
		c.windows[lane] = append(c.windows[lane], v)
	}
}

// parseOverload sums, over the expositions of the daemons, the push
// counters and failures of subs, and their push windows per lane.
func parseOverload(texts [][]byte, subs map[string]bool) overloadSample {
	s := overloadSample{ok: true, window: map[string]float64{}}
	win := map[string]map[string]float64{} // lane → sub → window summed over the daemons
	for _, t := range texts {
		eachSubSeries(bytes.NewReader(t), subs, func(name, labels string, v float64) {
			switch name {
			case metricPushes:
				s.pushes += v
			case metricPushFailures:
				switch labelValue(labels, "kind") {
				case failureKindStatus:
					s.rejected += v
				case failureKindTimeout:
					s.timeouts += v
				}
			case metricPushWindow:
				lane := labelValue(labels, "lane")
				if win[lane] == nil {
					win[lane] = map[string]float64{}
				}
				win[lane][labelValue(labels, "sub")] += v
			}
		})
	}
	for lane, bySub := range win {
		sum := 0.0
		for _, v := range bySub {
			sum += v
		}
		s.window[lane] = sum / float64(len(bySub))
	}
	return s
}

// farmCounts sums the farm's first deliveries to subs and its 503s to
// them for being overloaded.
func farmCounts(f *farm.Farm, subs map[string]bool) (delivered, overloaded int64) {
	for _, id := range f.SubIDs() {
		if !subs[strconv.FormatInt(id, 10)] {
			continue
		}
		if sc, ok := f.Count(id, 0, nil); ok {
			delivered += sc.Delivered
			overloaded += sc.Overloaded
		}
	}
	return delivered, overloaded
}

// finish stops the sampling and returns the figures of every class.
func (w *overloadWatch) finish() []OverloadFigures {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	close(w.stop)
	w.running.Wait()
	out := make([]OverloadFigures, 0, len(w.classes))
	for _, c := range w.classes {
		out = append(out, c.figures())
	}
	return out
}
