package stats

import (
	"time"

	"medispatcher/engine/dispatch/stage"
)

// StagesFunc returns the engine's stage timings (package stage), nil
// while there is no engine. It is called once per snapshot, never on the
// message path.
type StagesFunc func() *stage.Timings

// WithStages adds the engine's latency by stage to the unfiltered
// snapshots, as f reports it. Without it, Snapshot.Stages is nil (and left
// out of the JSON).
func WithStages(f StagesFunc) Option {
	return func(s *Stats) { s.stages = f }
}

// StageLatency is the latency of one stage since the engine started, in
// milliseconds. The quantiles are the upper bounds of the histogram
// buckets they fall in (a 1-2-5 series from 50 µs to 100 s); all are 0
// before the stage's first observation.
type StageLatency struct {
	Stage  string  `json:"stage"`
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
}

// Latencies reads t: one StageLatency per stage, in stage order; nil for
// nil Timings.
func Latencies(t *stage.Timings) []StageLatency {
	if t == nil {
		return nil
	}
	sums := t.Read()
	out := make([]StageLatency, 0, len(sums))
	for i, st := range stage.Stages() {
		s := sums[i]
		out = append(out, StageLatency{Stage: st.String(), Count: s.Count, MeanMS: ms(s.Mean),
			P50MS: ms(s.P50), P90MS: ms(s.P90), P99MS: ms(s.P99), P999MS: ms(s.P999)})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// stagesNow asks s.stages for the latency by stage; nil without it.
func (s *Stats) stagesNow() []StageLatency {
	if s.stages == nil {
		return nil
	}
	return Latencies(s.stages())
}
