package failures

import (
	"fmt"
	"strconv"
	"time"

	"medispatcher/internal/datalog"
)

// FailRec is the DATA log category of a failure record that could not be
// written to Redis (the Store's fallback). The line carries the record's
// fields and, as its final raw= field, the job of a failure record, so
// that a given-up message can still be re-sent from the line (replay).
//
//	FAILREC log_id=… jobid=… topic=… sub=… subscriber=… url=… retry_times=… final=retrying|success|given_up error=… why=… time_ms=… [raw=<job>]
//
// Only given_up lines need re-sending: a retrying record's message is in
// the retry tube (or still reserved), a success record's was delivered.
const FailRec datalog.Category = "FAILREC"

// LineWriter is what WriteFailRec needs of the DATA log.
type LineWriter interface {
	Write(cat datalog.Category, fields []datalog.Field, raw []byte) error
}

// WriteFailRec writes r as a FAILREC line, with why it could not be
// stored; it returns the DATA log's answer (nil: the line was accepted).
func WriteFailRec(data LineWriter, r *Record, why error) error {
	final := r.Final
	if final == Retrying {
		final = "retrying"
	}
	reason := ""
	if why != nil {
		reason = why.Error()
	}
	return data.Write(FailRec, []datalog.Field{
		{Key: "log_id", Value: strconv.FormatUint(r.LogID, 10)},
		{Key: "jobid", Value: r.JobID},
		{Key: "topic", Value: r.Topic},
		{Key: "sub", Value: strconv.FormatInt(r.SubID, 10)},
		{Key: "subscriber", Value: strconv.FormatInt(r.SubscriberID, 10)},
		{Key: "url", Value: r.URL},
		{Key: "retry_times", Value: strconv.Itoa(r.RetryTimes)},
		{Key: "final", Value: final},
		{Key: "error", Value: r.Error},
		{Key: "why", Value: reason},
		{Key: "time_ms", Value: strconv.FormatInt(r.Time.UnixMilli(), 10)},
	}, r.Job)
}

// FromFailRec reads back the record of a FAILREC line. Lines written
// before the job was added have no raw= field: their Record has no Job.
func FromFailRec(e *datalog.Entry) (*Record, error) {
	if e.Category != FailRec {
		return nil, fmt.Errorf("not a %s line: %s", FailRec, e.Category)
	}
	get := func(k string) string { v, _ := e.Field(k); return v }
	r := &Record{JobID: get("jobid"), Topic: get("topic"), URL: get("url"), Error: get("error"), Final: get("final"), Time: e.Time}
	if r.Final == "retrying" {
		r.Final = Retrying
	}
	switch r.Final {
	case Retrying, Success, GivenUp:
	default:
		return nil, fmt.Errorf("%s line: final %q", FailRec, r.Final)
	}
	var err error
	if r.LogID, err = strconv.ParseUint(get("log_id"), 10, 64); err != nil {
		return nil, fmt.Errorf("%s line: log_id: %w", FailRec, err)
	}
	if r.SubID, err = strconv.ParseInt(get("sub"), 10, 64); err != nil || r.SubID <= 0 {
		return nil, fmt.Errorf("%s line: sub %q", FailRec, get("sub"))
	}
	if r.Topic == "" {
		return nil, fmt.Errorf("%s line: no topic", FailRec)
	}
	r.SubscriberID, _ = strconv.ParseInt(get("subscriber"), 10, 64)
	r.RetryTimes, _ = strconv.Atoi(get("retry_times"))
	if ms, err := strconv.ParseInt(get("time_ms"), 10, 64); err == nil {
		r.Time = time.UnixMilli(ms)
	}
	if len(e.Raw) > 0 {
		r.Job = e.Raw
	}
	return r, nil
}
