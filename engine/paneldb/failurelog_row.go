package paneldb

import (
	"strconv"
	"strings"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
)

// Operations on a failure row.
const (
	OpInsert = "insert"
	OpUpdate = "update"
)

// FailureRow is one statement's worth of broadcast_failure_log: the row of
// a first failure (OpInsert), or the columns a later record changes
// (OpUpdate).
type FailureRow struct {
	Op string
	// LogID is the record's id: the row's log_id (an insert's once its
	// INSERT ran; it is written under it again if that transaction
	// failed), or a daemon-made id (failures.DaemonMade), whose row is
	// found by (SubID, JobID).
	LogID uint64
	// Reserved: LogID is a reserved id (an insert is written under it,
	// see reserve).
	Reserved     bool
	JobID        string // job_id: the push's jobid
	Topic        string // its class_key gives message_class_id
	SubID        int64
	SubscriberID int64
	Time         int64   // the failure, unix s: time (insert), last_retry_time (retries)
	MessageTime  float64 // message_time (insert)
	Body         string  // message_body (insert): the push's message field
	// Message is the failure message ("medispatcher addr: <IP> " and the
	// error in 2.x's words); empty on a success.
	Message    string
	Target     string // last_target: the URL pushed to with its query; empty on a success
	RetryTimes int
	Final      bool // final_status 1: delivered
	Alive      bool // alive 1: the message is still to be retried
}

// LastRetryTime is the row's last_retry_time: 0 until a retry was made.
func (r *FailureRow) LastRetryTime() int64 {
	if r.RetryTimes == 0 {
		return 0
	}
	return r.Time
}

// row is the statement of r; it copies what it needs, r is not kept.
func (f *FailureLog) row(r *failures.Record, op string) *FailureRow {
	row := &FailureRow{Op: op, LogID: r.LogID, JobID: r.JobID, Topic: r.Topic, SubID: r.SubID,
		SubscriberID: r.SubscriberID, Time: r.Time.Unix(), RetryTimes: r.RetryTimes,
		Final: r.Final == failures.Success, Alive: r.Final == failures.Retrying}
	if r.Final != failures.Success {
		row.Message = f.prefix + r.PanelError
		row.Target = pushTarget(r.URL, r.JobID, r.RetryTimes)
	}
	if op == OpInsert {
		row.Body, row.MessageTime = messageOf(r.Job)
	}
	return row
}

// pushTarget is the URL a push went to: the subscription URL with jobid
// and retry_times appended to its query string, as the push sends them.
func pushTarget(url, jobID string, retryTimes int) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "jobid=" + jobID + "&retry_times=" + strconv.Itoa(retryTimes)
}

// messageOf is the body of job as the push's message field carries it
// (the same encoder) and the message's time. A job that does not decode,
// or a body that cannot become JSON, gives an empty body, as 2.x wrote it.
func messageOf(job []byte) (body string, at float64) {
	var m message.Message
	if err := message.Decode(job, &m); err != nil {
		return "", 0
	}
	b, err := message.AppendJSON(nil, m.Body)
	if err != nil {
		return "", m.Time
	}
	return string(b), m.Time
}
