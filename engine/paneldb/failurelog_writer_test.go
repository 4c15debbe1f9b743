package paneldb

import (
	"database/sql"
	"fmt"
	"slices"
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
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: -1, Batch: 6, Linger: time.Hour,
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
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: -1, Batch: 3, Linger: time.Hour,
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
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: -1, FirstWait: 10 * time.Second})
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
	f := NewFailureLog(nil, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: -1, FirstWait: time.Millisecond,
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

// Reserved log_ids are the table's own (rolled back, never seen, never
// handed out again), a first failure with one at hand gets it without a
// wait, and its row is written under it, once even when written twice.
func TestReservedLogIDs(t *testing.T) {
	for _, oneByOne := range []bool{false, true} {
		t.Run(fmt.Sprintf("one at a time %v", oneByOne), func(t *testing.T) {
			m := testsrv.StartMySQL(t)
			m.Exec(t, Schema...)
			db := m.Open(t)
			f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: 4,
				Fallback: func(r *FailureRow, err error) { t.Errorf("row %s not written: %v", r.JobID, err) }})
			if oneByOne {
				f.idStep = oneAtATime // innodb_autoinc_lock_mode 2
			}
			reserved, err := f.reserve(t.Context(), 4)
			require.NoError(t, err)
			require.Len(t, reserved, 4)
			assert.Equal(t, 0, rowCount(t, db), "the reserving rows were rolled back")
			ids := failures.NewIDs()
			other, err := insertFirst(t.Context(), db, f.row(firstRecord(ids, 99), OpInsert))
			require.NoError(t, err)
			assert.Greater(t, other, slices.Max(reserved), "a reserved id is never handed out again")

			for _, id := range reserved {
				f.ids <- id
			}
			first := f.First(firstRecord(ids, 1))
			assert.Equal(t, reserved[0], first, "the spare id, at once")
			second := f.First(firstRecord(ids, 2))
			assert.Equal(t, reserved[1], second)
			// Written again, as after a batch whose commit failed.
			again := f.row(firstRecord(ids, 2), OpInsert)
			again.LogID, again.Reserved = second, true
			f.Close(t.Context())
			require.NoError(t, writeRow(t.Context(), db, again))

			assert.Equal(t, "1732500000.000000-1-17", jobOf(t, db, first))
			assert.Equal(t, "1732500000.000000-2-17", jobOf(t, db, second))
			assert.Equal(t, 3, rowCount(t, db), "the two rows and the other one, each once")
		})
	}
}

// Nothing is reserved before a first failure asks; once one has, the
// spares are refilled when they run low, and the first failures after
// that do not wait for their INSERT.
func TestFirstFailuresAskForReservedIDs(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	reservedTotal := metrics.GetOrCreateCounter(`medispatcher_paneldb_reserved_log_ids_total`)
	before := reservedTotal.Get()
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: 4, Linger: time.Millisecond,
		Fallback: func(r *FailureRow, err error) { t.Errorf("row %s not written: %v", r.JobID, err) }})
	assert.Zero(t, len(f.ids), "nothing reserved before a first failure")
	ids := failures.NewIDs()
	waited := f.First(firstRecord(ids, 1))
	require.NotZero(t, waited, "no spare id: the INSERT was waited for")
	require.Eventually(t, func() bool { return len(f.ids) == 4 }, 10*time.Second, time.Millisecond,
		"the first failure asked for ids")
	var got []uint64
	for i := range 8 {
		id := f.First(firstRecord(ids, 2+i))
		require.NotZero(t, id)
		got = append(got, id)
	}
	require.Eventually(t, func() bool { return reservedTotal.Get()-before > 4 && len(f.ids) >= 2 },
		10*time.Second, time.Millisecond, "refilled when the spares ran low")
	f.Close(t.Context())
	for i, id := range got {
		assert.Equal(t, fmt.Sprintf("1732500000.000000-%d-17", 2+i), jobOf(t, db, id))
	}
	assert.Equal(t, 9, rowCount(t, db))
}

// Ids are reserved only on servers that keep the AUTO_INCREMENT counter
// across restarts.
func TestKeepsAutoIncrement(t *testing.T) {
	for version, keeps := range map[string]bool{
		"10.11.6-MariaDB-0+deb12u1": true,
		"11.4.2-MariaDB":            true,
		"10.2.4-MariaDB":            true,
		"10.2.3-MariaDB-log":        false,
		"10.1.48-MariaDB":           false,
		"5.5.5-10.3.39-MariaDB":     false, // the old replication prefix: not trusted
		"8.0.36":                    true,
		"8.4.0-commercial":          true,
		"5.7.44-log":                false,
		"5.6.51":                    false,
		"":                          false,
		"garbage":                   false,
	} {
		assert.Equal(t, keeps, keepsAutoIncrement(version), version)
	}
}
