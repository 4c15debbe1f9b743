package daemon

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/trace/tracetest"
)

// The producer's span: the parent a message's context names.
const (
	producerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	producerSpan  = "00f067aa0ba902b7"
)

// tracePush is one push a traceSubscriber saw.
type tracePush struct {
	path, jobid, traceparent string
	retry                    int
}

// traceSubscriber records every push's traceparent header; on /fail it
// answers 500 to a message's first push and 200 to its retries.
type traceSubscriber struct {
	url    string
	mu     sync.Mutex
	pushes []tracePush
}

func newTraceSubscriber(t *testing.T) *traceSubscriber {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &traceSubscriber{url: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *traceSubscriber) serve(w http.ResponseWriter, r *http.Request) {
	retry, _ := strconv.Atoi(r.FormValue("retry_times"))
	s.mu.Lock()
	s.pushes = append(s.pushes, tracePush{path: r.URL.Path, jobid: r.FormValue("jobid"),
		traceparent: r.Header.Get("traceparent"), retry: retry})
	s.mu.Unlock()
	if r.URL.Path == "/fail" && retry == 0 {
		http.Error(w, "not yet", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte(`{"status":1}`))
}

func (s *traceSubscriber) seen() []tracePush {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tracePush(nil), s.pushes...)
}

// putWithContext puts one message of topic whose context is msgContext,
// as a producer does.
func (w *world) putWithContext(topic, msgContext string) {
	w.t.Helper()
	m := message.Message{Topic: []byte(topic), Body: []byte{0xa2, 'h', 'i'}, Time: 1732500000, Context: []byte(msgContext)}
	_, err := beanstalk.NewTube(w.bc, "event_center_messages").Put(message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
	require.NoError(w.t, err)
}

// tracedWorld is a world whose subscriptions 1 (/ok) and 2 (/fail) take
// topic "traced" from a traceSubscriber, and whose config file sets set.
func tracedWorld(t *testing.T, set map[string]string) (*world, *traceSubscriber, string) {
	t.Helper()
	w := newWorld(t)
	sub := newTraceSubscriber(t)
	require.NoError(t, subs.WriteFile(w.dir+"/subscriptions.toml", []*subs.Subscription{
		{ID: 1, Topic: "traced", URL: sub.url + "/ok"},
		{ID: 2, Topic: "traced", URL: sub.url + "/fail"},
	}))
	set["CoeOfIntervalForRetrySendingMsg"] = "1"
	return w, sub, w.configVariant("traced.toml", set)
}

// TestTracePushSpans: with OtelEndpoint set, every push is a span of the
// producer's trace (its parent the producer's span from the message's
// context), the subscriber receives that span's traceparent, and a failed
// push and its retry are two spans of the same trace.
func TestTracePushSpans(t *testing.T) {
	rcv := tracetest.Start(t)
	w, sub, cfg := tracedWorld(t, map[string]string{
		"OtelEndpoint": strconv.Quote(rcv.Endpoint), "OtelSampleRatio": "1", "OtelServiceName": `"dispatch-test"`})
	d := w.startWith(cfg, w.logs)
	w.putWithContext("traced", `{"traceparent":"00-`+producerTrace+`-`+producerSpan+`-01"}`)

	require.Eventually(t, func() bool { return len(sub.seen()) >= 3 }, 20*time.Second, 20*time.Millisecond,
		"three pushes (ok, fail, its retry):\n%s", w.logs)
	// A graceful stop exports the spans still queued.
	w.stop(d)
	spans := rcv.WaitFor(t, "push traced", 3, 10*time.Second)
	byID := map[string]tracetest.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
		assert.Equal(t, "dispatch-test", s.Service)
		assert.Equal(t, producerTrace, s.TraceID, "every push continues the producer's trace")
		assert.Equal(t, producerSpan, s.ParentSpanID, "every push is a child of the producer's span")
		assert.Equal(t, "traced", s.Attrs["medispatcher.topic"])
	}
	pushes := sub.seen()
	require.Len(t, pushes, 3)
	for _, p := range pushes {
		require.Len(t, p.traceparent, 55, "push %+v carries a traceparent", p)
		assert.Equal(t, producerTrace, p.traceparent[3:35])
		s, ok := byID[p.traceparent[36:52]]
		require.True(t, ok, "the header's span id is a push span's: %+v", p)
		assert.Equal(t, p.jobid, s.Attrs["medispatcher.jobid"])
		assert.Equal(t, int64(p.retry), s.Attrs["medispatcher.retry"])
		want := int64(1)
		if p.path == "/fail" {
			want = 2
		}
		assert.Equal(t, want, s.Attrs["medispatcher.subscription"])
		if p.path == "/fail" && p.retry == 0 {
			assert.Equal(t, int64(500), s.Attrs["http.response.status_code"])
			assert.Equal(t, "STATUS_CODE_ERROR", s.StatusCode.String())
			assert.NotEmpty(t, s.StatusText, "the failure is told")
		} else {
			assert.Equal(t, int64(200), s.Attrs["http.response.status_code"])
			assert.Equal(t, "STATUS_CODE_UNSET", s.StatusCode.String())
		}
	}
}

// TestTraceOff: without OtelEndpoint a push carries no traceparent header.
func TestTraceOff(t *testing.T) {
	w, sub, cfg := tracedWorld(t, map[string]string{})
	w.startWith(cfg, w.logs)
	w.putWithContext("traced", "00-"+producerTrace+"-"+producerSpan+"-01")
	require.Eventually(t, func() bool { return len(sub.seen()) >= 3 }, 20*time.Second, 20*time.Millisecond, "%s", w.logs)
	for _, p := range sub.seen() {
		assert.Empty(t, p.traceparent, "push %+v", p)
	}
}

// TestTracePublishSpanTree: a producer's request to the publish API, with
// its own traceparent, is the root of one trace: the publish span is the
// producer span's child, the push span the publish span's child, and the
// subscriber receives the push span's traceparent — the tree
// producer → publish → push → subscriber with the right parent ids.
func TestTracePublishSpanTree(t *testing.T) {
	rcv := tracetest.Start(t)
	api := freeAddr(t)
	w, sub, cfg := tracedWorld(t, map[string]string{
		"OtelEndpoint": strconv.Quote(rcv.Endpoint), "OtelSampleRatio": "1", "ListenAddr": strconv.Quote(api)})
	d := w.startWith(cfg, w.logs)
	waitHTTP(t, "http://"+api+"/healthz", w.logs)

	req, err := http.NewRequest(http.MethodPost, "http://"+api+"/api/v1/messages",
		strings.NewReader(`{"topic":"traced","body":{"n":1}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+producerTrace+"-"+producerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	require.Eventually(t, func() bool { return len(sub.seen()) >= 3 }, 20*time.Second, 20*time.Millisecond,
		"three pushes (ok, fail, its retry):\n%s", w.logs)
	w.stop(d)
	pub := rcv.WaitFor(t, "publish messages", 1, 10*time.Second)
	require.Len(t, pub, 1)
	assert.Equal(t, producerTrace, pub[0].TraceID, "the publish request continues the producer's trace")
	assert.Equal(t, producerSpan, pub[0].ParentSpanID, "the publish span is the producer span's child")

	pushes := rcv.WaitFor(t, "push traced", 3, 10*time.Second)
	byID := map[string]bool{}
	for _, s := range pushes {
		byID[s.SpanID] = true
		assert.Equal(t, producerTrace, s.TraceID)
		assert.Equal(t, pub[0].SpanID, s.ParentSpanID, "every push is the publish span's child")
	}
	for _, p := range sub.seen() {
		require.Len(t, p.traceparent, 55, "push %+v carries a traceparent", p)
		assert.Equal(t, producerTrace, p.traceparent[3:35])
		assert.True(t, byID[p.traceparent[36:52]], "the subscriber's parent is a push span: %+v", p)
	}
}
