package trace

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
)

// TracesPath is the OTLP/HTTP path of traces, appended to OtelEndpoint.
const TracesPath = "/v1/traces"

// Export settings: a batch leaves at most every batchDelay; the queue holds
// queueSize spans, beyond which new ones are dropped (the callers never
// wait); an export attempt gives up after exportTimeout, and a failed batch
// is retried for retryFor at most, so that a collector down costs a
// bounded amount of memory and one goroutine's time.
const (
	batchDelay    = 2 * time.Second
	queueSize     = 8192
	batchSize     = 1024
	exportTimeout = 5 * time.Second
	retryFor      = 15 * time.Second
	// errorLogEvery bounds the WARN lines of failed exports.
	errorLogEvery = time.Minute
)

// Tracer starts the daemon's spans. A nil *Tracer is tracing off: every
// method does nothing.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   oteltrace.Tracer
	ratio    float64 // OtelSampleRatio (see sampling.go)
}

// New builds the tracer of cfg: nil (tracing off) when OtelEndpoint is
// empty; otherwise a provider exporting batches over OTLP/HTTP to
// OtelEndpoint + TracesPath, sampling OtelSampleRatio of the traces that
// start here and following the parent's decision in the others, with
// service.name OtelServiceName and service.version the build's. Nothing
// is sent before the first span; an unreachable collector is no error
// here, only logged (at most once a minute) when batches fail.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Tracer, error) {
	if cfg.OtelEndpoint == "" {
		return nil, nil
	}
	if log == nil {
		log = slog.Default()
	}
	endpoint := strings.TrimRight(cfg.OtelEndpoint, "/") + TracesPath
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithTimeout(exportTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: time.Second,
			MaxInterval: 5 * time.Second, MaxElapsedTime: retryFor}))
	if err != nil {
		return nil, fmt.Errorf("trace exporter for %s: %w", endpoint, err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.OtelServiceName),
		attribute.String("service.version", buildinfo.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		// The ratio is applied before a root span is asked for (see
		// sampling.go): every root the SDK is given is recorded.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batchDelay), sdktrace.WithMaxQueueSize(queueSize),
			sdktrace.WithMaxExportBatchSize(batchSize)))
	otel.SetErrorHandler(&errorLog{log: log, endpoint: endpoint})
	log.Info("traces exported", "endpoint", endpoint, "sample_ratio", cfg.OtelSampleRatio, "service", cfg.OtelServiceName)
	return &Tracer{provider: tp, tracer: tp.Tracer("medispatcher"), ratio: cfg.OtelSampleRatio}, nil
}

// Shutdown exports the spans still queued, within ctx, and stops the
// exporter; spans started afterwards are dropped.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("trace shutdown: %w", err)
	}
	return nil
}

// errorLog logs the SDK's errors (failed exports) at WARN, at most once
// per errorLogEvery, with how many were not logged.
type errorLog struct {
	log      *slog.Logger
	endpoint string
	next     atomic.Int64 // unix nanoseconds before which nothing is logged
	skipped  atomic.Int64
}

func (h *errorLog) Handle(err error) {
	now := time.Now().UnixNano()
	next := h.next.Load()
	if now < next || !h.next.CompareAndSwap(next, now+int64(errorLogEvery)) {
		h.skipped.Add(1)
		return
	}
	h.log.Warn("trace export failed: spans dropped", "endpoint", h.endpoint, "err", err,
		"more_errors", h.skipped.Swap(0))
}
