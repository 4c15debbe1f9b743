package pubload

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/farm"
)

// TestAppendMessage: a job becomes the JSON message a producer would
// publish for it, and the farm reads seq and ts from its body.
func TestAppendMessage(t *testing.T) {
	job := loadgen.NewEncoder(300).Encode("lg.t0007", 42, 1_700_000_000_123_456_789, 6)
	msg, body, err := AppendMessage([]byte("prefix"), job)
	require.NoError(t, err)
	require.Equal(t, "prefix", string(msg[:6]), "appended, not overwritten")
	var m struct {
		Topic  string         `json:"topic"`
		Sender string         `json:"sender"`
		Body   map[string]any `json:"body"`
	}
	require.NoError(t, json.Unmarshal(msg[6:], &m))
	assert.Equal(t, "lg.t0007", m.Topic)
	assert.Equal(t, "loadgen", m.Sender)
	assert.EqualValues(t, 42, m.Body["seq"])
	assert.EqualValues(t, 6, m.Body["topic"])
	assert.Contains(t, m.Body, "pad")
	seq, ts, ok := farm.ScanSeqTS(body)
	require.True(t, ok, "%s", body)
	assert.EqualValues(t, 42, seq)
	assert.EqualValues(t, 1_700_000_000_123_456_789, ts)

	_, _, err = AppendMessage(nil, []byte("not msgpack"))
	assert.Error(t, err)
}

func TestAppendJSONString(t *testing.T) {
	got := appendJSONString(nil, []byte("a\"b\\c\n\x01"))
	var s string
	require.NoError(t, json.Unmarshal(got, &s))
	assert.Equal(t, "a\"b\\c\n\x01", s)
}

func TestClientAnswersAndErrors(t *testing.T) {
	s := startAPI(t, &apiServer{token: "0123456789abcdef"})
	c := NewClient(s.addr, "0123456789abcdef", 2)
	defer c.Close()
	a, err := c.Publish([]byte(`{"topic":"t","body":1}`))
	require.NoError(t, err)
	assert.NoError(t, a.Check())
	assert.EqualValues(t, 1, a.JobID)
	assert.Equal(t, "127.0.0.1:11300", a.Server)

	_, err = c.Publish([]byte(`{"body":1}`))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 422, ae.Status)
	assert.Equal(t, "invalid", ae.Code)

	_, err = NewClient(s.addr, "", 1).Publish([]byte(`{"topic":"t","body":1}`))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.Status)

	res, err := c.PublishBatch([]byte(`{"messages":[{"topic":"t","body":1},{"topic":"bad","body":2}]}`), 2)
	require.NoError(t, err)
	assert.NoError(t, res[0].Check())
	require.ErrorAs(t, res[1].Check(), &ae)
	assert.Equal(t, "invalid", ae.Code)
	_, err = c.PublishBatch([]byte(`{"messages":[{"topic":"t","body":1}]}`), 2)
	assert.ErrorIs(t, err, ErrAnswer, "a result missing")
	assert.EqualValues(t, 5, s.requests.Load())
}

// TestSinglePutter publishes each job with one request and counts the
// answers, a recover list among them.
func TestSinglePutter(t *testing.T) {
	s := startAPI(t, &apiServer{fallback: true})
	p := NewSingle(NewClient(s.addr, "", 4), nil)
	enc := loadgen.NewEncoder(200)
	for i := range 10 {
		require.NoError(t, p.Put(context.Background(), 0, "ignored", enc.Encode(loadgen.TopicName(i%3), uint64(i), 1, i%3)))
	}
	require.Error(t, p.Put(context.Background(), 0, "ignored", enc.Encode("bad.topic", 0, 1, 0)))
	require.NoError(t, p.Close())
	acc, fb, errs, first := p.Counts()
	assert.EqualValues(t, 10, acc)
	assert.EqualValues(t, 10, fb, "every answer named the recover list")
	assert.EqualValues(t, 1, errs)
	assert.ErrorContains(t, first, "invalid")
	assert.EqualValues(t, 11, s.requests.Load())
	assert.Len(t, s.messages(), 10)
}

// TestBatchPutter: concurrent Puts travel in requests of at most Size
// messages, each Put gets its own message's result, and the last partial
// batch leaves after the linger.
func TestBatchPutter(t *testing.T) {
	s := startAPI(t, &apiServer{})
	p := NewBatch(NewClient(s.addr, "", 4), 100, 4, 20*time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, 250)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := loadgen.TopicName(i % 5)
			if i == 17 {
				topic = "bad.topic"
			}
			errs[i] = p.Put(context.Background(), 0, "", loadgen.NewEncoder(200).Encode(topic, uint64(i), 1, i%5))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 17 {
			assert.Error(t, err, "its own result")
		} else {
			assert.NoError(t, err, i)
		}
	}
	require.NoError(t, p.Close())
	assert.GreaterOrEqual(t, s.requests.Load(), int64(3), "250 messages need three requests of 100")
	assert.LessOrEqual(t, s.requests.Load(), int64(10))
	acc, _, nerr, _ := p.Counts()
	assert.EqualValues(t, 249, acc)
	assert.EqualValues(t, 1, nerr)
	assert.Len(t, s.messages(), 249)
	assert.ErrorIs(t, p.Put(context.Background(), 0, "", loadgen.NewEncoder(200).Encode("t", 0, 1, 0)), ErrClosed)
}

// TestBatchPutterWholeRequestError: when the request fails as a whole,
// every message in it fails.
func TestBatchPutterWholeRequestError(t *testing.T) {
	s := startAPI(t, &apiServer{token: "0123456789abcdef"})
	p := NewBatch(NewClient(s.addr, "", 1), 10, 1, time.Millisecond)
	err := p.Put(context.Background(), 0, "", loadgen.NewEncoder(200).Encode("lg.t0001", 0, 1, 0))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.Status)
	require.NoError(t, p.Close())
}

// TestPacedLoop: loadgen's open-loop producer drives the single putter
// on schedule; every message is published once, and the request
// latencies count from the scheduled time, so a server slower than the
// schedule shows as a growing latency instead of a slower schedule.
func TestPacedLoop(t *testing.T) {
	run := func(s *apiServer, rate float64, total int64, workers int) (*Recorder, *loadgen.Producer) {
		rec := NewRecorder()
		p := NewSingle(NewClient(s.addr, "", workers), rec)
		names := []string{loadgen.TopicName(0), loadgen.TopicName(1)}
		sched := loadgen.Schedule{Start: time.Now().Add(20 * time.Millisecond), Rate: rate, Topics: 2, Total: total}
		prod := loadgen.NewProducer(sched, p, "ignored", names, 1, workers, 256, 0)
		prod.Run(context.Background())
		require.NoError(t, p.Close())
		return rec, prod
	}
	fast := startAPI(t, &apiServer{})
	rec, prod := run(fast, 1000, 300, 8)
	assert.EqualValues(t, 300, prod.Sent())
	assert.EqualValues(t, 300, fast.requests.Load())
	assert.EqualValues(t, 300, rec.Latency().Count)
	n, _ := prod.Errors()
	assert.Zero(t, n)
	seen := map[[2]float64]bool{}
	for _, m := range fast.messages() {
		b := m["body"].(map[string]any)
		seen[[2]float64{b["topic"].(float64), b["seq"].(float64)}] = true
	}
	assert.Len(t, seen, 300, "every (topic, seq) once")

	// One worker, 10 ms per request, 200 scheduled per second: the
	// schedule runs away from the server, and the latency says so.
	slow := startAPI(t, &apiServer{delay: 10 * time.Millisecond})
	rec, _ = run(slow, 200, 40, 1)
	l := rec.Latency()
	assert.EqualValues(t, 40, l.Count)
	assert.Greater(t, l.Max, 150.0, "the last message waited for the 39 before it: %+v", l)
}

func TestRecorderWindow(t *testing.T) {
	r := NewRecorder()
	now := time.Now()
	r.SetWindow(now, now.Add(time.Second))
	r.Record(now.Add(-time.Millisecond).UnixNano(), now)
	r.Record(now.UnixNano(), now.Add(3*time.Millisecond))
	r.Record(now.Add(time.Second).UnixNano(), now.Add(2*time.Second))
	l := r.Latency()
	assert.EqualValues(t, 1, l.Count)
	assert.InDelta(t, 3.0, l.P99, 0.01)

	r = NewRecorder()
	r.Hold()
	r.Record(now.UnixNano(), now)
	assert.Zero(t, r.Latency().Count, "held: nothing counts")
}

var _ loadgen.Putter = (*Single)(nil)
var _ loadgen.Putter = (*Batch)(nil)
