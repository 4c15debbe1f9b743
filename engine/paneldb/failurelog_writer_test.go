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

// The First calls waiting at one moment are committed in one transaction
// with the UPDATEs queued by then, and each caller still gets the id of
// its own row.
func TestWaitingFirstFailuresShareOneCommit(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	f := newFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", Fallback: func(r *FailureRow, err error) {
		t.Errorf("row %s not written: %v", r.JobID, err)
	}})
	ids := failures.NewIDs()
	early := firstRecord(ids, 100)
	earlyID, err := insertFirst(t.Context(), db, f.row(early, OpInsert))
	require.NoError(t, err)
	later := *early
	later.LogID, later.RetryTimes, later.Final = earlyID, 1, failures.Retrying

	commits := metrics.GetOrCreateCounter(`medispatcher_paneldb_failure_commits_total`)
	before := commits.Get()
	var reqs []*firstReq
	for i := range 5 {
		reqs = append(reqs, &firstReq{row: f.row(firstRecord(ids, i), OpInsert),
			deadline: time.Now().Add(time.Minute), reply: make(chan firstReply, 1)})
	}
	f.write(reqs, []*FailureRow{f.row(&later, OpUpdate)})

	assert.Equal(t, uint64(1), commits.Get()-before, "one transaction")
	seen := map[uint64]bool{}
	for i, r := range reqs {
		rep := <-r.reply
		require.NoError(t, rep.err)
		assert.False(t, seen[rep.id], "id %d given twice", rep.id)
		seen[rep.id] = true
		assert.Equal(t, fmt.Sprintf("1732500000.000000-%d-17", i), jobOf(t, db, rep.id), "the id is the caller's own row")
	}
	var retries int
	require.NoError(t, db.QueryRow(`SELECT retry_times FROM broadcast_failure_log WHERE log_id = ?`, earlyID).Scan(&retries))
	assert.Equal(t, 1, retries, "the queued UPDATE went in the same commit")
}

// Many push workers failing at once each get their own row's id.
func TestConcurrentFirstFailuresGetTheirOwnRows(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", FirstWait: 10 * time.Second})
	t.Cleanup(func() { f.Close(t.Context()) })
	ids := failures.NewIDs()
	const n = 32
	got := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		r := firstRecord(ids, i)
		wg.Go(func() { got[i] = f.First(r) })
	}
	wg.Wait()
	for i, id := range got {
		require.NotZero(t, id, "caller %d", i)
		assert.Equal(t, fmt.Sprintf("1732500000.000000-%d-17", i), jobOf(t, db, id))
	}
	var rows int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM broadcast_failure_log`).Scan(&rows))
	assert.Equal(t, n, rows)
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
