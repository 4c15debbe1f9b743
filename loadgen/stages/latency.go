package stages

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
)

// order is the order in which a message passes the stages; a stage the
// daemon adds later follows them, by name.
var order = []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}

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

// Latency is one stage's observations during a run: their number and
// quantiles.
type Latency struct {
	Stage string `json:"stage"`
	Count uint64 `json:"count"`
	P50   Bound  `json:"p50_ms"`
	P99   Bound  `json:"p99_ms"`
	P999  Bound  `json:"p999_ms"`
}

// Delta is, per stage of after (in the order a message passes them), the
// observations between the two snapshots and their quantiles; nil without
// both.
func Delta(before, after Buckets) []Latency {
	if before == nil || after == nil {
		return nil
	}
	var out []Latency
	for _, stage := range names(after) {
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
		sl := Latency{Stage: stage}
		if len(cum) > 0 {
			sl.Count = cum[len(cum)-1]
		}
		sl.P50, sl.P99, sl.P999 = quantile(bounds, cum, 0.50), quantile(bounds, cum, 0.99), quantile(bounds, cum, 0.999)
		out = append(out, sl)
	}
	return out
}

// names lists the stages of b, known ones in the order a message passes
// them, then any other by name.
func names(b Buckets) []string {
	var known, other []string
	for _, s := range order {
		if _, ok := b[s]; ok {
			known = append(known, s)
		}
	}
	for s := range b {
		if !slices.Contains(order, s) {
			other = append(other, s)
		}
	}
	sort.Strings(other)
	return append(known, other...)
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
