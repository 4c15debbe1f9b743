package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// stageMetric is the daemon's histogram of where a message spends its
// time, one series per stage (see engine/dispatch/stage).
const stageMetric = "medispatcher_stage_seconds_bucket{"

// stageOrder is the order in which a message passes the stages; a stage
// the daemon adds later follows them, by name.
var stageOrder = []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}

// StageBuckets are cumulative bucket counts per stage: stage → upper bound
// in seconds (+Inf for the last) → observations at or under it.
type StageBuckets map[string]map[float64]uint64

// ParseStageBuckets reads the medispatcher_stage_seconds buckets of a
// Prometheus text exposition and adds them to into (several daemons' texts
// add up).
func ParseStageBuckets(r io.Reader, into StageBuckets) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), stageMetric)
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
		if into[stage] == nil {
			into[stage] = map[float64]uint64{}
		}
		into[stage][bound] += uint64(n)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stage metrics: %w", err)
	}
	return nil
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

// StageBuckets scrapes every daemon of e's /metrics and sums their stage
// buckets; nil when a daemon does not answer, since a partial sum would
// spoil the difference between two snapshots.
func (e *Env) StageBuckets(ctx context.Context) StageBuckets {
	sum := StageBuckets{}
	for _, d := range e.Daemons {
		var b strings.Builder
		if err := httpGet(ctx, "http://"+d.PromAddr+"/metrics", &b); err != nil {
			return nil
		}
		if err := ParseStageBuckets(strings.NewReader(b.String()), sum); err != nil {
			return nil
		}
	}
	return sum
}

// Bound is a quantile given as the upper bound, in ms, of the histogram
// bucket it falls in; +Inf past the last finite bound.
type Bound float64

// String is "≤X" (X in ms), or "+Inf".
func (b Bound) String() string {
	if math.IsInf(float64(b), 1) {
		return "+Inf"
	}
	return "≤" + strconv.FormatFloat(float64(b), 'g', -1, 64)
}

// MarshalJSON writes the bound as a number, or "+Inf", which JSON numbers
// cannot hold.
func (b Bound) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(b), 1) {
		return []byte(`"+Inf"`), nil
	}
	return json.Marshal(float64(b))
}

// StageLatency is one stage's observations during a run: their number and
// quantiles.
type StageLatency struct {
	Stage string `json:"stage"`
	Count uint64 `json:"count"`
	P50   Bound  `json:"p50_ms"`
	P99   Bound  `json:"p99_ms"`
	P999  Bound  `json:"p999_ms"`
}

// stageDeltas is, per stage of after (in stageOrder), the observations
// between the two snapshots and their quantiles; nil without both.
func stageDeltas(before, after StageBuckets) []StageLatency {
	if before == nil || after == nil {
		return nil
	}
	var out []StageLatency
	for _, stage := range stageNames(after) {
		bounds := make([]float64, 0, len(after[stage]))
		for le := range after[stage] {
			bounds = append(bounds, le)
		}
		sort.Float64s(bounds)
		cum := make([]uint64, len(bounds))
		for i, le := range bounds {
			if a, b := after[stage][le], before[stage][le]; a > b {
				cum[i] = a - b
			}
		}
		sl := StageLatency{Stage: stage}
		if len(cum) > 0 {
			sl.Count = cum[len(cum)-1]
		}
		sl.P50, sl.P99, sl.P999 = quantile(bounds, cum, 0.50), quantile(bounds, cum, 0.99), quantile(bounds, cum, 0.999)
		out = append(out, sl)
	}
	return out
}

// stageNames lists the stages of b, known ones in the order a message
// passes them, then any other by name.
func stageNames(b StageBuckets) []string {
	var names, other []string
	for _, s := range stageOrder {
		if _, ok := b[s]; ok {
			names = append(names, s)
		}
	}
	for s := range b {
		if !contains(stageOrder, s) {
			other = append(other, s)
		}
	}
	sort.Strings(other)
	return append(names, other...)
}

// quantile is the upper bound in ms of the bucket holding quantile p of
// the cumulative counts cum over bounds (seconds, ascending); 0 without
// observations.
func quantile(bounds []float64, cum []uint64, p float64) Bound {
	if len(cum) == 0 || cum[len(cum)-1] == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p * float64(cum[len(cum)-1])))
	for i, c := range cum {
		if c >= rank {
			// Rounded to a nanosecond: the bounds are powers of ten
			// times 1, 2 or 5, which seconds × 1000 blurs.
			return Bound(math.Round(bounds[i]*1e9) / 1e6)
		}
	}
	return Bound(math.Inf(1))
}

// stagesText is a run's note: each stage's p50/p99 in ms, stages without
// observations left out; "" without any.
func stagesText(stages []StageLatency) string {
	var parts []string
	for _, s := range stages {
		if s.Count > 0 {
			parts = append(parts, fmt.Sprintf("%s %s/%s", s.Stage, s.P50, s.P99))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "stages p50/p99 ms: " + strings.Join(parts, ", ")
}
