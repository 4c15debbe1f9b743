package paneldb_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/datalog"
)

// A first INSERT that does not answer in time leaves the record its own id;
// the row is written later, once, and the later records find it by the
// subscription and jobid.
func TestLateRowIsFoundByItsJob(t *testing.T) {
	m, db := failureDB(t)
	ids := failures.NewIDs()
	t0, t1, t2 := time.Unix(1800000000, 0), time.Unix(1800000001, 0), time.Unix(1800000005, 0)

	// The row of message 2 exists already: its late INSERT must not add one.
	early, _ := newFailureLog(t, m, paneldb.FailureLogConfig{})
	dup := record(ids, 2, t0)
	dupID := early.First(dup)
	require.NotZero(t, dupID)

	f, lost := newFailureLog(t, m, paneldb.FailureLogConfig{FirstWait: time.Nanosecond, ReserveIDs: -1})
	a := record(ids, 1, t0)
	own := a.LogID
	assert.Zero(t, f.First(a), "no answer within the bound")
	require.True(t, failures.DaemonMade(own))
	f.Add(next(a, 1, failures.Retrying, t1))
	f.Add(next(a, 2, failures.Success, t2))
	assert.Zero(t, f.First(dup))
	closeLog(t, f)
	require.Zero(t, lost.count(), "%v", lost.errors())

	rows := readRows(t, db, "job_id = ?", "1732500000.000000-1-17")
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Equal(t, [4]int64{1, 0, 2, t2.Unix()}, [4]int64{int64(r.Final), int64(r.Alive), r.RetryTimes, r.LastRetryTime})
	assert.Equal(t, int64(7), r.ClassID)
	assert.Equal(t, t0.Unix(), r.Time)
	assert.Equal(t, "medispatcher addr: "+testAddr+" Code: 500\nContent:\n\toops", r.FirstMessage)
	assert.Len(t, readRows(t, db, "job_id = ?", "1732500000.000000-2-17"), 1, "a late INSERT of an existing row is skipped")
}

// With the database down, the push worker waits at most FirstWait once
// (the next first failures are queued at once), and every row goes to the
// DATA log as a FAILROW line; once it is back, rows are written again.
func TestDatabaseDownRowsGoToTheDataLog(t *testing.T) {
	m, db := failureDB(t)
	dir := t.TempDir()
	data, err := datalog.Open(datalog.Config{Dir: dir})
	require.NoError(t, err)
	dbc, err := paneldb.Open(dbConfig(m))
	require.NoError(t, err)
	t.Cleanup(func() { dbc.Close() })
	seen := make(chan struct{}, 100)
	f := paneldb.NewFailureLog(dbc, paneldb.FailureLogConfig{Addr: testAddr, Timeout: 2 * time.Second, ReserveIDs: -1,
		Fallback: func(r *paneldb.FailureRow, err error) {
			require.NoError(t, paneldb.WriteFailRow(data, r, err))
			seen <- struct{}{}
		}})
	ids := failures.NewIDs()
	t0 := time.Unix(1800000000, 0)

	m.Kill()
	a := record(ids, 1, t0)
	start := time.Now()
	assert.Zero(t, f.First(a))
	assert.Less(t, time.Since(start), paneldb.FirstFailureWait+time.Second, "the push worker waited beyond the bound")
	start = time.Now()
	b := record(ids, 2, t0)
	assert.Zero(t, f.First(b))
	assert.Less(t, time.Since(start), 100*time.Millisecond, "a database known down is not waited for again")
	f.Add(next(a, 1, failures.GivenUp, t0))
	for range 3 {
		select {
		case <-seen:
		case <-time.After(30 * time.Second):
			t.Fatal("rows not handed to the DATA log")
		}
	}

	// Back: what comes now is written.
	m.Restart(t)
	c := record(ids, 3, t0)
	f.First(c) // queued or written: the row exists after Close either way
	f.Add(next(c, 1, failures.Retrying, time.Unix(1800000001, 0)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.Close(ctx)
	require.NoError(t, data.Close(ctx))
	assert.Len(t, seen, 0, "nothing lost once the database is back")
	rows := readRows(t, db, "1")
	require.Len(t, rows, 1)
	assert.Equal(t, "1732500000.000000-3-17", rows[0].JobID)
	assert.Equal(t, int64(1), rows[0].RetryTimes)

	lines := failRowLines(t, dir)
	require.Len(t, lines, 3)
	byJob := map[string]datalog.Entry{}
	for _, e := range lines {
		jobid, _ := e.Field("jobid")
		op, _ := e.Field("op")
		byJob[op+" "+jobid] = e
	}
	ins := byJob["insert 1732500000.000000-1-17"]
	assert.Equal(t, paneldb.FailRow, ins.Category)
	assert.Equal(t, `{"k":"\u003c\u0026\u003e"}`, string(ins.Raw), "the insert's message body")
	for k, want := range map[string]string{"sub": "17", "subscriber": "3", "retry_times": "0", "final_status": "0", "alive": "1",
		"time": "1800000000", "message_time": "1732500000", "message": "medispatcher addr: " + testAddr + " Code: 500\nContent:\n\toops",
		"target": "http://sub.example/hook?x=1&jobid=1732500000.000000-1-17&retry_times=0", "topic": "order_paid"} {
		v, _ := ins.Field(k)
		assert.Equal(t, want, v, k)
	}
	why, _ := ins.Field("why")
	assert.NotEmpty(t, why)
	assert.Contains(t, byJob, "insert 1732500000.000000-2-17")
	up := byJob["update 1732500000.000000-1-17"]
	for k, want := range map[string]string{"retry_times": "1", "final_status": "0", "alive": "0"} {
		v, _ := up.Field(k)
		assert.Equal(t, want, v, k)
	}
	assert.Empty(t, up.Raw)
}

// failRowLines are the FAILROW lines of the DATA log files in dir.
func failRowLines(t *testing.T, dir string) []datalog.Entry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	var out []datalog.Entry
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		sc := datalog.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			e, err := datalog.ParseLine(sc.Bytes())
			require.NoError(t, err, "%s", sc.Text())
			if e.Category == paneldb.FailRow {
				out = append(out, e)
			}
		}
	}
	return out
}

// A database that does not answer (stopped) holds the first failure's
// worker for FirstWait at most; the queue is bounded: what does not fit
// goes to the fallback at once; all the rest is written once it answers.
func TestSlowDatabaseBoundsTheWaitAndTheQueue(t *testing.T) {
	m, db := failureDB(t)
	f, lost := newFailureLog(t, m, paneldb.FailureLogConfig{Queue: 2, Batch: 1, Timeout: 60 * time.Second, ReserveIDs: -1})
	ids := failures.NewIDs()
	t0 := time.Unix(1800000000, 0)

	m.Pause()
	resumed := false
	defer func() {
		if !resumed {
			m.Resume()
		}
	}()
	start := time.Now()
	first := record(ids, 1, t0)
	assert.Zero(t, f.First(first))
	assert.Less(t, time.Since(start), paneldb.FirstFailureWait+time.Second, "the push worker waited beyond the bound")
	// The queue holds two rows, the first failure's among them until the
	// writer takes it (Batch 1) and waits for the database: of these
	// five, three or four do not fit.
	// The first failure's retries: updates of its row, found by jobid.
	for i := range 5 {
		f.Add(next(first, i+1, failures.Retrying, t0))
	}
	full := lost.count()
	assert.True(t, full >= 3 && full <= 4, "%d rows did not fit", full)
	for _, err := range lost.errors() {
		assert.ErrorContains(t, err, "queue full")
	}
	m.Resume()
	resumed = true
	closeLog(t, f)
	assert.Equal(t, full, lost.count(), "the rest is written once the database answers: %v", lost.errors())
	rows := readRows(t, db, "job_id = ?", "1732500000.000000-1-17")
	require.NotEmpty(t, rows, "the first failure's row, written later")
	assert.True(t, strings.HasPrefix(rows[0].FirstMessage, "medispatcher addr: "))
}
