// Package stage times where a message spends its time on the way from the
// producer to the subscriber, in always-on histograms cheap enough for
// every message: a few atomic adds, no lock, no allocation.
//
// The stages, each a duration:
//   - main_wait: in the main tube, from the producer's timestamp (the job's
//     Time) to the reserve;
//   - redist_queue: from the reserve to the redistributor taking the job;
//   - channel_wait: for a copy spilled into its channel tube, from the
//     producer's timestamp to the channel reserve (it includes main_wait and
//     redist_queue, which every message also reports on its own);
//   - slot_wait: from a copy's handover to its push worker (direct, or
//     reserved from the channel tube) to the push's start: a free push slot,
//     the token bucket, the worker's minimum interval;
//   - push: the HTTP push itself;
//   - total: from the producer's timestamp to the end of a successful first
//     push.
//
// The producer's timestamp is its wall clock: stages measured from it
// include the clock difference between producer and daemon hosts.
//
// The histograms count since the engine started (Read, WritePrometheus);
// ReadRecent reads them over about the last minute, from snapshots that
// Tick takes off the message path.
package stage

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"time"
)

// Stage names a histogram of Timings.
type Stage int

// The stages, in the order a message passes them.
const (
	MainWait Stage = iota
	RedistQueue
	ChannelWait
	SlotWait
	Push
	Total
	numStages
)

var names = [numStages]string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}

func (s Stage) String() string { return names[s] }

// Stages lists every stage in order.
func Stages() []Stage {
	out := make([]Stage, numStages)
	for i := range out {
		out[i] = Stage(i)
	}
	return out
}

// bounds are the buckets' upper bounds, a 1-2-5 series from 50 µs to
// 100 s, then +Inf.
var bounds = func() []time.Duration {
	var b []time.Duration
	for d := 10 * time.Microsecond; d <= 100*time.Second; d *= 10 {
		for _, m := range []time.Duration{1, 2, 5} {
			if v := d * m; v >= 50*time.Microsecond && v <= 100*time.Second {
				b = append(b, v)
			}
		}
	}
	return b
}()

// Histogram counts durations into fixed buckets with atomic adds.
type Histogram struct {
	counts [](atomic.Uint64) // len(bounds)+1: the last is +Inf
	sum    atomic.Int64      // ns
}

func newHistogram() *Histogram { return &Histogram{counts: make([]atomic.Uint64, len(bounds)+1)} }

// Observe counts d (negative: 0, a clock difference).
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := bucketOf(d)
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// bucketOf is the index of the first bound ≥ d (binary search).
func bucketOf(d time.Duration) int {
	lo, hi := 0, len(bounds)
	for lo < hi {
		m := (lo + hi) / 2
		if bounds[m] >= d {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// Summary is a histogram read once: its count, mean and quantiles
// (upper bounds of the bucket each falls in; 0 without observations).
type Summary struct {
	Count                     uint64
	Mean, P50, P90, P99, P999 time.Duration
}

// Read takes a Summary of h.
func (h *Histogram) Read() Summary {
	counts := make([]uint64, len(h.counts))
	sum := h.load(counts)
	return summarize(counts, sum)
}

// load copies h's bucket counts into counts (len(bounds)+1) and returns
// their sum of durations in ns. Each count is read on its own, so under
// concurrent Observe the copy may be a few observations apart from sum.
func (h *Histogram) load(counts []uint64) int64 {
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
	}
	return h.sum.Load()
}

// summarize is the Summary of bucket counts whose durations sum to sum ns.
func summarize(counts []uint64, sum int64) Summary {
	var n uint64
	for _, k := range counts {
		n += k
	}
	s := Summary{Count: n}
	if n == 0 {
		return s
	}
	s.Mean = time.Duration(sum / int64(n))
	q := func(p float64) time.Duration {
		rank := uint64(math.Ceil(p * float64(n)))
		var c uint64
		for i, k := range counts {
			c += k
			if c >= rank {
				if i == len(bounds) {
					return bounds[len(bounds)-1] // beyond the last bound
				}
				return bounds[i]
			}
		}
		return bounds[len(bounds)-1]
	}
	s.P50, s.P90, s.P99, s.P999 = q(0.50), q(0.90), q(0.99), q(0.999)
	return s
}

// Timings are the stage histograms of one engine, and the snapshots of
// their recent window (see ReadRecent).
type Timings struct {
	h      [numStages]*Histogram
	recent *recent // apart from h: ticking never writes near what Observe reads
}

// New returns empty Timings.
func New() *Timings {
	t := &Timings{recent: &recent{}}
	for i := range t.h {
		t.h[i] = newHistogram()
	}
	return t
}

// Observe counts d in stage s. A nil *Timings (timing off) counts nothing,
// here and in Since.
func (t *Timings) Observe(s Stage, d time.Duration) {
	if t != nil {
		t.h[s].Observe(d)
	}
}

// Since counts the time from the producer's timestamp (seconds since the
// epoch, as in the job's Time) to now in stage s; a job without one (0)
// counts nothing.
func (t *Timings) Since(s Stage, produced float64, now time.Time) {
	if t == nil || produced <= 0 {
		return
	}
	ns := float64(now.UnixNano()) - produced*1e9
	t.h[s].Observe(time.Duration(ns))
}

// Read takes a Summary of every stage, in order (all empty for nil).
func (t *Timings) Read() [numStages]Summary {
	var out [numStages]Summary
	if t == nil {
		return out
	}
	for i, h := range t.h {
		out[i] = h.Read()
	}
	return out
}

// WritePrometheus writes the stages as one Prometheus histogram,
// medispatcher_stage_seconds{stage="..."}.
func (t *Timings) WritePrometheus(w io.Writer) {
	if t == nil {
		return
	}
	for i, h := range t.h {
		name := names[i]
		var c uint64
		for j := range h.counts {
			c += h.counts[j].Load()
			le := "+Inf"
			if j < len(bounds) {
				le = strconv.FormatFloat(bounds[j].Seconds(), 'g', -1, 64)
			}
			fmt.Fprintf(w, "medispatcher_stage_seconds_bucket{stage=%q,le=%q} %d\n", name, le, c)
		}
		fmt.Fprintf(w, "medispatcher_stage_seconds_sum{stage=%q} %g\n", name, time.Duration(h.sum.Load()).Seconds())
		fmt.Fprintf(w, "medispatcher_stage_seconds_count{stage=%q} %d\n", name, c)
	}
}
