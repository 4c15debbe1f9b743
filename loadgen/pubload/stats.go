package pubload

import (
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"medispatcher/loadgen"
)

// Stats counts the answers a putter got: messages accepted (into
// beanstalkd or onto a recover list), those parked on a recover list,
// and errors, with the first.
type Stats struct {
	accepted  atomic.Int64
	fallbacks atomic.Int64
	errs      atomic.Int64
	mu        sync.Mutex
	first     error
}

// note counts one message's outcome.
func (s *Stats) note(a *Answer, err error) {
	if err != nil {
		if s.errs.Add(1) == 1 {
			s.mu.Lock()
			s.first = err
			s.mu.Unlock()
		}
		return
	}
	s.accepted.Add(1)
	if a.RecoverList != "" {
		s.fallbacks.Add(1)
	}
}

// Counts returns the messages accepted, parked on a recover list (among
// the accepted), failed, and the first error.
func (s *Stats) Counts() (accepted, fallbacks, errs int64, first error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted.Load(), s.fallbacks.Load(), s.errs.Load(), s.first
}

// Recorder is the latency of publish requests, each from its message's
// scheduled send time (the body's ts) to the answer, so a client that
// falls behind its schedule cannot hide a slow API. Only messages
// scheduled within its window count.
type Recorder struct {
	mu       sync.Mutex
	h        *hdrhistogram.Histogram // µs, 1 µs to 10 min
	from, to atomic.Int64            // unix ns
}

// NewRecorder counts every message until SetWindow narrows it.
func NewRecorder() *Recorder {
	r := &Recorder{h: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)}
	r.to.Store(1<<63 - 1)
	return r
}

// Hold counts nothing until SetWindow: for a run whose window is known
// only once it starts.
func (r *Recorder) Hold() {
	r.from.Store(1<<63 - 1)
	r.to.Store(1<<63 - 1)
}

// SetWindow counts only messages scheduled in [from, to).
func (r *Recorder) SetWindow(from, to time.Time) {
	r.from.Store(from.UnixNano())
	r.to.Store(to.UnixNano())
}

// Record notes the answer at done to the message scheduled at ts (unix ns).
func (r *Recorder) Record(ts int64, done time.Time) {
	if ts < r.from.Load() || ts >= r.to.Load() {
		return
	}
	us := max(done.UnixNano()-ts, 0) / int64(time.Microsecond)
	r.mu.Lock()
	_ = r.h.RecordValue(max(us, 1))
	r.mu.Unlock()
}

// Latency summarises what was recorded, in milliseconds.
func (r *Recorder) Latency() loadgen.Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return loadgen.Latency{Count: r.h.TotalCount(), P50: ms(r.h.ValueAtQuantile(50)), P90: ms(r.h.ValueAtQuantile(90)),
		P99: ms(r.h.ValueAtQuantile(99)), P999: ms(r.h.ValueAtQuantile(99.9)), Max: ms(r.h.Max())}
}
