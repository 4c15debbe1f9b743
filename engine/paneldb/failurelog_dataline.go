package paneldb

import (
	"strconv"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/internal/datalog"
)

// FailRow is the DATA log category of a failure row that could not be
// written to broadcast_failure_log: the statement's values, so that an
// operator can still write the row by hand, and (an insert's) message
// body as the final raw= field.
//
//	FAILROW op=insert|update log_id=… jobid=… topic=… sub=… subscriber=… retry_times=… final_status=0|1 alive=0|1 time=… message_time=… target=… message=… why=… [raw=<message_body>]
//
// It is not a FAILREC line: the record itself went to the Redis stream
// (or its own FAILREC line), and replay re-sends given-up FAILREC lines;
// a second line of the same record must not be re-sent twice.
const FailRow datalog.Category = "FAILROW"

// WriteFailRow writes r as a FAILROW line, with why it was not written to
// the database; it returns the DATA log's answer.
func WriteFailRow(data failures.LineWriter, r *FailureRow, why error) error {
	reason := ""
	if why != nil {
		reason = why.Error()
	}
	var raw []byte
	if r.Op == OpInsert {
		raw = []byte(r.Body)
	}
	return data.Write(FailRow, []datalog.Field{
		{Key: "op", Value: r.Op},
		{Key: "log_id", Value: strconv.FormatUint(r.LogID, 10)},
		{Key: "jobid", Value: r.JobID},
		{Key: "topic", Value: r.Topic},
		{Key: "sub", Value: strconv.FormatInt(r.SubID, 10)},
		{Key: "subscriber", Value: strconv.FormatInt(r.SubscriberID, 10)},
		{Key: "retry_times", Value: strconv.Itoa(r.RetryTimes)},
		{Key: "final_status", Value: strconv.Itoa(flag(r.Final))},
		{Key: "alive", Value: strconv.Itoa(flag(r.Alive))},
		{Key: "time", Value: strconv.FormatInt(r.Time, 10)},
		{Key: "message_time", Value: strconv.FormatFloat(r.MessageTime, 'f', -1, 64)},
		{Key: "target", Value: r.Target},
		{Key: "message", Value: r.Message},
		{Key: "why", Value: reason},
	}, raw)
}
