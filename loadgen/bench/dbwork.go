package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// The daemons' counters of their work against the 2.x database (engine/
// paneldb): the subscriptions' change probes and full reads, their failed
// queries, and the failure rows written to broadcast_failure_log.
const (
	metricProbes        = `medispatcher_paneldb_queries_total{kind="probe"}`
	metricReads         = `medispatcher_paneldb_queries_total{kind="read"}`
	metricErrors        = `medispatcher_paneldb_errors_total`
	metricRowsInserted  = `medispatcher_paneldb_failure_rows_total{op="insert"}`
	metricRowsUpdated   = `medispatcher_paneldb_failure_rows_total{op="update"}`
	metricFailureErrors = `medispatcher_paneldb_failure_errors_total`
	metricCommits       = `medispatcher_paneldb_failure_commits_total`
)

var dbMetrics = []string{metricProbes, metricReads, metricErrors, metricRowsInserted, metricRowsUpdated, metricFailureErrors, metricCommits}

// DatabaseWork is what a run asked of the database, from the daemons'
// counters (summed over them, the difference across the run) and the
// MariaDB process's CPU.
type DatabaseWork struct {
	ProbesPerS    float64 `json:"probes_per_s"`
	ReadsPerS     float64 `json:"reads_per_s"`
	Errors        int64   `json:"errors"` // failed probes and reads
	RowsInserted  int64   `json:"failure_rows_inserted"`
	RowsUpdated   int64   `json:"failure_rows_updated"`
	FailureErrors int64   `json:"failure_errors"`  // failure rows not written
	Commits       int64   `json:"failure_commits"` // transactions that wrote failure rows
	CPUPer1k      float64 `json:"mariadb_cpu_s_per_1k"`
}

// DatabaseCounters sums dbMetrics over e's daemons' /metrics (a counter a
// daemon does not show yet is 0); nil without a MariaDB, or when a daemon
// does not answer, since a partial sum would spoil the difference.
func (e *Env) DatabaseCounters(ctx context.Context) map[string]float64 {
	if e.MariaDB == nil {
		return nil
	}
	sum := map[string]float64{}
	for _, d := range e.Daemons {
		var buf bytes.Buffer
		if err := httpGet(ctx, "http://"+d.PromAddr+"/metrics", &buf); err != nil {
			return nil
		}
		addCounters(&buf, sum)
	}
	return sum
}

// addCounters adds the dbMetrics series of a Prometheus text exposition
// to sum.
func addCounters(text *bytes.Buffer, sum map[string]float64) {
	sc := bufio.NewScanner(text)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !contains(dbMetrics, series) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			sum[series] += v
		}
	}
}

// databaseWork is the work between two samples of a run that delivered
// delivered messages; nil without the counters of both.
func databaseWork(before, after sample, delivered int64) *DatabaseWork {
	if before.db == nil || after.db == nil {
		return nil
	}
	d := func(m string) float64 { return after.db[m] - before.db[m] }
	w := &DatabaseWork{Errors: int64(d(metricErrors)), RowsInserted: int64(d(metricRowsInserted)),
		RowsUpdated: int64(d(metricRowsUpdated)), FailureErrors: int64(d(metricFailureErrors)),
		Commits: int64(d(metricCommits))}
	if secs := after.at.Sub(before.at).Seconds(); secs > 0 {
		w.ProbesPerS, w.ReadsPerS = d(metricProbes)/secs, d(metricReads)/secs
	}
	if delivered > 0 {
		w.CPUPer1k = (after.dbCPU - before.dbCPU) / float64(delivered) * 1000
	}
	return w
}

// databaseText is w in one line, beside beanstalkd's CPU per 1000
// messages (bsCPUPer1k); "" for nil.
func databaseText(w *DatabaseWork, bsCPUPer1k float64) string {
	if w == nil {
		return ""
	}
	return fmt.Sprintf("database: %.2f probes/s, %.2f full reads/s, %d failed queries; failure rows %d inserted, %d updated, %d not written, %d commits; "+
		"CPU s/1k msg: mariadbd %.3f, beanstalkd %.3f",
		w.ProbesPerS, w.ReadsPerS, w.Errors, w.RowsInserted, w.RowsUpdated, w.FailureErrors, w.Commits, w.CPUPer1k, bsCPUPer1k)
}
