package loadgen

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/loadgen/farm"
)

func TestScheduleMath(t *testing.T) {
	start := time.Unix(1000, 0)
	s := Schedule{Start: start, Rate: 1000, Topics: 3, Total: 10}
	assert.Equal(t, start.Add(5*time.Millisecond), s.At(5))
	assert.Equal(t, int64(0), s.Index(start.Add(-time.Second)))
	assert.Equal(t, int64(5), s.Index(start.Add(5*time.Millisecond)))
	assert.Equal(t, int64(6), s.Index(start.Add(5*time.Millisecond+1)))
	assert.Equal(t, int64(10), s.Index(start.Add(time.Hour)), "bounded by Total")
	topic, seq := s.TopicSeq(7)
	assert.Equal(t, 1, topic)
	assert.Equal(t, uint64(2), seq)
	// 10 messages over 3 topics: 4, 3, 3
	assert.Equal(t, []uint64{4, 3, 3}, []uint64{s.Claimed(0, 10), s.Claimed(1, 10), s.Claimed(2, 10)})
	assert.Equal(t, []uint64{1, 1, 0}, []uint64{s.Claimed(0, 2), s.Claimed(1, 2), s.Claimed(2, 2)})
}

// recPutter records what the producer put; one put can be made slow.
type recPutter struct {
	mu     sync.Mutex
	at     []time.Time
	bodies [][]byte
	slowAt int
	slow   time.Duration
	failAt int
}

func (p *recPutter) Put(_ context.Context, _ int, _ string, body []byte) error {
	p.mu.Lock()
	n := len(p.bodies)
	p.bodies = append(p.bodies, append([]byte(nil), body...))
	p.at = append(p.at, time.Now())
	p.mu.Unlock()
	if n == p.slowAt {
		time.Sleep(p.slow)
	}
	if n == p.failAt {
		return assert.AnError
	}
	return nil
}

func (p *recPutter) Close() error { return nil }

// decodeTS returns the seq and scheduled time the farm would read.
func decodeTS(t *testing.T, job []byte) (string, uint64, int64) {
	t.Helper()
	var m message.Message
	require.NoError(t, message.Decode(job, &m))
	js, err := message.AppendJSON(nil, m.Body)
	require.NoError(t, err)
	seq, ts, ok := farm.ScanSeqTS(js)
	require.True(t, ok, string(js))
	return string(m.Topic), seq, ts
}

// An open-loop producer stamps each message with its scheduled time, not
// its send time: a stalled put makes later messages late, and that
// lateness shows in their latency instead of being hidden.
func TestProducerOpenLoop(t *testing.T) {
	const total = 60
	put := &recPutter{slowAt: 10, slow: 100 * time.Millisecond, failAt: 30}
	s := Schedule{Start: time.Now().Add(20 * time.Millisecond), Rate: 1000, Topics: 4, Total: total}
	names := []string{"lg.t0001", "lg.t0002", "lg.t0003", "lg.t0004"}
	p := NewProducer(s, put, "main", names, 1, 1, 200, 0)
	p.Run(context.Background())

	require.Len(t, put.bodies, total)
	for i, b := range put.bodies {
		topic, seq, ts := decodeTS(t, b)
		wantTopic, wantSeq := s.TopicSeq(int64(i))
		assert.Equal(t, names[wantTopic], topic)
		assert.Equal(t, wantSeq, seq)
		assert.Equal(t, s.At(int64(i)).UnixNano(), ts, "message %d carries its scheduled time", i)
		assert.False(t, put.at[i].Before(s.At(int64(i))), "never sent early")
	}
	// message 11 was due 1 ms after 10 but waited for the 100 ms put
	assert.Greater(t, put.at[11].Sub(s.At(11)), 80*time.Millisecond)
	assert.GreaterOrEqual(t, p.MaxLag(), 80*time.Millisecond)
	assert.Greater(t, p.Late(), int64(0))
	assert.Equal(t, int64(total-1), p.Sent())
	n, err := p.Errors()
	assert.Equal(t, int64(1), n)
	assert.ErrorIs(t, err, assert.AnError)
	assert.Equal(t, []uint64{7}, p.Failed(2), "message 30 is topic 2 seq 7")
	assert.Equal(t, uint64(15), p.Claimed(2))
	assert.Equal(t, int64(14), p.SentTopic(2))
}

func TestProducerStopsOnCancel(t *testing.T) {
	put := &recPutter{slowAt: -1, failAt: -1}
	s := Schedule{Start: time.Now(), Rate: 100, Topics: 2, Total: 1000} // 10 s of schedule
	p := NewProducer(s, put, "main", []string{"a", "b"}, 1, 4, 64, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("producer did not stop")
	}
	sent := p.Sent()
	assert.Less(t, sent, int64(100))
	notSent := int64(len(p.Failed(0)) + len(p.Failed(1)))
	assert.Equal(t, int64(p.Claimed(0)+p.Claimed(1)), sent+notSent, "every claimed seq is sent or recorded as not sent")
}

func TestEncoderSize(t *testing.T) {
	for _, size := range []int{128, 512, 4096} {
		e := NewEncoder(size)
		job := e.Encode("lg.t0001", 123, time.Now().UnixNano(), 0)
		assert.InDelta(t, size, len(job), 16, "size %d", size)
	}
	e := NewEncoder(512)
	e.Encode("lg.t0001", 1, 2, 0)
	assert.Zero(t, testing.AllocsPerRun(100, func() { e.Encode("lg.t0001", 1, 2, 0) }), "steady state encodes without allocating")
}

func BenchmarkEncode(b *testing.B) {
	e := NewEncoder(512)
	b.ReportAllocs()
	b.SetBytes(512)
	var i uint64
	for b.Loop() {
		i++
		e.Encode("lg.t0001", i, 1732500000123456789, 0)
	}
}
