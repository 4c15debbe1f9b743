package bench

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// OTLPSink stands in for a trace collector in the traced scenarios: it
// answers 200 to every POST of OTLP/HTTP traces and only counts them, so
// that what tracing costs is the daemon's, not a collector's.
type OTLPSink struct {
	// URL is the value for the daemon's OtelEndpoint ("http://host:port").
	URL string

	srv            *fasthttp.Server
	done           chan struct{}
	requests, size atomic.Int64
}

// OTLPSinkStats are what a sink received.
type OTLPSinkStats struct {
	Requests int64 `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// StartOTLPSink serves a sink on a free loopback port until Close.
func StartOTLPSink() (*OTLPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("otlp sink: %w", err)
	}
	s := &OTLPSink{URL: "http://" + ln.Addr().String(), done: make(chan struct{})}
	s.srv = &fasthttp.Server{Handler: s.handle, Name: "otlp-sink"}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *OTLPSink) handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() || string(ctx.Path()) != otlpTracesPath {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	s.requests.Add(1)
	s.size.Add(int64(len(ctx.PostBody())))
	// An empty ExportTraceServiceResponse: zero bytes of protobuf.
	ctx.SetContentType("application/x-protobuf")
}

// otlpTracesPath is where OTLP/HTTP exporters post traces.
const otlpTracesPath = "/v1/traces"

// Stats returns what the sink has received so far.
func (s *OTLPSink) Stats() OTLPSinkStats {
	return OTLPSinkStats{Requests: s.requests.Load(), Bytes: s.size.Load()}
}

// Close stops the sink.
func (s *OTLPSink) Close() {
	_ = s.srv.Shutdown()
	<-s.done
}
