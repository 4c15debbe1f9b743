package trace

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// PushSpan is the client span of one push: a span of the SDK when it is
// recorded, only its span context when it is not (see sampling.go). The
// zero PushSpan (tracing off) does nothing.
type PushSpan struct {
	span oteltrace.Span
	bare oteltrace.SpanContext // valid when the span is not recorded
}

// Push describes the push a span is started for.
type Push struct {
	// Name is the span's name, PushSpanName(Topic): the caller keeps it,
	// so that an unsampled span costs no string.
	Name string
	// Context is the message's context (X-Jumei-Context): the span's
	// parent is the traceparent it holds, if any (ParentFromContext).
	Context []byte
	Topic   string
	Sub     int64
	JobID   []byte // the jobid the subscriber receives
	Retry   int    // the retry_times sent
}

// PushSpanName is the name of a push span: "push <topic>".
func PushSpanName(topic string) string { return "push " + topic }

// StartPush starts the client span of p, right before the push. Its
// attributes are made only when the span is sampled. On a nil Tracer it
// returns the zero PushSpan.
func (t *Tracer) StartPush(p *Push) PushSpan {
	if t == nil {
		return PushSpan{}
	}
	ctx := context.Background()
	if sc, ok := ParentFromContext(p.Context); !ok {
		if !t.sampleRoot() {
			return PushSpan{bare: bareRoot()}
		}
	} else if !sc.IsSampled() {
		return PushSpan{bare: bareChild(sc)}
	} else {
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, sc)
	}
	_, span := t.tracer.Start(ctx, p.Name, oteltrace.WithSpanKind(oteltrace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("medispatcher.topic", p.Topic),
			attribute.Int64("medispatcher.subscription", p.Sub),
			attribute.String("medispatcher.jobid", string(p.JobID)),
			attribute.Int("medispatcher.retry", p.Retry))
	}
	return PushSpan{span: span}
}

// AppendTraceparent appends the span's traceparent, for the push's
// traceparent header (nothing for the zero PushSpan).
func (s PushSpan) AppendTraceparent(dst []byte) []byte {
	if s.span == nil {
		if s.bare.IsValid() {
			return AppendTraceparent(dst, s.bare)
		}
		return dst
	}
	return AppendTraceparent(dst, s.span.SpanContext())
}

// End finishes the span with the push's outcome: the answer's status
// (0: no answer) and, for a failed push, why (failure).
func (s PushSpan) End(status int, failure error) {
	if s.span == nil {
		return
	}
	if !s.span.IsRecording() { // not sampled: nothing to describe
		s.span.End()
		return
	}
	if status != 0 {
		s.span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if failure != nil {
		s.span.SetStatus(codes.Error, failure.Error())
	}
	s.span.End()
}
