package loadgen

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Schedule is an open-loop arrival schedule: message i (0-based, over all
// topics) is due at Start + i/Rate and belongs to topic i mod Topics as its
// seq i div Topics. It never depends on how fast earlier puts returned.
type Schedule struct {
	Start  time.Time
	Rate   float64
	Topics int
	Total  int64 // messages in the run
}

// At is the scheduled send time of message i.
func (s Schedule) At(i int64) time.Time {
	return s.Start.Add(time.Duration(float64(i) / s.Rate * float64(time.Second)))
}

// Index is the first message due at or after t.
func (s Schedule) Index(t time.Time) int64 {
	d := t.Sub(s.Start)
	if d <= 0 {
		return 0
	}
	f := d.Seconds() * s.Rate
	i := int64(f)
	if float64(i) < f {
		i++
	}
	return min(i, s.Total)
}

// TopicSeq maps message i to its topic index and per-topic seq.
func (s Schedule) TopicSeq(i int64) (topic int, seq uint64) {
	return int(i % int64(s.Topics)), uint64(i / int64(s.Topics))
}

// Claimed is how many messages of topic t are among the first n.
func (s Schedule) Claimed(t int, n int64) uint64 {
	T := int64(s.Topics)
	c := n / T
	if int64(t) < n%T {
		c++
	}
	return uint64(c)
}

// Producer puts the messages of a Schedule with Workers concurrent puts,
// spreading them over the servers round-robin.
type Producer struct {
	sched   Schedule
	put     Putter
	tube    string
	names   []string
	servers int
	workers int
	size    int
	lagFrom int64 // lateness counts from this message on (the steady phase)

	next    atomic.Int64
	stop    atomic.Bool
	sent    atomic.Int64
	perSent []atomic.Int64
	maxLag  atomic.Int64 // ns
	late    atomic.Int64 // messages started more than 10 ms after their time

	mu     sync.Mutex
	failed map[int][]uint64 // topic → seqs whose put failed or never ran
	errs   int64
	first  error
}

// NewProducer prepares a producer; lateness is measured from message
// lagFrom on.
func NewProducer(s Schedule, put Putter, tube string, topicNames []string, servers, workers, size int, lagFrom int64) *Producer {
	return &Producer{sched: s, put: put, tube: tube, names: topicNames, servers: servers,
		workers: workers, size: size, lagFrom: lagFrom,
		perSent: make([]atomic.Int64, s.Topics), failed: map[int][]uint64{}}
}

// Run puts every message of the schedule, each no earlier than its time,
// and returns when all are done or ctx ends (the rest are recorded as not
// sent).
func (p *Producer) Run(ctx context.Context) {
	stopWatch := context.AfterFunc(ctx, func() { p.stop.Store(true) })
	defer stopWatch()
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.work(ctx)
		}()
	}
	wg.Wait()
}

func (p *Producer) work(ctx context.Context) {
	enc := NewEncoder(p.size)
	for {
		i := p.next.Add(1) - 1
		if i >= p.sched.Total {
			return
		}
		topic, seq := p.sched.TopicSeq(i)
		if p.stop.Load() {
			p.fail(topic, seq, nil)
			continue
		}
		at := p.sched.At(i)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else if i >= p.lagFrom {
			lag := int64(-d)
			for {
				m := p.maxLag.Load()
				if lag <= m || p.maxLag.CompareAndSwap(m, lag) {
					break
				}
			}
			if lag > int64(10*time.Millisecond) {
				p.late.Add(1)
			}
		}
		job := enc.Encode(p.names[topic], seq, at.UnixNano(), topic)
		if err := p.put.Put(ctx, int(i%int64(p.servers)), p.tube, job); err != nil {
			p.fail(topic, seq, err)
			continue
		}
		p.perSent[topic].Add(1)
		p.sent.Add(1)
	}
}

func (p *Producer) fail(topic int, seq uint64, err error) {
	p.mu.Lock()
	p.failed[topic] = append(p.failed[topic], seq)
	if err != nil {
		p.errs++
		if p.first == nil {
			p.first = err
		}
	}
	p.mu.Unlock()
}

// Sent is the number of successful puts so far.
func (p *Producer) Sent() int64 { return p.sent.Load() }

// SentTopic is the number of successful puts of topic t so far.
func (p *Producer) SentTopic(t int) int64 { return p.perSent[t].Load() }

// MaxLag is the longest a message of the measured part waited past its
// scheduled time before its put started.
func (p *Producer) MaxLag() time.Duration { return time.Duration(p.maxLag.Load()) }

// Late counts measured messages whose put started over 10 ms late.
func (p *Producer) Late() int64 { return p.late.Load() }

// Claimed is how many messages of topic t were taken from the schedule
// (sent, failed or abandoned): the seqs of t are 0..Claimed-1.
func (p *Producer) Claimed(t int) uint64 {
	return p.sched.Claimed(t, min(p.next.Load(), p.sched.Total))
}

// Failed returns the sorted seqs of topic t that were not sent.
func (p *Producer) Failed(t int) []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := append([]uint64(nil), p.failed[t]...)
	sort.Slice(f, func(a, b int) bool { return f[a] < f[b] })
	return f
}

// Errors returns the number of failed puts and the first error.
func (p *Producer) Errors() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs, p.first
}
