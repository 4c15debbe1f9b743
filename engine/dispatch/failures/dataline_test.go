package failures

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
)

// readFailRec closes w and returns the entries of its FAILREC file.
func readFailRec(t *testing.T, dir string, w *datalog.Writer) []datalog.Entry {
	t.Helper()
	require.NoError(t, w.Close(context.Background()))
	f, err := os.Open(filepath.Join(dir, "DATA.FAILREC.log"))
	require.NoError(t, err)
	defer f.Close()
	var out []datalog.Entry
	sc := datalog.NewScanner(f)
	for sc.Scan() {
		e, err := datalog.ParseLine(sc.Bytes())
		require.NoError(t, err)
		out = append(out, e)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestFailRecLineCarriesTheJobAndReadsBack(t *testing.T) {
	dir := t.TempDir()
	w, err := datalog.Open(datalog.Config{Dir: dir})
	require.NoError(t, err)
	m := message.Message{Topic: []byte("order_paid"), Body: []byte{0xa1, 'x'}, Time: 1, OriginJobID: 5, RetryTimes: 10, LogID: 77, SubscriptionID: 19}
	job := message.AppendRetryJob(nil, &m)
	job = append(job, 0x00, '\n', ' ', 0xff) // any byte survives the line
	at := time.UnixMilli(1764050587123)
	given := Record{LogID: 77, JobID: "1.000000-5-19", Topic: "order_paid", SubID: 19, SubscriberID: 3,
		URL: "http://10.0.0.5/hook?x=1", Error: "status 500: \"oops\"\nmore", RetryTimes: 10, Final: GivenUp, Time: at, Job: job}
	retrying := given
	retrying.Final, retrying.RetryTimes = Retrying, 3
	success := given
	success.Final, success.Job, success.Error = Success, nil, ""
	why := errors.New("xadd {medispatcher}:failures: connection refused")
	for _, r := range []*Record{&given, &retrying, &success} {
		require.NoError(t, WriteFailRec(w, r, why))
	}
	lines := readFailRec(t, dir, w)
	require.Len(t, lines, 3)
	for i, want := range []*Record{&given, &retrying, &success} {
		require.Equal(t, FailRec, lines[i].Category)
		got, err := FromFailRec(&lines[i])
		require.NoError(t, err)
		require.Equal(t, want, got, "line %d reads back as the record written", i)
		v, _ := lines[i].Field("why")
		require.Equal(t, why.Error(), v)
	}
	v, _ := lines[1].Field("final")
	require.Equal(t, "retrying", v, "the empty final of a retrying record is spelled out")
}

func TestFromFailRecRefusesWhatCannotBeResent(t *testing.T) {
	for name, line := range map[string]string{
		"no sub":      `2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j topic=t final=given_up raw=gA==`,
		"bad log_id":  `2026-11-25T14:03:07.123456+08:00 FAILREC log_id=x jobid=j topic=t sub=4 final=given_up raw=gA==`,
		"no topic":    `2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j sub=4 final=given_up raw=gA==`,
		"bad final":   `2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j topic=t sub=4 final=maybe raw=gA==`,
		"other line":  `2026-11-25T14:03:07.123456+08:00 REDISTFAIL topic=t sub=4 raw=gA==`,
		"sub is zero": `2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j topic=t sub=0 final=given_up raw=gA==`,
	} {
		e, err := datalog.ParseLine([]byte(line))
		require.NoError(t, err, name)
		_, err = FromFailRec(&e)
		require.Error(t, err, name)
	}
	// A line written before FAILREC carried the job reads back without one.
	e, err := datalog.ParseLine([]byte(`2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j topic=t sub=4 url=u retry_times=10 final=given_up error=x why=y`))
	require.NoError(t, err)
	r, err := FromFailRec(&e)
	require.NoError(t, err)
	require.Empty(t, r.Job)
	require.Equal(t, GivenUp, r.Final)
}
