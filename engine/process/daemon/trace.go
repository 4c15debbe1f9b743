package daemon

import (
	"context"
	"fmt"
	"time"

	"medispatcher/engine/observe/trace"
	"medispatcher/engine/process/publish"
)

// tracerFlushTimeout bounds the export of the spans still queued at
// shutdown; what is left then is dropped.
const tracerFlushTimeout = 3 * time.Second

// newTracer builds the tracer of OtelEndpoint; d.tracer stays nil (no
// tracing, at no cost) without one. It contacts no collector: one that is
// down or slow only drops spans later, it never stops or slows dispatching.
func (d *Daemon) newTracer(ctx context.Context) error {
	t, err := trace.New(ctx, d.cfg, d.log)
	if err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	d.tracer = t
	return nil
}

// flushTracer exports the spans still queued and stops the exporter.
func (d *Daemon) flushTracer() {
	ctx, cancel := context.WithTimeout(context.Background(), tracerFlushTimeout)
	defer cancel()
	if err := d.tracer.Shutdown(ctx); err != nil {
		d.log.Warn("spans still queued at shutdown were dropped", "err", err)
	}
}

// publishTracer is the publish API's tracer: the daemon's, or a nil
// interface without one (a nil *trace.Tracer in the interface would not
// compare equal to nil).
func (d *Daemon) publishTracer() publish.Tracer {
	if d.tracer == nil {
		return nil
	}
	return d.tracer
}
