package paneldb

import (
	"database/sql"
	"syscall"
	"testing"
	"time"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/internal/mariadb"
	"medispatcher/internal/testsrv"
)

// BenchmarkFailureRows writes retry-storm's mix of failure rows through a
// FailureLog: per message a first failure, a failed retry and a success.
// It reports the database server's and this process's CPU per row,
// what the rows cost the machine beside the dispatching.
func BenchmarkFailureRows(b *testing.B) {
	m := testsrv.StartMySQL(b)
	m.Exec(b, Schema...)
	m.Exec(b, `INSERT INTO message_classes (class_id, class_key, class_name) VALUES (7, 'order_paid', 'Order paid')`)
	db := openAsDaemon(b, m)
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", Queue: 1 << 20,
		Fallback: func(r *FailureRow, err error) { b.Errorf("row %s not written: %v", r.JobID, err) }})
	ids := failures.NewIDs()
	job := make([]byte, 0, 600)
	job = append(job, 0x83, 0xa5, 't', 'o', 'p', 'i', 'c', 0xaa)
	job = append(job, "order_paid"...)
	dbCPU0, _ := m.CPUTime()
	own0 := ownCPU()
	b.ResetTimer()
	// A message's retries come seconds apart: the first failures, then
	// the retries, then the successes.
	firsts := make([]failures.Record, b.N)
	for i := range firsts {
		r := firstRecord(ids, i)
		r.Job = job
		if r.LogID = f.First(r); r.LogID == 0 {
			b.Fatal("no log_id")
		}
		firsts[i] = *r
	}
	for n, final := range []string{failures.Retrying, failures.Success} {
		for i := range firsts {
			r := firsts[i]
			r.RetryTimes, r.Final = n+1, final
			f.Add(&r)
		}
	}
	f.Close(b.Context())
	b.StopTimer()
	dbCPU1, _ := m.CPUTime()
	rows := float64(3 * b.N)
	b.ReportMetric(float64((dbCPU1-dbCPU0).Microseconds())/rows, "db-µs/row")
	b.ReportMetric(float64((ownCPU()-own0).Microseconds())/rows, "own-µs/row")
}

// openAsDaemon connects to m with the driver options the daemon sets
// (DriverConfig): arguments interpolated, found rows counted.
func openAsDaemon(b *testing.B, m *testsrv.MySQL) *sql.DB {
	c := m.Config()
	c.InterpolateParams, c.ClientFoundRows = true, true
	db, err := mariadb.Open(c)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func ownCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReserveIDs reserves log_ids DefaultReserveIDs at a time and
// reports the database server's CPU per id.
func BenchmarkReserveIDs(b *testing.B) {
	m := testsrv.StartMySQL(b)
	m.Exec(b, Schema...)
	f := newFailureLog(m.Open(b), FailureLogConfig{})
	dbCPU0, _ := m.CPUTime()
	b.ResetTimer()
	for range b.N {
		if _, err := f.reserve(b.Context(), DefaultReserveIDs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	dbCPU1, _ := m.CPUTime()
	b.ReportMetric(float64((dbCPU1-dbCPU0).Microseconds())/float64(b.N*DefaultReserveIDs), "db-µs/id")
}
