package trace

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// publishPath is the URL path of the publish API's routes.
const publishPath = "/api/v1/"

// StartPublish starts the server span "publish <route>" of one publish
// request (route is "messages" or "messages/batch"), a child of the
// request's traceparent header when it holds a valid one, a new trace
// otherwise. It returns that span's traceparent, which published messages
// without a context of their own carry so that their pushes continue the
// trace, and end, which finishes the span with the request's answer (an
// error status from 500 up, or with err). On a nil Tracer it returns ""
// and an end that does nothing.
func (t *Tracer) StartPublish(traceparent, route string, messages int) (child string, end func(status int, err error)) {
	if t == nil {
		return "", func(int, error) {}
	}
	ctx := context.Background()
	if sc, ok := parseTraceparent(traceparent); !ok {
		if !t.sampleRoot() {
			return bareTraceparent(bareRoot())
		}
	} else if !sc.IsSampled() {
		return bareTraceparent(bareChild(sc))
	} else {
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, sc)
	}
	_, span := t.tracer.Start(ctx, "publish "+route, oteltrace.WithSpanKind(oteltrace.SpanKindServer),
		oteltrace.WithAttributes(
			attribute.String("http.request.method", "POST"),
			attribute.String("url.path", publishPath+route),
			attribute.Int("medispatcher.messages", messages)))
	child = string(AppendTraceparent(make([]byte, 0, traceparentLen), span.SpanContext()))
	return child, func(status int, err error) {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case status >= 500:
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// bareTraceparent is StartPublish's answer for a span that is not
// recorded: its traceparent, and an end with nothing to finish.
func bareTraceparent(sc oteltrace.SpanContext) (string, func(int, error)) {
	return string(AppendTraceparent(make([]byte, 0, traceparentLen), sc)), func(int, error) {}
}
