// Package stages reads the daemon's own timings of where a message spends
// its time (the medispatcher_stage_seconds histogram of its /metrics, one
// series per stage) and turns two snapshots, taken before and after a run,
// into each stage's count and quantiles across the run. The load generator
// and the bench runner both report them beside the end-to-end latency the
// subscribers saw.
package stages

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Metric is the name of the daemon's stage histogram.
const Metric = "medispatcher_stage_seconds"

// bucketPrefix starts every bucket line of Metric.
const bucketPrefix = Metric + "_bucket{"

// Buckets are cumulative bucket counts per stage: stage → upper bound in
// seconds (+Inf for the last) → observations at or under it.
type Buckets map[string]map[float64]uint64

// Parse reads the Metric buckets of a Prometheus text exposition and adds
// them to into (several daemons' texts add up).
func Parse(r io.Reader, into Buckets) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), bucketPrefix)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			return fmt.Errorf("stage metrics: malformed line %q", sc.Text())
		}
		stage, le := labelValue(labels, "stage"), labelValue(labels, "le")
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if stage == "" || err != nil {
			return fmt.Errorf("stage metrics: labels of %q", sc.Text())
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return fmt.Errorf("stage metrics: value of %q: %w", sc.Text(), err)
		}
		into.add(stage, bound, uint64(n))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stage metrics: %w", err)
	}
	return nil
}

// add adds n observations at or under bound to stage's bucket.
func (b Buckets) add(stage string, bound float64, n uint64) {
	if b[stage] == nil {
		b[stage] = map[float64]uint64{}
	}
	b[stage][bound] += n
}

// labelValue is the value of label name in a Prometheus label list
// (name="value",...); "" when absent. The daemon's values hold no quotes.
func labelValue(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
