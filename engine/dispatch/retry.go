package dispatch

import (
	"context"
	"strconv"
	"time"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
)

// retryDelay is the wait before retry number n (1, 2, …): n² × coe, as the
// old daemon did (1 s, 4 s, 9 s, … with coe 1).
func (e *Engine) retryDelay(n int) time.Duration {
	return time.Duration(n*n) * e.opts.RetryCoe
}

// retryOrGiveUp settles a failed push: a failure record, then either the
// retry tube with the next delay (at least what the subscriber asked for
// with Retry-After), or (after MaxRetries retries) the end.
func (w *worker) retryOrGiveUp(c *channelJob, url string) {
	r, e := w.l.r, w.l.r.e
	done := w.retriesDone()
	if w.l.retry && done >= e.opts.MaxRetries {
		w.record(c, url, failures.GivenUp)
		r.m.givenUp.Inc()
		e.log.Warn("push given up", "sub", r.id, "topic", r.topic, "job", c.ID(),
			"retries", done, "err", w.failText())
		c.Delete()
		return
	}
	w.record(c, url, failures.Retrying)
	// The stored RetryTimes counts retries done; the next push sends
	// RetryTimes+1 and waits (RetryTimes+1)² × coe.
	w.msg.RetryTimes = done
	delay := max(e.retryDelay(done+1), wholeSeconds(w.res.RetryAfter))
	// Exactly the old daemon's retry job (11 keys): operators' tools and
	// old daemons read retry tubes; it is routed by its tube name.
	w.buf = message.AppendRetryJob(w.buf[:0], w.msg)
	if err := r.putRetry(c.Server(), w.buf, delay); err != nil {
		// No server takes the retry job now: keep the message where it is
		// (a direct copy: in its channel tube) and try again after the
		// same delay (at least once; duplicates are the subscriber's to
		// de-duplicate by jobid, loss is not).
		e.log.Error("put to retry tube failed: job released for a later try",
			"sub", r.id, "tube", r.retryTube, "job", c.ID(), "err", err)
		r.m.retryPutFail.Inc()
		c.giveBack(e.opts.Priority, delay)
		return
	}
	r.m.retried.Inc()
	c.Delete()
}

// putRetry puts a retry job into the subscription's retry tube on server;
// the tube's lazy watch hears of it (see tubeWatch).
func (r *runner) putRetry(server int, job []byte, delay time.Duration) error {
	e := r.e
	r.watch.putStarted()
	_, err := e.deps.Pool.Put(context.Background(), server, r.retryTube, job, e.opts.Priority, delay, e.opts.TTR)
	r.watch.putEnded(err == nil)
	return err
}

// record writes a failure-record event for the message in hand. The first
// record of a message (it has no LogID yet) goes through Failures.First,
// which names the id the message carries from then on.
func (w *worker) record(c *channelJob, url, final string) {
	r, e := w.l.r, w.l.r.e
	sub := r.params.Load().sub
	var jobID [64]byte
	rec := &failures.Record{
		LogID:        w.msg.LogID,
		JobID:        string(message.AppendJobID(jobID[:0], w.msg.Time, w.msg.OriginJobID, r.id)),
		Topic:        r.topic,
		SubID:        r.id,
		SubscriberID: sub.SubscriberID,
		URL:          url,
		RetryTimes:   w.retriesDone(),
		Final:        final,
	}
	if final != failures.Success {
		rec.Error = w.failText()
		rec.PanelError = failures.PanelText(&w.res, url)
		rec.Job = append([]byte(nil), c.Body()...) // for a re-send; the failure path only
	}
	if rec.LogID != 0 {
		e.deps.Failures.Add(rec)
		return
	}
	rec.LogID = e.deps.IDs.Next()
	if final == failures.Success {
		// A retry job without a record (an operator's or an old daemon's).
		e.deps.Failures.Add(rec)
		return
	}
	w.msg.LogID = e.deps.Failures.First(rec)
}

// failText describes the last push's failure for the record: status code
// and answer, or the error.
func (w *worker) failText() string {
	res := &w.res
	if res.Status != 0 {
		return res.Kind.String() + ": status " + strconv.Itoa(res.Status) + ": " + string(res.Answer)
	}
	if res.Err != nil {
		return res.Kind.String() + ": " + res.Err.Error()
	}
	return res.Kind.String()
}
