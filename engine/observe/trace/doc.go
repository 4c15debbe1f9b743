// Package trace exports OpenTelemetry traces of the daemon's work: one
// client span per push to a subscriber and one server span per request to
// the publish API, sent over OTLP/HTTP to the collector at OtelEndpoint.
//
// Tracing is off unless OtelEndpoint is set: New then returns a nil
// *Tracer, every method of which does nothing, and callers on the push
// path check for nil before they prepare anything, so that tracing off
// costs nothing there.
//
// A push span's parent is the W3C traceparent a message's context holds
// (ParentFromContext); without one it starts a trace of its own. Either
// way the push carries the traceparent of its own span, so that the
// subscriber's span joins the trace. Whether a trace is sampled is decided
// once, where it starts (OtelSampleRatio), and followed by every span of
// it (the parent's sampled flag).
//
// Spans are exported in batches by a background goroutine: a collector
// that is slow or down never slows the spans' callers, whose spans are
// dropped once the queue is full.
package trace
