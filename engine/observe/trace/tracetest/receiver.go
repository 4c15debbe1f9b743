// Package tracetest is an OTLP/HTTP trace receiver for tests: a fasthttp
// server on loopback that decodes every ExportTraceServiceRequest posted
// to /v1/traces and keeps its spans.
package tracetest

import (
	"encoding/hex"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is one received span, its ids in lower-case hex.
type Span struct {
	Service      string // the resource's service.name
	Name         string
	Kind         tracepb.Span_SpanKind
	TraceID      string
	SpanID       string
	ParentSpanID string // "" for a root span
	Attrs        map[string]any
	StatusCode   tracepb.Status_StatusCode
	StatusText   string
	Start, End   time.Time
}

// Receiver receives spans until the test ends.
type Receiver struct {
	// Endpoint is the value for OtelEndpoint ("http://127.0.0.1:port").
	Endpoint string

	srv  *fasthttp.Server
	done chan struct{} // closed when srv's Serve returns

	mu       sync.Mutex
	spans    []Span
	requests int
}

// Start starts a Receiver, stopped when tb ends.
func Start(tb testing.TB) *Receiver {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("otlp receiver: %v", err)
	}
	r := &Receiver{Endpoint: "http://" + ln.Addr().String(), done: make(chan struct{})}
	r.srv = &fasthttp.Server{Handler: r.handle}
	go r.serve(ln)
	tb.Cleanup(r.stop)
	return r
}

func (r *Receiver) serve(ln net.Listener) {
	defer close(r.done)
	_ = r.srv.Serve(ln)
}

// stop shuts the server down and waits for its goroutine.
func (r *Receiver) stop() {
	_ = r.srv.Shutdown()
	<-r.done
}

func (r *Receiver) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != "/v1/traces" || !ctx.IsPost() {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	body := ctx.PostBody()
	if string(ctx.Request.Header.ContentEncoding()) == "gzip" {
		var err error
		if body, err = ctx.Request.BodyGunzip(); err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	r.keep(&req)
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	ctx.SetContentType("application/x-protobuf")
	ctx.SetBody(out)
}

func (r *Receiver) keep(req *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	for _, rs := range req.GetResourceSpans() {
		service, _ := attrs(rs.GetResource().GetAttributes())["service.name"].(string)
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, Span{
					Service: service, Name: s.GetName(), Kind: s.GetKind(),
					TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), Attrs: attrs(s.GetAttributes()),
					StatusCode: s.GetStatus().GetCode(), StatusText: s.GetStatus().GetMessage(),
					Start: time.Unix(0, int64(s.GetStartTimeUnixNano())), End: time.Unix(0, int64(s.GetEndTimeUnixNano())),
				})
			}
		}
	}
}

// attrs flattens OTLP attributes: strings, int64s, float64s and bools.
func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = v.DoubleValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = v.BoolValue
		}
	}
	return m
}

// Spans returns a copy of the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Requests counts the export requests received.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// WaitFor waits up to timeout until n spans named name have arrived and
// returns them (in arrival order); it fails tb when they do not.
func (r *Receiver) WaitFor(tb testing.TB, name string, n int, timeout time.Duration) []Span {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got []Span
		for _, s := range r.Spans() {
			if s.Name == name {
				got = append(got, s)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("otlp receiver: %d spans %q within %v, want %d (all: %d spans)", len(got), name, timeout, n, len(r.Spans()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
