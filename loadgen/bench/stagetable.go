package bench

import (
	"fmt"
	"strings"
)

// quoted tells whether r has a quoted run whose figures may be shown: one
// with a report, not void.
func quoted(r *Result) bool {
	return r.Main != nil && r.Main.Report != nil && !r.Main.Report.Void
}

// writeStageTable writes, for each latency and fixed scenario whose quoted
// run has the daemons' stage timings, its end-to-end latency and beside it
// each stage's: where a message's time goes.
func writeStageTable(b *strings.Builder, sum *Summary) {
	var rows []string
	for _, r := range sum.Results {
		if r.S == nil || (r.S.Kind != KindLatency && r.S.Kind != KindFixed) || !quoted(r) || len(r.Main.Stages) == 0 {
			continue
		}
		l := r.Main.Report.Latency
		rows = append(rows, fmt.Sprintf("| %s | end to end (subscriber) | %d | %s | %s | %s |\n", r.Name, l.Count, fnum(l.P50), fnum(l.P99), fnum(l.P999)))
		for _, s := range r.Main.Stages {
			if s.Count > 0 {
				rows = append(rows, fmt.Sprintf("| %s | %s | %d | %s | %s | %s |\n", r.Name, s.Stage, s.Count, s.P50, s.P99, s.P999))
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n### Where the time goes, by stage\n\n")
	b.WriteString("The daemon's own timings (`medispatcher_stage_seconds`, summed over a scenario's daemons) across its quoted run, warmup and drain included, " +
		"beside the end-to-end latency the subscribers saw in the steady phase. A stage's quantile is the upper bound of the histogram bucket it falls in; " +
		"main_wait, channel_wait and total start at the producer's timestamp. channel_wait counts only the copies that went through their channel tube.\n\n")
	b.WriteString("| scenario | stage | count | p50 ms | p99 ms | p99.9 ms |\n|---|---|---:|---:|---:|---:|\n")
	for _, row := range rows {
		b.WriteString(row)
	}
}
