package stage

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsAndQuantiles(t *testing.T) {
	require.Equal(t, 50*time.Microsecond, bounds[0])
	require.Equal(t, 100*time.Second, bounds[len(bounds)-1])
	assert.Equal(t, 0, bucketOf(0))
	assert.Equal(t, 0, bucketOf(50*time.Microsecond), "a bound belongs to its own bucket (le)")
	assert.Equal(t, 1, bucketOf(51*time.Microsecond))
	assert.Equal(t, len(bounds), bucketOf(time.Hour), "+Inf")

	h := newHistogram()
	assert.Equal(t, Summary{}, h.Read(), "empty")
	for i := 0; i < 980; i++ {
		h.Observe(900 * time.Microsecond) // bucket ≤ 1 ms
	}
	for i := 0; i < 19; i++ {
		h.Observe(9 * time.Millisecond) // ≤ 10 ms
	}
	h.Observe(-time.Second) // a clock difference: counted as 0
	s := h.Read()
	assert.Equal(t, uint64(1000), s.Count)
	assert.Equal(t, time.Millisecond, s.P50)
	assert.Equal(t, time.Millisecond, s.P90)
	assert.Equal(t, 10*time.Millisecond, s.P99)
	assert.Equal(t, 10*time.Millisecond, s.P999)
	assert.Equal(t, (980*900*time.Microsecond+19*9*time.Millisecond)/1000, s.Mean)
}

func TestSinceAndPrometheus(t *testing.T) {
	tm := New()
	now := time.Unix(1732500000, 0)
	tm.Since(MainWait, 1732499999.998, now) // 2 ms
	tm.Since(MainWait, 0, now)              // no timestamp: not counted
	tm.Observe(Push, 3*time.Millisecond)
	r := tm.Read()
	assert.Equal(t, uint64(1), r[MainWait].Count)
	assert.InDelta(t, float64(2*time.Millisecond), float64(r[MainWait].Mean), float64(time.Microsecond))
	assert.Equal(t, uint64(1), r[Push].Count)
	assert.Zero(t, r[Total].Count)

	var b bytes.Buffer
	tm.WritePrometheus(&b)
	out := b.String()
	assert.Contains(t, out, `medispatcher_stage_seconds_bucket{stage="push",le="0.002"} 0`+"\n")
	assert.Contains(t, out, `medispatcher_stage_seconds_bucket{stage="push",le="0.005"} 1`+"\n")
	assert.Contains(t, out, `medispatcher_stage_seconds_bucket{stage="push",le="+Inf"} 1`+"\n")
	assert.Contains(t, out, `medispatcher_stage_seconds_count{stage="main_wait"} 1`+"\n")
	assert.Contains(t, out, `medispatcher_stage_seconds_sum{stage="push"} 0.003`+"\n")
	for _, s := range Stages() {
		assert.Equal(t, len(bounds)+1, strings.Count(out, `_bucket{stage="`+s.String()+`"`), s.String())
	}
}

// Timing off is a nil *Timings: nothing counted, nothing written.
func TestNilTimingsCountNothing(t *testing.T) {
	var tm *Timings
	tm.Observe(Push, time.Millisecond)
	tm.Since(Total, 1732500000, time.Now())
	assert.Equal(t, [numStages]Summary{}, tm.Read())
	var b bytes.Buffer
	tm.WritePrometheus(&b)
	assert.Zero(t, b.Len())
}

// Observing is on every message's path: no allocation.
func TestObserveAllocatesNothing(t *testing.T) {
	tm := New()
	now := time.Now()
	allocs := testing.AllocsPerRun(1000, func() {
		tm.Observe(SlotWait, time.Millisecond)
		tm.Since(Total, 1732500000.5, now)
	})
	assert.Zero(t, allocs)
}

func BenchmarkObserveParallel(b *testing.B) {
	tm := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tm.Observe(Push, 1500*time.Microsecond)
		}
	})
}

func BenchmarkObserve(b *testing.B) {
	tm := New()
	for b.Loop() {
		tm.Observe(Push, 1500*time.Microsecond)
	}
}
