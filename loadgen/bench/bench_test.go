package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
)

func TestShippedScenariosLoad(t *testing.T) {
	for _, dir := range []string{"../../bench/scenarios", "../../bench/scenarios/quick"} {
		scs, err := LoadScenarios(dir)
		require.NoError(t, err, dir)
		require.NotEmpty(t, scs)
		for _, s := range scs {
			assert.NotEmpty(t, s.Text)
			assert.NotEmpty(t, s.Class, s.Name)
			if strings.HasSuffix(dir, "quick") {
				assert.Equal(t, KindFixed, s.Kind, "quick scenarios are single runs")
				assert.LessOrEqual(t, (s.Warmup.D() + s.Duration.D()).Seconds(), 10.0)
			}
		}
	}
}

func TestScenarioErrors(t *testing.T) {
	cases := map[string]string{
		"typo":         "name = \"x\"\nkind = \"fixed\"\nrate = 1\nrat = 2\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"no class":     "name = \"x\"\nkind = \"fixed\"\nrate = 1\n",
		"bad kind":     "kind = \"boom\"\nrate = 1\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"latency/of":   "kind = \"latency\"\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"no rate":      "kind = \"fixed\"\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"iso/baseline": "kind = \"isolation\"\nrate = 1\n[[class]]\nname = \"a\"\ntopics = 1\n",
	}
	for name, text := range cases {
		p := filepath.Join(t.TempDir(), "s.toml")
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		_, err := LoadScenario(p)
		assert.Error(t, err, name)
	}
	p := filepath.Join(t.TempDir(), "s.toml")
	require.NoError(t, os.WriteFile(p, []byte("kind = \"fixed\"\nrate = 5\n[daemon]\nAnyKey = 3\n[[class]]\nname = \"a\"\ntopics = 1\n"), 0o644))
	s, err := LoadScenario(p)
	require.NoError(t, err, "daemon keys are passed through unchecked")
	assert.Equal(t, int64(3), s.Daemon["AnyKey"])
	assert.True(t, s.IsFaultFree())
	assert.Equal(t, "s", s.Name)
}

func TestReplaceSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, ReplaceSection(p, "first\n"))
	b, _ := os.ReadFile(p)
	assert.True(t, strings.HasPrefix(string(b), "# Benchmarks\n"))
	assert.Contains(t, string(b), BeginMarker+"\nfirst\n"+EndMarker)

	hand := "# Benchmarks\n\nHand-written intro.\n\n" + BeginMarker + "\nold\n" + EndMarker + "\n\nHand-written notes.\n"
	require.NoError(t, os.WriteFile(p, []byte(hand), 0o644))
	require.NoError(t, ReplaceSection(p, "new\n"))
	b, _ = os.ReadFile(p)
	assert.Equal(t, "# Benchmarks\n\nHand-written intro.\n\n"+BeginMarker+"\nnew\n"+EndMarker+"\n\nHand-written notes.\n", string(b))

	require.NoError(t, os.WriteFile(p, []byte("# B\n\nnotes\n"), 0o644))
	require.NoError(t, ReplaceSection(p, "x\n"))
	b, _ = os.ReadFile(p)
	assert.True(t, strings.HasPrefix(string(b), "# B\n\nnotes\n\n"+BeginMarker), "markers appended at the end")

	require.NoError(t, os.WriteFile(p, []byte(BeginMarker+"\n"), 0o644))
	assert.Error(t, ReplaceSection(p, "x\n"), "a lone marker is not guessed at")
}

func point(phase string, backlog int64) loadgen.Point {
	return loadgen.Point{Phase: phase, Backlog: backlog}
}

func TestSustained(t *testing.T) {
	good := func() *loadgen.Report {
		return &loadgen.Report{Rate: 1000, DeliveredRate: 995, Drained: true,
			Timeline: []loadgen.Point{point("steady", 10), point("steady", 20), point("drain", 0)}}
	}
	ok, why := sustained(good())
	assert.True(t, ok, why)
	cases := map[string]func(*loadgen.Report){
		"void":        func(r *loadgen.Report) { r.Void = true },
		"lost":        func(r *loadgen.Report) { r.Ledger.Lost = 1 },
		"dup":         func(r *loadgen.Report) { r.Ledger.Duplicates = 1 },
		"not drained": func(r *loadgen.Report) { r.Drained = false },
		"slow":        func(r *loadgen.Report) { r.DeliveredRate = 900 },
		"backlog":     func(r *loadgen.Report) { r.Timeline[1].Backlog = 400 },
	}
	for name, spoil := range cases {
		r := good()
		spoil(r)
		ok, why := sustained(r)
		assert.False(t, ok, name)
		assert.NotEmpty(t, why, name)
	}
}

func TestMarkdownNeverShowsVoidFigures(t *testing.T) {
	valid := &loadgen.Report{Topics: 50, Subs: 50, Rate: 1000, DeliveredRate: 1000, Latency: loadgen.Latency{P99: 3.25}}
	void := &loadgen.Report{Topics: 500, Subs: 500, Rate: 9000, DeliveredRate: 12345, Latency: loadgen.Latency{P99: 77.7},
		Void: true, VoidReasons: []string{"producer fell 2s behind its schedule (bound 1s)"}}
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2, Go: "go1.x", Commit: "abc"}, Ceiling: ceiling.Result{CycleRate: 2000, HTTPRate: 5000},
		Results: []*Result{
			{Name: "ok", S: &Scenario{Kind: KindFixed, File: "a.toml", Text: "name = \"ok\"\n"}, Main: &RunResult{Report: valid, Rate: 1000, Sustained: true}, PeakRSSMB: 40},
			{Name: "bad", S: &Scenario{Kind: KindFixed, File: "b.toml", Text: "name = \"bad\"\n"}, Main: &RunResult{Report: void, Rate: 9000}},
		}}
	sum.Results[0].Runs = []*RunResult{sum.Results[0].Main}
	sum.Results[1].Runs = []*RunResult{sum.Results[1].Main}
	md := RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "| ok | 50 × 1 | 1000 | 1000 | 50 % |")
	assert.Contains(t, md, "3.25")
	assert.Contains(t, md, "void: producer fell 2s behind")
	assert.NotContains(t, md, "12345")
	assert.NotContains(t, md, "77.7")
	assert.Contains(t, md, "```toml\nname = \"bad\"\n```", "scenario files are quoted")
	assert.Contains(t, md, "0 lost, 0 duplicated in fault-free runs: 0 lost, 0 duplicated over 1 valid runs")
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	rep := func(rate float64) *loadgen.Report {
		return &loadgen.Report{Rate: rate, Latency: loadgen.Latency{P50: 1, P99: 2, P999: 3},
			Timeline: []loadgen.Point{{T: 1, SentRate: rate, DelRate: rate, P99: 2}, {T: 2, SentRate: rate, DelRate: rate, P99: 3}}}
	}
	r1, r2 := &RunResult{Rate: 1000, Report: rep(1000), Sustained: true}, &RunResult{Rate: 1500, Report: rep(1500), Sustained: true}
	sum := &Summary{Results: []*Result{{Name: "tp", S: &Scenario{Kind: KindThroughput}, Runs: []*RunResult{r1, r2}, Main: r2}}}
	require.NoError(t, WritePlots(dir, sum))
	for _, f := range []string{"tp-timeline.svg", "tp-p99.svg", "tp-latency-vs-rate.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.Contains(t, string(b), "<svg")
	}
}
