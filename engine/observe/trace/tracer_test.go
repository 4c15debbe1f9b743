package trace

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"medispatcher/engine/observe/trace/tracetest"
	"medispatcher/internal/config"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTracer returns a Tracer exporting to a test receiver, sampling ratio.
func newTracer(t *testing.T, ratio float64) (*Tracer, *tracetest.Receiver) {
	t.Helper()
	rcv := tracetest.Start(t)
	cfg := config.Default()
	cfg.OtelEndpoint, cfg.OtelSampleRatio, cfg.OtelServiceName = rcv.Endpoint, ratio, "medispatcher-test"
	tr, err := New(context.Background(), cfg, quietLog())
	require.NoError(t, err)
	require.NotNil(t, tr)
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, rcv
}

func TestNewOff(t *testing.T) {
	tr, err := New(context.Background(), config.Default(), quietLog())
	require.NoError(t, err)
	assert.Nil(t, tr, "no OtelEndpoint: tracing off")
}

// TestNilTracer: every method of a nil Tracer does nothing.
func TestNilTracer(t *testing.T) {
	var tr *Tracer
	child, end := tr.StartPublish(exampleTP, "messages", 1)
	assert.Empty(t, child)
	end(202, nil)
	s := tr.StartPush(&Push{Context: []byte(exampleTP), Topic: "t"})
	assert.Empty(t, s.AppendTraceparent(nil))
	s.End(200, errors.New("x"))
	assert.NoError(t, tr.Shutdown(context.Background()))
}

// TestPublishSpan: a publish request's span is a server span, the child of
// the request's traceparent, and the traceparent it returns is its own.
func TestPublishSpan(t *testing.T) {
	tr, rcv := newTracer(t, 1)
	child, end := tr.StartPublish(exampleTP, "messages/batch", 3)
	require.Len(t, child, traceparentLen)
	assert.True(t, strings.HasPrefix(child, "00-"+exampleTrace+"-"), child)
	end(200, nil)
	_, endRoot := tr.StartPublish("garbage", "messages", 1)
	endRoot(503, errors.New("neither beanstalkd nor Redis"))
	require.NoError(t, tr.Shutdown(context.Background()))

	s := rcv.WaitFor(t, "publish messages/batch", 1, 5*time.Second)[0]
	assert.Equal(t, "medispatcher-test", s.Service)
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, s.Kind)
	assert.Equal(t, exampleTrace, s.TraceID)
	assert.Equal(t, exampleSpan, s.ParentSpanID)
	assert.Equal(t, child[36:52], s.SpanID)
	assert.Equal(t, "POST", s.Attrs["http.request.method"])
	assert.Equal(t, "/api/v1/messages/batch", s.Attrs["url.path"])
	assert.Equal(t, int64(3), s.Attrs["medispatcher.messages"])
	assert.Equal(t, int64(200), s.Attrs["http.response.status_code"])
	assert.Equal(t, tracepb.Status_STATUS_CODE_UNSET, s.StatusCode)

	root := rcv.WaitFor(t, "publish messages", 1, 5*time.Second)[0]
	assert.Empty(t, root.ParentSpanID, "an invalid traceparent starts a new trace")
	assert.NotEqual(t, exampleTrace, root.TraceID)
	assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, root.StatusCode)
	assert.Equal(t, int64(503), root.Attrs["http.response.status_code"])
}

// TestPublishUnsampled: a publish request whose trace is not sampled
// (ratio 0 and no traceparent, or a parent with flags 00) records no span
// but still hands its messages a traceparent, flags 00.
func TestPublishUnsampled(t *testing.T) {
	tr, rcv := newTracer(t, 0)
	root, end := tr.StartPublish("", "messages", 1)
	end(202, nil)
	require.Len(t, root, traceparentLen)
	assert.True(t, strings.HasSuffix(root, "-00"), root)
	child, end := tr.StartPublish(exampleTP[:53]+"00", "messages", 1)
	end(202, nil)
	assert.True(t, strings.HasPrefix(child, "00-"+exampleTrace+"-"), child)
	assert.True(t, strings.HasSuffix(child, "-00"), child)
	assert.NotEqual(t, exampleSpan, child[36:52], "a span id of its own")
	require.NoError(t, tr.Shutdown(context.Background()))
	assert.Zero(t, rcv.Requests(), "nothing was recorded")
}

// TestPushSpan: a push span continues the trace of its message's context
// and carries the push's description and outcome.
func TestPushSpan(t *testing.T) {
	tr, rcv := newTracer(t, 1)
	s := tr.StartPush(&Push{Name: PushSpanName("orders"), Context: []byte(`{"traceparent":"` + exampleTP + `"}`), Topic: "orders", Sub: 42,
		JobID: []byte("1-2-42"), Retry: 2})
	tp := string(s.AppendTraceparent(nil))
	s.End(500, errors.New("answer status is not 200"))
	require.NoError(t, tr.Shutdown(context.Background()))

	got := rcv.WaitFor(t, "push orders", 1, 5*time.Second)[0]
	assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, got.Kind)
	assert.Equal(t, "00-"+exampleTrace+"-"+got.SpanID+"-01", tp)
	assert.Equal(t, exampleSpan, got.ParentSpanID)
	assert.Equal(t, "orders", got.Attrs["medispatcher.topic"])
	assert.Equal(t, int64(42), got.Attrs["medispatcher.subscription"])
	assert.Equal(t, "1-2-42", got.Attrs["medispatcher.jobid"])
	assert.Equal(t, int64(2), got.Attrs["medispatcher.retry"])
	assert.Equal(t, int64(500), got.Attrs["http.response.status_code"])
	assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, got.StatusCode)
	assert.Equal(t, "answer status is not 200", got.StatusText)
}

// TestSampling: a trace started here is sampled at the ratio; a parent's
// decision is followed either way.
func TestSampling(t *testing.T) {
	tr, rcv := newTracer(t, 0)
	root := tr.StartPush(&Push{Name: "push a", Topic: "a"})
	tp := string(root.AppendTraceparent(nil))
	assert.True(t, strings.HasSuffix(tp, "-00"), "ratio 0: a new trace is not sampled (%s)", tp)
	root.End(200, nil)
	child := tr.StartPush(&Push{Name: "push b", Context: []byte(exampleTP), Topic: "b"})
	child.End(200, nil)
	require.NoError(t, tr.Shutdown(context.Background()))
	got := rcv.WaitFor(t, "push b", 1, 5*time.Second)
	assert.Equal(t, exampleSpan, got[0].ParentSpanID, "a sampled parent is followed")
	for _, s := range rcv.Spans() {
		assert.NotEqual(t, "push a", s.Name)
	}
}

// TestUnreachableCollector: spans to a collector that is down cost the
// caller no wait.
func TestUnreachableCollector(t *testing.T) {
	cfg := config.Default()
	cfg.OtelEndpoint, cfg.OtelSampleRatio = "http://127.0.0.1:1", 1
	tr, err := New(context.Background(), cfg, quietLog())
	require.NoError(t, err)
	start := time.Now()
	for range 20000 {
		tr.StartPush(&Push{Name: "push t", Topic: "t"}).End(200, nil)
	}
	assert.Less(t, time.Since(start), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = tr.Shutdown(ctx) // bounded by ctx
}
