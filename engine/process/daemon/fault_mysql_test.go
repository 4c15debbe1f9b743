package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/observe/alert"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
)

// dbOutage is how long the database stays down under load: 30 s in the
// long variant, 5 s otherwise.
func dbOutage(t *testing.T) time.Duration {
	t.Helper()
	if long(t, "database down for 5 s", "database down for 30 s") {
		return 30 * time.Second
	}
	return 5 * time.Second
}

// msgIndex is the index a producer put in a message's body ({"i":n}).
func msgIndex(t *testing.T, h testsrv.Hit) int {
	var b struct{ I int }
	require.NoError(t, json.Unmarshal([]byte(h.Message), &b), h.Message)
	return b.I
}

// hasAlert reports whether the daemon's monitor raised an alert of kind.
func hasAlert(d *Daemon, kind string) bool {
	for _, a := range d.alerts.Recent(alert.DefaultRecent) {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// The database lost under load (5 s, or 30 s in the long variant): pushes
// go on with the last set read, none twice; subscription_source_down is
// raised and subscription_source_recovered once it answers; every failure
// record (a first failure, then its retry's success) is in
// broadcast_failure_log or a FAILROW line of the DATA log.
func TestMySQLDownUnderLoad(t *testing.T) {
	down := dbOutage(t)
	w, m := mysqlWorld(t)
	m.Exec(t, fmt.Sprintf(`INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, timeout)
		VALUES (12, 1, 4, '%s/flaky', 0, 0)`, w.sub.URL))
	// /flaky fails the first push of every fourth message; its retry, 1 s
	// later, succeeds.
	fails := func(h testsrv.Hit) bool { return h.Path == "/flaky" && h.RetryTimes == 0 && msgIndex(t, h)%4 == 0 }
	w.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if fails(h) {
			return 500, "down", 0
		}
		return 200, `{"status":1}`, 0
	})
	d, logs := w.runMySQLDaemon(w.mysqlConfig("down.toml", m, "PollInterval = 200"))
	w.logs = logs
	const gap = 50 * time.Millisecond
	stop := newProducer(t, w.bs.Addr, 1732500000).paced("my", gap)
	retried := func(h []testsrv.Hit) (n int) {
		for _, x := range h {
			if x.Path == "/flaky" && x.RetryTimes == 1 {
				n++
			}
		}
		return n
	}
	w.sub.WaitFor(30*time.Second, "failures retried with the database up", func(h []testsrv.Hit) bool { return retried(h) >= 2 })

	m.Kill()
	killed := time.Now()
	require.Eventually(t, func() bool { return hasAlert(d, alert.KindSourceDown) }, 20*time.Second, 20*time.Millisecond,
		"subscription_source_down raised:\n%s", logs)
	<-time.After(time.Until(killed.Add(down))) // the outage's length
	during := 0
	for _, h := range w.sub.Hits() {
		if h.Path == "/from-mysql" && !h.At.Before(killed) {
			during++
		}
	}
	m.Restart(t)
	require.Eventually(t, func() bool { return hasAlert(d, alert.KindSourceRecovered) }, 30*time.Second, 20*time.Millisecond,
		"subscription_source_recovered raised:\n%s", logs)
	// Traffic on the returned database, so that rows are written again.
	base := retried(w.sub.Hits())
	w.sub.WaitFor(30*time.Second, "failures retried after the database returned", func(h []testsrv.Hit) bool {
		return retried(h) >= base+2
	})
	n := stop()
	t.Logf("database down for %v: %d pushes to the set held meanwhile (one message every %v); %d messages in all",
		down, during, gap, n)
	require.GreaterOrEqual(t, during, int(down/gap)/2, "pushes went on while the database was down")

	failing := checkDeliveredOnce(t, w, n)
	d.Close() // the failure rows drain into the database, the rest into the DATA log
	accountFailureRecords(t, w, m, failing)
}

// checkDeliveredOnce waits until each of the n messages has its one
// success on both subscriptions and checks that nothing was pushed twice:
// /from-mysql once per message, /flaky once per message and once more
// (retry 1) for each that failed first. It returns the jobids of /flaky
// that failed.
func checkDeliveredOnce(t *testing.T, w *world, n int) (failing []string) {
	t.Helper()
	w.sub.WaitFor(60*time.Second, "every message on both subscriptions", func(h []testsrv.Hit) bool {
		ok := map[string]bool{}
		for _, x := range h {
			if x.Path == "/from-mysql" || x.RetryTimes == 1 || msgIndex(t, x)%4 != 0 {
				ok[x.JobID] = true
			}
		}
		return len(ok) == 2*n
	})
	tries := map[string][2]int{} // jobid: pushes with retry_times 0 and 1
	for _, h := range w.sub.Hits() {
		c := tries[h.JobID]
		require.Less(t, h.RetryTimes, 2, "%s retried more than once", h.JobID)
		c[h.RetryTimes]++
		tries[h.JobID] = c
		if h.Path == "/flaky" && h.RetryTimes == 0 && msgIndex(t, h)%4 == 0 {
			failing = append(failing, h.JobID)
		}
	}
	require.Len(t, tries, 2*n)
	for id, c := range tries {
		want := [2]int{1, 0}
		if c[1] > 0 {
			want = [2]int{1, 1}
		}
		require.Equal(t, want, c, "pushes of %s (retry 0, retry 1)", id)
	}
	for _, id := range failing {
		require.Equal(t, [2]int{1, 1}, tries[id], "the failed push of %s retried once", id)
	}
	return failing
}

// accountFailureRecords checks that both failure records of each failing
// jobid of /flaky (its first failure, then the success of its retry) are
// in broadcast_failure_log or a FAILROW line of the DATA log: a first
// failure written as a FAILROW line while the database was down has its
// success's UPDATE there too, even when the database was back by then (the
// UPDATE found no row).
func accountFailureRecords(t *testing.T, w *world, m *testsrv.MySQL, failing []string) {
	t.Helper()
	type row struct{ final, retries int }
	rows := map[string]row{}
	q, err := m.Open(t).Query(`SELECT job_id, final_status, retry_times FROM broadcast_failure_log WHERE subscription_id = 12`)
	require.NoError(t, err)
	for q.Next() {
		var id string
		var r row
		require.NoError(t, q.Scan(&id, &r.final, &r.retries))
		rows[id] = r
	}
	require.NoError(t, q.Err())
	lines := failRows(t, filepath.Join(w.dir, "logs"))
	var inDB, inLog int
	var kept []string
	for _, id := range failing {
		r, hasRow := rows[id]
		_, insLine := lines["insert "+id]
		up, upLine := lines["update "+id]
		require.True(t, hasRow || insLine, "first failure of %s: no row, no FAILROW line", id)
		success := upLine && field(up, "final_status") == "1" && field(up, "retry_times") == "1"
		require.True(t, success || (hasRow && r == row{1, 1}),
			"success of %s's retry: row %v (found: %v), FAILROW update: %v", id, r, hasRow, upLine)
		if !hasRow && success {
			kept = append(kept, id)
		}
		if hasRow {
			inDB++
		}
		if insLine || upLine {
			inLog++
		}
	}
	t.Logf("%d messages failed once on /flaky: %d with their row in the database, %d with FAILROW lines (%d lines); "+
		"%d with both records in the DATA log (their first failure's row was never written), e.g. %v",
		len(failing), inDB, inLog, len(lines), len(kept), kept[:min(len(kept), 3)])
	require.Positive(t, inLog, "records written while the database was down are in the DATA log")
	require.Positive(t, inDB, "records are written to the database while it is up")
}

// failRows are the FAILROW lines of the DATA log files in dir, by "op jobid".
func failRows(t *testing.T, dir string) map[string]datalog.Entry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "DATA*"))
	require.NoError(t, err)
	out := map[string]datalog.Entry{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, line := range bytes.SplitAfter(b, []byte{'\n'}) {
			if !bytes.Contains(line, []byte(" "+paneldb.FailRow+" ")) {
				continue
			}
			e, err := datalog.ParseLine(line)
			require.NoError(t, err, "%s", line)
			out[field(e, "op")+" "+field(e, "jobid")] = e
		}
	}
	return out
}

func field(e datalog.Entry, key string) string {
	v, _ := e.Field(key)
	return v
}

// A parameter changed in SQL reaches the engine within 2 s with the
// default PollInterval (1 s): the time from the UPDATE to the set with the
// new concurrency applied, and the subscription then runs 7 pushes at
// once, no more.
func TestMySQLParamChangeAppliedWithinPollInterval(t *testing.T) {
	w, m := mysqlWorld(t)
	cfg := w.mysqlConfig("param.toml", m)
	require.Equal(t, int(paneldb.DefaultPollInterval/time.Millisecond), cfg.Database.PollInterval, "the default PollInterval")
	d, logs := w.runMySQLDaemon(cfg)
	w.logs = logs
	select {
	case <-d.engine.Applied():
	case <-time.After(20 * time.Second):
		t.Fatalf("no subscription set applied:\n%s", logs)
	}
	require.Equal(t, 2, d.engine.Subscriptions().ByID(11).Concurrency)

	db := m.Open(t)
	changed := d.engine.Changed()
	sent := time.Now()
	_, err := db.Exec(`UPDATE subscription_params SET param_value = '7' WHERE subscription_id = 11 AND param_name = 'Concurrency'`)
	require.NoError(t, err) // autocommit: committed when Exec returns
	committed := time.Now()
	for {
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("the new concurrency not applied within 10 s:\n%s", logs)
		}
		if d.engine.Subscriptions().ByID(11).Concurrency == 7 {
			break
		}
		changed = d.engine.Changed()
	}
	took := time.Since(sent)
	t.Logf("Concurrency 2 → 7 applied %v after the UPDATE was sent (%v after its commit returned; PollInterval %d ms)",
		took.Round(time.Millisecond), time.Since(committed).Round(time.Millisecond), cfg.Database.PollInterval)
	require.LessOrEqual(t, took, 2*time.Second)

	// The engine runs it: answers held 1 s, 14 messages; the first 7 pushes
	// start together, the 8th only once one of them is answered.
	const hold = time.Second
	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, hold })
	w.produce("my", 14)
	hits := w.sub.WaitFor(30*time.Second, "14 pushes", func(h []testsrv.Hit) bool { return len(h) >= 14 })
	sort.Slice(hits, func(i, j int) bool { return hits[i].At.Before(hits[j].At) })
	require.Less(t, hits[6].At.Sub(hits[0].At), hold, "7 pushes at once")
	require.GreaterOrEqual(t, hits[7].At.Sub(hits[0].At), hold-100*time.Millisecond, "no 8th before an answer")
}
