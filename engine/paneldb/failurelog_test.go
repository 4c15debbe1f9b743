package paneldb_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/testsrv"
)

const testAddr = "10.1.2.3"

// failureDB is a test database with the 2.x tables and the class of the
// topic "order_paid" (class_id 7).
func failureDB(t *testing.T) (*testsrv.MySQL, *sql.DB) {
	t.Helper()
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	m.Exec(t, `INSERT INTO message_classes (class_id, class_key, class_name) VALUES (7, 'order_paid', 'Order paid')`)
	return m, m.Open(t)
}

// lost collects the rows a FailureLog handed to its fallback.
type lost struct {
	mu   sync.Mutex
	rows []*paneldb.FailureRow
	errs []error
}

func (l *lost) add(r *paneldb.FailureRow, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows, l.errs = append(l.rows, r), append(l.errs, err)
}

func (l *lost) errors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func (l *lost) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.rows)
}

func newFailureLog(t *testing.T, m *testsrv.MySQL, cfg paneldb.FailureLogConfig) (*paneldb.FailureLog, *lost) {
	t.Helper()
	db, err := paneldb.Open(dbConfig(m))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	l := &lost{}
	cfg.Addr, cfg.Fallback = testAddr, l.add
	f := paneldb.NewFailureLog(db, cfg)
	t.Cleanup(func() { f.Close(context.Background()) })
	return f, l
}

// closeLog drains f: every row queued so far is written or lost after it.
func closeLog(t *testing.T, f *paneldb.FailureLog) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.Close(ctx)
}

// failureRow is a broadcast_failure_log row as a test compares it.
type failureRow struct {
	LogID, ClassID, SubscriberID, SubID, Time int64
	Body                                      string
	RetryTimes, LastRetryTime                 int64
	LastMessage                               string
	Final                                     int
	FirstMessage, JobID                       string
	Alive                                     int
	MessageTime                               float64
	Target                                    string
}

func readRows(t *testing.T, db *sql.DB, where string, args ...any) []failureRow {
	t.Helper()
	rows, err := db.Query(`SELECT log_id, message_class_id, subscriber_id, subscription_id, time, message_body,
		retry_times, last_retry_time, last_failure_message, final_status, first_failure_message, job_id, alive,
		message_time, last_target FROM broadcast_failure_log WHERE `+where+` ORDER BY log_id`, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []failureRow
	for rows.Next() {
		var r failureRow
		require.NoError(t, rows.Scan(&r.LogID, &r.ClassID, &r.SubscriberID, &r.SubID, &r.Time, &r.Body, &r.RetryTimes,
			&r.LastRetryTime, &r.LastMessage, &r.Final, &r.FirstMessage, &r.JobID, &r.Alive, &r.MessageTime, &r.Target))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func readRow(t *testing.T, db *sql.DB, logID uint64) failureRow {
	t.Helper()
	rows := readRows(t, db, "log_id = ?", logID)
	require.Len(t, rows, 1, "row %d", logID)
	return rows[0]
}

// msgTime is the messages' Time: whole seconds, so that message_time is
// exact in 2.x's DECIMAL(14,4) column and in a float alike.
const msgTime = 1732500000

// record is the first failure of message origin of subscription 17 (the
// push answered 500), at a given time.
func record(ids *failures.IDs, origin uint64, at time.Time) *failures.Record {
	m := &message.Message{Topic: []byte("order_paid"), Body: []byte{0x81, 0xa1, 'k', 0xa3, '<', '&', '>'},
		Time: msgTime, OriginJobID: origin, SubscriptionID: 17}
	return &failures.Record{LogID: ids.Next(), JobID: string(message.AppendJobID(nil, m.Time, origin, 17)),
		Topic: "order_paid", SubID: 17, SubscriberID: 3, URL: "http://sub.example/hook?x=1", Error: "http_status: status 500: oops",
		PanelError: "Code: 500\nContent:\n\toops", Time: at, Job: message.AppendChannelJob(nil, m)}
}

// next is the record of r's next push: retry n, failed (final Retrying
// or GivenUp) or delivered (Success).
func next(r *failures.Record, n int, final string, at time.Time) *failures.Record {
	c := *r
	c.RetryTimes, c.Final, c.Time = n, final, at
	if final == failures.Success {
		c.Error, c.PanelError, c.Job = "", "", nil
	} else {
		c.PanelError = "Code: 0\nElapsed:1.000 ms\nContent:\n\tFailed to get response: refused " + string(rune('0'+n))
	}
	return &c
}

func TestFailureRowsFollowTheMessage(t *testing.T) {
	m, db := failureDB(t)
	f, lost := newFailureLog(t, m, paneldb.FailureLogConfig{})
	inserted, updated, errs := counter(`medispatcher_paneldb_failure_rows_total{op="insert"}`),
		counter(`medispatcher_paneldb_failure_rows_total{op="update"}`), counter(`medispatcher_paneldb_failure_errors_total`)
	ids := failures.NewIDs()
	t0, t1, t2 := time.Unix(1800000000, 0), time.Unix(1800000001, 0), time.Unix(1800000005, 0)
	const prefix = "medispatcher addr: " + testAddr + " "

	// The first failure: its row, with the id the retry job carries
	// (committed once its writer closes).
	a := record(ids, 1, t0)
	first, lostFirst := newFailureLog(t, m, paneldb.FailureLogConfig{})
	a.LogID = first.First(a)
	require.NotZero(t, a.LogID)
	assert.False(t, failures.DaemonMade(a.LogID))
	closeLog(t, first)
	require.Zero(t, lostFirst.count(), "%v", lostFirst.errors())
	jobA := "1732500000.000000-1-17"
	assert.Equal(t, failureRow{LogID: int64(a.LogID), ClassID: 7, SubscriberID: 3, SubID: 17, Time: t0.Unix(),
		Body: `{"k":"\u003c\u0026\u003e"}`, LastMessage: prefix + "Code: 500\nContent:\n\toops",
		FirstMessage: prefix + "Code: 500\nContent:\n\toops", JobID: jobA, Alive: 1, MessageTime: msgTime,
		Target: "http://sub.example/hook?x=1&jobid=" + jobA + "&retry_times=0"}, readRow(t, db, a.LogID))

	// A failed retry to be retried again.
	f.Add(next(a, 1, failures.Retrying, t1))
	// Delivered on the 2nd retry.
	b := record(ids, 2, t0)
	b.LogID = f.First(b)
	f.Add(next(b, 1, failures.Retrying, t1))
	f.Add(next(b, 2, failures.Success, t2))
	// Given up after the 2nd retry.
	c := record(ids, 3, t0)
	c.LogID = f.First(c)
	f.Add(next(c, 1, failures.Retrying, t1))
	f.Add(next(c, 2, failures.GivenUp, t2))
	closeLog(t, f)
	require.Zero(t, lost.count(), "%v", lost.errors())

	rowA := readRow(t, db, a.LogID)
	assert.Equal(t, prefix+"Code: 500\nContent:\n\toops", rowA.FirstMessage, "the first failure stays")
	assert.Equal(t, prefix+next(a, 1, "", t1).PanelError, rowA.LastMessage)
	assert.Equal(t, "http://sub.example/hook?x=1&jobid="+jobA+"&retry_times=1", rowA.Target)
	assert.Equal(t, [4]int64{0, 1, 1, t1.Unix()}, [4]int64{int64(rowA.Final), int64(rowA.Alive), rowA.RetryTimes, rowA.LastRetryTime},
		"final_status, alive, retry_times, last_retry_time")

	rowB := readRow(t, db, b.LogID)
	assert.Equal(t, [4]int64{1, 0, 2, t2.Unix()}, [4]int64{int64(rowB.Final), int64(rowB.Alive), rowB.RetryTimes, rowB.LastRetryTime})
	assert.Equal(t, prefix+next(b, 1, "", t1).PanelError, rowB.LastMessage, "a success leaves the last failure")
	assert.Equal(t, "http://sub.example/hook?x=1&jobid=1732500000.000000-2-17&retry_times=1", rowB.Target)

	rowC := readRow(t, db, c.LogID)
	assert.Equal(t, [4]int64{0, 0, 2, t2.Unix()}, [4]int64{int64(rowC.Final), int64(rowC.Alive), rowC.RetryTimes, rowC.LastRetryTime})
	assert.Equal(t, prefix+next(c, 2, "", t2).PanelError, rowC.LastMessage)
	assert.Equal(t, "http://sub.example/hook?x=1&jobid=1732500000.000000-3-17&retry_times=2", rowC.Target)

	assert.Len(t, readRows(t, db, "1"), 3, "one row per message")
	assert.Equal(t, [3]uint64{3, 5, 0}, [3]uint64{inserted(), updated(), errs()}, "rows inserted, updated; errors")
}

// counter returns how much a counter grew since counter was called.
func counter(name string) func() uint64 {
	c := metrics.GetOrCreateCounter(name)
	base := c.Get()
	return func() uint64 { return c.Get() - base }
}

// An update whose row is not in the table (its first failure went to the
// DATA log while the database was down; by jobid or by log_id) is not lost: it goes to the
// fallback, and the rows written beside it in the same batch stay written.
// An update that changes nothing still finds its row.
func TestFailureRowUpdateWithoutItsRowGoesToTheFallback(t *testing.T) {
	m, db := failureDB(t)
	f, lost := newFailureLog(t, m, paneldb.FailureLogConfig{})
	ids := failures.NewIDs()
	t0, t1 := time.Unix(1800000000, 0), time.Unix(1800000001, 0)

	a := record(ids, 1, t0)
	a.LogID = f.First(a)
	orphan := record(ids, 2, t0) // never inserted: a daemon-made id
	f.Add(next(orphan, 1, failures.Success, t1))
	gone := record(ids, 3, t0) // a log_id whose row is not in the table
	gone.LogID = a.LogID + 1000
	f.Add(next(gone, 1, failures.Retrying, t1))
	f.Add(next(a, 1, failures.Retrying, t1))
	f.Add(next(a, 1, failures.Retrying, t1)) // the same values again
	closeLog(t, f)

	require.Equal(t, 2, lost.count(), "%v", lost.errors())
	assert.ElementsMatch(t, []string{"1732500000.000000-2-17", "1732500000.000000-3-17"},
		[]string{lost.rows[0].JobID, lost.rows[1].JobID})
	for _, err := range lost.errors() {
		assert.ErrorContains(t, err, "no row")
	}
	rowA := readRow(t, db, a.LogID)
	assert.Equal(t, int64(1), rowA.RetryTimes, "the update in the same batch was written")
}
