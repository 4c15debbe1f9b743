package stats

import (
	"time"

	"medispatcher/engine/dispatch/stage"
)

// StagesFunc returns the engine's stage timings (package stage), nil
// while there is no engine. It is called once per snapshot, never on the
// message path.
type StagesFunc func() *stage.Timings

// WithStages adds the engine's latency by stage, since it started and
// over the recent window, to the unfiltered snapshots, as f reports it.
// Without it, Snapshot.Stages and StagesRecent are nil (and left out of
// the JSON).
func WithStages(f StagesFunc) Option {
	return func(s *Stats) { s.stages = f }
}

// StageLatency is the latency of one stage, since the engine started or
// over the recent window, in milliseconds. The quantiles are the upper
// bounds of the histogram buckets they fall in (a 1-2-5 series from 50 µs
// to 100 s); all are 0 before the stage's first observation.
type StageLatency struct {
	Stage  string  `json:"stage"`
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
}

// Latencies reads t since the engine started: one StageLatency per stage,
// in stage order; nil for nil Timings.
func Latencies(t *stage.Timings) []StageLatency {
	if t == nil {
		return nil
	}
	sums := t.Read()
	return latencies(sums[:])
}

// RecentLatencies reads t over its recent window at now (about the last
// minute, see stage.Timings.ReadRecent): one StageLatency per stage, in
// stage order, and the seconds the window spans; nil and 0 for nil
// Timings.
func RecentLatencies(t *stage.Timings, now time.Time) ([]StageLatency, float64) {
	if t == nil {
		return nil, 0
	}
	sums, span := t.ReadRecent(now)
	return latencies(sums[:]), span.Seconds()
}

// latencies converts the summaries of every stage, in stage order.
func latencies(sums []stage.Summary) []StageLatency {
	out := make([]StageLatency, 0, len(sums))
	for i, st := range stage.Stages() {
		s := sums[i]
		out = append(out, StageLatency{Stage: st.String(), Count: s.Count, MeanMS: ms(s.Mean),
			P50MS: ms(s.P50), P90MS: ms(s.P90), P99MS: ms(s.P99), P999MS: ms(s.P999)})
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// addStages puts the latency by stage into snap, since start and over the
// recent window at now; nothing without s.stages.
func (s *Stats) addStages(snap *Snapshot, now time.Time) {
	if s.stages == nil {
		return
	}
	t := s.stages()
	snap.Stages = Latencies(t)
	snap.StagesRecent, snap.StagesRecentS = RecentLatencies(t, now)
}
