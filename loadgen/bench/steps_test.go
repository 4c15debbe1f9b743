package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
)

// The throughput searches start at light load, so that their
// latency-vs-rate plots do too, and still reach their max_rate bound in a
// bounded number of steps.
func TestShippedThroughputStartsLow(t *testing.T) {
	by := shippedScenarios(t)
	for _, name := range []string{"throughput-1", "throughput-500"} {
		s := by[name]
		require.NotNil(t, s, name)
		assert.Equal(t, 200.0, s.Rate, name)
		var rates []float64
		for rate := s.Rate; rate <= s.MaxRate; rate *= s.Step {
			rates = append(rates, rate)
		}
		assert.Equal(t, []float64{200, 300, 450}, rates[:3], name)
		assert.Len(t, rates, 15, "%s: steps up to max_rate", name)
		files := plotFiles(&Result{Name: name, S: s, Runs: []*RunResult{{}, {}}, Main: &RunResult{Report: &loadgen.Report{}}})
		assert.Contains(t, files, name+"-latency-vs-rate.svg")
	}
	l := by["latency-1000"]
	require.NotNil(t, l)
	assert.Equal(t, []any{KindFixed, 1000.0, 512, false}, []any{l.Kind, l.Rate, l.Size, l.Pprof})
}
