package dispatch

import (
	"context"
	"errors"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/observe/trace"
)

// send makes the push in hand. When the engine traces (Deps.Tracer), the
// push is a client span whose parent is the traceparent its message's
// context holds, and it carries its span's traceparent header; otherwise
// nothing but the push itself runs.
func (w *worker) send() {
	e := w.l.r.e
	if e.deps.Tracer == nil {
		e.deps.Push.Push(context.Background(), &w.push, &w.res)
		return
	}
	span := w.startSpan(e.deps.Tracer)
	e.deps.Push.Push(context.Background(), &w.push, &w.res)
	span.End(w.res.Status, pushFailure(w))
	w.push.Traceparent = nil
}

// startSpan starts the span of the push in hand and gives the push its
// traceparent (w's own buffer).
func (w *worker) startSpan(t *trace.Tracer) trace.PushSpan {
	r := w.l.r
	w.jobid = message.AppendJobID(w.jobid[:0], w.msg.Time, w.msg.OriginJobID, r.id)
	if w.spanName == "" { // a worker pushes for one subscription only
		w.spanName = trace.PushSpanName(r.topic)
	}
	span := t.StartPush(&trace.Push{Name: w.spanName, Context: w.msg.Context, Topic: r.topic, Sub: r.id,
		JobID: w.jobid, Retry: w.push.RetryTimes})
	w.traceparent = span.AppendTraceparent(w.traceparent[:0])
	w.push.Traceparent = w.traceparent
	return span
}

// pushFailure is why the push in hand failed, nil when it did not.
func pushFailure(w *worker) error {
	switch {
	case w.res.OK:
		return nil
	case w.res.Err != nil:
		return w.res.Err
	}
	if k := int(w.res.Kind); k < len(kindErrs) {
		return kindErrs[k]
	}
	return errors.New(w.res.Kind.String())
}

// kindErrs are the failure kinds as errors, made once: a failed push
// without an error of its own (a status, a bad answer) costs its span no
// allocation, sampled or not.
var kindErrs = func() []error {
	errs := make([]error, push.Canceled+1)
	for k := range errs {
		errs[k] = errors.New(push.FailureKind(k).String())
	}
	return errs
}()
