package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"medispatcher/loadgen"
	"medispatcher/loadgen/stages"
)

// The quoted run's stages appear in its scenario's note line and in the
// stage table beside its end-to-end latency; a void run's never do.
func TestMarkdownStages(t *testing.T) {
	timings := []stages.Latency{
		{Stage: "main_wait", Count: 5000, P50: 1, P99: 5, P999: 10},
		{Stage: "redist_queue", Count: 5000, P50: 0.05, P99: 0.1, P999: 0.2},
		{Stage: "channel_wait"},
		{Stage: "slot_wait", Count: 5000, P50: 0.05, P99: 0.5, P999: 1},
		{Stage: "push", Count: 5000, P50: 0.2, P99: 1, P999: 2},
		{Stage: "total", Count: 5000, P50: 2, P99: 10, P999: 20},
	}
	rep := &loadgen.Report{Topics: 500, Subs: 500, Rate: 1000, DeliveredRate: 1000, Drained: true,
		Latency: loadgen.Latency{Count: 10000, P50: 1.25, P90: 2, P99: 4.5, P999: 12.5, Max: 30}}
	main := &RunResult{Rate: 1000, Report: rep, Sustained: true, Stages: timings}
	void := &RunResult{Rate: 1000, Report: &loadgen.Report{Topics: 1, Subs: 1, Void: true, VoidReasons: []string{"x"}},
		Stages: []stages.Latency{{Stage: "push", Count: 7, P50: 777, P99: 777}}}
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Results: []*Result{
		{Name: "latency-1000", S: &Scenario{Kind: KindFixed}, Runs: []*RunResult{main}, Main: main},
		{Name: "bad", S: &Scenario{Kind: KindFixed}, Runs: []*RunResult{void}, Main: void},
	}}
	md := RenderMarkdown(sum, Options{Out: "bench/out"})
	assert.Contains(t, md, "- **latency-1000**: stages p50/p99 ms: main_wait ≤1/≤5, redist_queue ≤0.05/≤0.1, slot_wait ≤0.05/≤0.5, push ≤0.2/≤1, total ≤2/≤10\n")
	assert.Contains(t, md, "### Where the time goes, by stage")
	assert.Contains(t, md, "| latency-1000 | end to end (subscriber) | 10000 | 1.25 | 4.50 | 12.5 |\n| latency-1000 | main_wait | 5000 | ≤1 | ≤5 | ≤10 |\n")
	assert.Contains(t, md, "| latency-1000 | total | 5000 | ≤2 | ≤10 | ≤20 |")
	assert.NotContains(t, md, "channel_wait |", "a stage without observations has no row")
	assert.NotContains(t, md, "777")
}
