package paneldb

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/internal/testsrv"
)

// firstRecord is the first failure of message origin of subscription 17.
func firstRecord(ids *failures.IDs, origin int) *failures.Record {
	return &failures.Record{LogID: ids.Next(), JobID: fmt.Sprintf("1732500000.000000-%d-17", origin),
		Topic: "order_paid", SubID: 17, SubscriberID: 3, URL: "http://sub.example/hook", Error: "http_status: status 500",
		PanelError: "Code: 500", Time: time.Unix(1800000000, 0), Job: []byte{0x80}}
}

// jobOf reads the job_id of the row logID.
func jobOf(t *testing.T, db *sql.DB, logID uint64) string {
	t.Helper()
	var job string
	require.NoError(t, db.QueryRow(`SELECT job_id FROM broadcast_failure_log WHERE log_id = ?`, logID).Scan(&job))
	return job
}

// rowCount is the number of committed rows in broadcast_failure_log.
func rowCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM broadcast_failure_log`).Scan(&n))
	return n
}

// A First call gets its row's id as soon as the INSERT ran, before the
// commit; the INSERTs and the UPDATEs that arrive meanwhile share one
// commit, and each caller's id is its own row's.
func TestFirstFailuresGetTheirIdBeforeTheCommit(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	ids := failures.NewIDs()
	early := firstRecord(ids, 100)
	earlyID, err := insertFirst(t.Context(), db, newFailureLog(db, FailureLogConfig{}).row(early, OpInsert))
	require.NoError(t, err)

	// Six statements fill a batch; the linger never ends it.
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", Batch: 6, Linger: time.Hour,
		Fallback: func(r *FailureRow, err error) { t.Errorf("row %s not written: %v", r.JobID, err) }})
	commits := metrics.GetOrCreateCounter(`medispatcher_paneldb_failure_commits_total`)
	before := commits.Get()
	got := make([]uint64, 5)
	for i := range got {
		got[i] = f.First(firstRecord(ids, i))
		require.NotZero(t, got[i], "caller %d", i)
	}
	assert.Equal(t, 1, rowCount(t, db), "the callers had their ids before the commit")
	later := *early
	later.LogID, later.RetryTimes, later.Final = earlyID, 1, failures.Retrying
	f.Add(&later)
	f.Close(t.Context())

	assert.Equal(t, uint64(1), commits.Get()-before, "one transaction")
	for i, id := range got {
		assert.Equal(t, fmt.Sprintf("1732500000.000000-%d-17", i), jobOf(t, db, id), "the id is the caller's own row")
	}
	var retries int
	require.NoError(t, db.QueryRow(`SELECT retry_times FROM broadcast_failure_log WHERE log_id = ?`, earlyID).Scan(&retries))
	assert.Equal(t, 1, retries, "the UPDATE went in the same commit")
}

// When the open transaction fails after its INSERTs handed out their ids
// (a later statement refused), the rows are written again under those
// ids, so the retry jobs' LogId still names them; only the refused row
// goes to the fallback.
func TestRolledBackInsertsKeepTheirIds(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	var lost []string
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", Batch: 3, Linger: time.Hour,
		Fallback: func(r *FailureRow, err error) { lost = append(lost, r.JobID+": "+err.Error()) }})
	ids := failures.NewIDs()
	a, b := firstRecord(ids, 1), firstRecord(ids, 2)
	idA, idB := f.First(a), f.First(b)
	require.NotZero(t, idA)
	require.NotZero(t, idB)
	// retry_times is unsigned: the server refuses -1, and the transaction
	// with both INSERTs is rolled back.
	bad := *a
	bad.LogID, bad.RetryTimes, bad.Final = idA, -1, failures.Retrying
	f.Add(&bad)
	f.Close(t.Context())

	require.Len(t, lost, 1, "%v", lost)
	assert.Contains(t, lost[0], "1732500000.000000-1-17: update failure row")
	assert.Equal(t, "1732500000.000000-1-17", jobOf(t, db, idA), "written again under its id")
	assert.Equal(t, "1732500000.000000-2-17", jobOf(t, db, idB), "written again under its id")
	assert.Equal(t, 2, rowCount(t, db))

	// A later record finds its row by that id.
	g := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", Fallback: func(r *FailureRow, err error) {
		t.Errorf("row %s not written: %v", r.JobID, err)
	}})
	done := *b
	done.LogID, done.RetryTimes, done.Final = idB, 1, failures.Success
	g.Add(&done)
	g.Close(t.Context())
	var final int
	require.NoError(t, db.QueryRow(`SELECT final_status FROM broadcast_failure_log WHERE log_id = ?`, idB).Scan(&final))
	assert.Equal(t, 1, final)
}

// Many push workers failing at once each get their own row's id.
func TestConcurrentFirstFailuresGetTheirOwnRows(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", FirstWait: 10 * time.Second})
	ids := failures.NewIDs()
	const n = 32
	got := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		r := firstRecord(ids, i)
		wg.Go(func() { got[i] = f.First(r) })
	}
	wg.Wait()
	f.Close(t.Context()) // the last batch is committed
	for i, id := range got {
		require.NotZero(t, id, "caller %d", i)
		assert.Equal(t, fmt.Sprintf("1732500000.000000-%d-17", i), jobOf(t, db, id))
	}
	assert.Equal(t, n, rowCount(t, db))
}

// A record that arrives after Close (a push worker finishing late) goes to
// the fallback; it neither panics nor vanishes.
func TestRecordsAfterCloseGoToTheFallback(t *testing.T) {
	var mu sync.Mutex
	var lost []string
	f := NewFailureLog(nil, FailureLogConfig{Addr: "10.1.2.3", FirstWait: time.Millisecond,
		Fallback: func(r *FailureRow, err error) {
			mu.Lock()
			defer mu.Unlock()
			lost = append(lost, r.JobID)
		}})
	f.Close(t.Context())
	ids := failures.NewIDs()
	assert.Zero(t, f.First(firstRecord(ids, 1)))
	f.Add(firstRecord(ids, 2))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"1732500000.000000-1-17", "1732500000.000000-2-17"}, lost)
}
