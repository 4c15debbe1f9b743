package dispatch

import "medispatcher/connpool"

// keep releases a job whose only-copy line (cat) could not be written, so
// that it is tried again after KeepDelay instead of being lost.
func (e *Engine) keep(j *connpool.Job, cat string, err error) {
	e.noteKept(j, cat, err)
	j.Release(e.opts.Priority, e.opts.KeepDelay)
}

// noteKept counts, logs and alerts a job kept because its only-copy line
// (cat) could not be written; the caller releases it with KeepDelay.
func (e *Engine) noteKept(j *connpool.Job, cat string, err error) {
	e.metrics.kept.Inc()
	e.log.Error("DATA line not written: job kept in its tube for a later try",
		"category", cat, "job", j.ID, "delay", e.opts.KeepDelay, "err", err)
	if e.deps.Alert != nil {
		e.deps.Alert(AlertDataLog, "a "+cat+" line could not be written to the DATA log ("+err.Error()+"): jobs are kept in beanstalkd and retried")
	}
}
