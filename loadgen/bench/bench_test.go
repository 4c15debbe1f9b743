package bench

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
)

func TestShippedScenariosLoad(t *testing.T) {
	for _, dir := range []string{"../../bench/scenarios", "../../bench/scenarios/quick", "../../bench/scenarios/tail-matrix", "../../bench/scenarios/fastpath"} {
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

// shippedScenarios is the scenarios of bench/scenarios by name.
func shippedScenarios(t *testing.T) map[string]*Scenario {
	t.Helper()
	scs, err := LoadScenarios("../../bench/scenarios")
	require.NoError(t, err)
	by := map[string]*Scenario{}
	for _, s := range scs {
		by[s.Name] = s
	}
	return by
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
	require.NoError(t, WritePlots(dir, sum, nil, ""))
	for _, f := range []string{"tp-timeline.svg", "tp-p99.svg", "tp-latency-vs-rate.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.Contains(t, string(b), "<svg")
	}
	b, err := os.ReadFile(filepath.Join(dir, "tp-latency-vs-rate.svg"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "old p99", "no baseline, no baseline curves")

	// A baseline's run of the same scenario, saved as summary.json and
	// read back, is drawn beside this run's curves.
	base := &Summary{Results: []*Result{{Name: "tp", Runs: []*RunResult{
		{Rate: 1000, Report: rep(1000), Sustained: true}, {Rate: 1500, Report: rep(1500)}}}}}
	data, err := json.Marshal(base)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "summary.json")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	loaded, err := loadSummary(path)
	require.NoError(t, err)
	require.NoError(t, WritePlots(dir, sum, loaded, "old"))
	b, err = os.ReadFile(filepath.Join(dir, "tp-latency-vs-rate.svg"))
	require.NoError(t, err)
	for _, name := range []string{"now p99", "old p50", "old p99"} {
		assert.Contains(t, string(b), name)
	}
	_, err = loadSummary(filepath.Join(t.TempDir(), "missing.json"))
	assert.Error(t, err, "a missing baseline is an error, not an empty one")
}

func writeScenario(t *testing.T, dir, file, text string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

const compareText = `kind = "compare"
of = "tp"
[daemon]
LogLevel = "info"
Observability = true
[on]
[off]
Observability = false
[[class]]
name = "a"
topics = 1
`

func TestCompareScenario(t *testing.T) {
	s, err := LoadScenario(writeScenario(t, t.TempDir(), "obs.toml", compareText))
	require.NoError(t, err)
	assert.Equal(t, KindCompare, s.Kind)
	assert.Equal(t, 1.3, s.Fraction, "compare overloads by default")
	assert.Equal(t, 3, s.Repeat)
	assert.Zero(t, s.Goal)
	assert.Equal(t, map[string]any{"LogLevel": "info", "Observability": true}, s.variantKeys(s.On), "an empty [on] is [daemon] as it is")
	assert.Equal(t, map[string]any{"LogLevel": "info", "Observability": false}, s.variantKeys(s.Off), "[off] over [daemon]")
	assert.Equal(t, true, s.Daemon["Observability"], "merging leaves [daemon] alone")

	lat, err := LoadScenario(writeScenario(t, t.TempDir(), "lat.toml", "kind = \"latency\"\nof = \"tp\"\n[[class]]\nname = \"a\"\ntopics = 1\n"))
	require.NoError(t, err)
	assert.Equal(t, 0.5, lat.Fraction, "latency keeps its own default")

	cases := map[string]string{
		"no of":          strings.Replace(compareText, "of = \"tp\"\n", "", 1),
		"same variants":  strings.Replace(compareText, "Observability = false", "", 1),
		"no variants":    "kind = \"compare\"\nof = \"tp\"\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"negative":       strings.Replace(compareText, "of = \"tp\"\n", "of = \"tp\"\nrepeat = -1\n", 1),
		"bad goal":       strings.Replace(compareText, "of = \"tp\"\n", "of = \"tp\"\ngoal = -0.5\n", 1),
		"neg fraction":   strings.Replace(compareText, "of = \"tp\"\n", "of = \"tp\"\nfraction = -1.0\n", 1),
		"on in fixed":    "kind = \"fixed\"\nrate = 1\n[on]\nX = 1\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"repeat in iso":  "kind = \"isolation\"\nrate = 1\nbaseline = [\"a\"]\nrepeat = 2\n[[class]]\nname = \"a\"\ntopics = 1\n",
		"unknown in cmp": strings.Replace(compareText, "of = \"tp\"\n", "of = \"tp\"\nrepeats = 2\n", 1),
	}
	for name, text := range cases {
		_, err := LoadScenario(writeScenario(t, t.TempDir(), "s.toml", text))
		assert.Error(t, err, name)
	}
}

func TestCompareNeedsEarlierThroughput(t *testing.T) {
	tp := "name = \"tp\"\nkind = \"throughput\"\nrate = 100\n[[class]]\nname = \"a\"\ntopics = 1\n"
	fixed := "name = \"tp\"\nkind = \"fixed\"\nrate = 100\n[[class]]\nname = \"a\"\ntopics = 1\n"
	for name, c := range map[string]struct {
		files map[string]string
		ok    bool
	}{
		"after throughput": {map[string]string{"10-tp.toml": tp, "60-obs.toml": compareText}, true},
		"before it":        {map[string]string{"70-tp.toml": tp, "60-obs.toml": compareText}, false},
		"of a fixed one":   {map[string]string{"10-tp.toml": fixed, "60-obs.toml": compareText}, false},
		"of nothing":       {map[string]string{"60-obs.toml": compareText}, false},
	} {
		dir := t.TempDir()
		for f, text := range c.files {
			writeScenario(t, dir, f, text)
		}
		_, err := LoadScenarios(dir)
		if c.ok {
			assert.NoError(t, err, name)
		} else {
			assert.Error(t, err, name)
		}
	}
}

func TestShippedObservabilityScenario(t *testing.T) {
	scs, err := LoadScenarios("../../bench/scenarios")
	require.NoError(t, err)
	var obs, tp *Scenario
	for _, s := range scs {
		switch s.Name {
		case "observability":
			obs = s
		case "throughput-500":
			tp = s
		}
	}
	require.NotNil(t, obs)
	require.NotNil(t, tp)
	assert.Equal(t, KindCompare, obs.Kind)
	assert.Equal(t, "throughput-500", obs.Of)
	assert.Equal(t, tp.Class, obs.Class, "the same load as the scenario whose max it starts from")
	assert.Equal(t, tp.Size, obs.Size)
	assert.Equal(t, false, obs.variantKeys(obs.Off)["Observability"])
	assert.Equal(t, true, obs.variantKeys(obs.On)["Observability"])
	perRun := obs.Warmup.D() + obs.Duration.D()
	assert.LessOrEqual(t, (perRun * time.Duration(2*obs.Repeat)).Seconds(), 60.0, "six runs in about two minutes with drain and start-up")
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{6300, 6120, 6500}, 6300},
	} {
		in := append([]float64(nil), c.in...)
		assert.Equal(t, c.want, median(c.in), "%v", c.in)
		assert.Equal(t, in, c.in, "the input keeps its order")
	}
}

func compareRun(label string, delivered, cpu float64) *RunResult {
	return &RunResult{Label: label, Rate: 8000, CPUPer1k: cpu, Report: &loadgen.Report{Rate: 8000, DeliveredRate: delivered, Drained: true}}
}

func TestCompareRuns(t *testing.T) {
	on := []*RunResult{compareRun("on 1", 6100, 0.12), compareRun("on 2", 6200, 0.13), compareRun("on 3", 5900, 0.11)}
	off := []*RunResult{compareRun("off 1", 6400, 0.10), compareRun("off 2", 6000, 0.12), compareRun("off 3", 6500, 0.11)}
	c := compareRuns(on, off, 0.95)
	assert.Equal(t, 3, c.Pairs)
	assert.Equal(t, 6100.0, c.On.MedDelivered)
	assert.Equal(t, 6400.0, c.Off.MedDelivered)
	assert.InDelta(t, 6100.0/6400.0, c.Ratio, 1e-12)
	assert.InDelta(t, 0.12, c.On.MedCPUPer1k, 1e-12)
	assert.InDelta(t, 0.11, c.Off.MedCPUPer1k, 1e-12)
	assert.True(t, c.Met(), "0.953 ≥ 0.95")
	assert.Equal(t, "on/off: delivered 6100 vs 6400 msgs/s (medians of 3 pairs), ratio 0.953 (goal ≥ 0.95, met); daemon CPU 0.120 vs 0.110 s per 1k msgs", c.Note())
	assert.Equal(t, "delivered msgs/s per run: on 6100, 6200, 5900; off 6400, 6000, 6500", c.RunsNote())
	assert.Same(t, on[0], medianRun(on, usableOn), "the quoted run is the median one")

	// A void run and a failed one are left out of the medians.
	off[2].Report.Void = true
	on[1] = &RunResult{Label: "on 2", Err: "daemon exited at start"}
	on[2].Report.DeliveredRate = 5500
	c = compareRuns(on, off, 0.95)
	assert.Equal(t, 2, c.On.Runs)
	assert.Equal(t, 2, c.Off.Runs)
	assert.Equal(t, 5800.0, c.On.MedDelivered)
	assert.Equal(t, 6200.0, c.Off.MedDelivered)
	assert.InDelta(t, 5800.0/6200.0, c.Ratio, 1e-12)
	assert.False(t, c.Met())
	assert.Contains(t, c.Note(), "medians of 2 on and 2 off valid runs of 3 pairs")
	assert.Contains(t, c.Note(), "goal not met")
	assert.Same(t, on[2], medianRun(on, usableOn), "lower middle of an even count")

	for _, rr := range off {
		rr.Report.Void = true
	}
	c = compareRuns(on, off, 0.95)
	assert.Zero(t, c.Ratio, "no ratio without a valid off run")
	assert.False(t, c.Met())
	assert.Contains(t, c.Note(), "no ratio")
	assert.Equal(t, "delivered msgs/s per run: on 6100, 5500; off none valid", c.RunsNote())
	assert.Same(t, off[2], medianRun(off, usable), "without a valid run the last one is quoted, so its failure shows")
	assert.Nil(t, medianRun(nil, usable))

	c = compareRuns([]*RunResult{compareRun("on 1", 900, 0.2)}, []*RunResult{compareRun("off 1", 1000, 0.2)}, 0)
	assert.NotContains(t, c.Note(), "goal", "no goal, no verdict")
	assert.NotContains(t, c.Note(), "kept up")

	kept := compareRun("off 1", 8000, 0.2)
	kept.Sustained = true
	c = compareRuns([]*RunResult{compareRun("on 1", 7000, 0.2)}, []*RunResult{kept}, 0.95)
	assert.Equal(t, 1, c.Off.KeptUp)
	assert.Contains(t, c.Note(), "; 1 of 2 runs kept up with the offer (no overload", "a ratio from runs that were no overload is flagged")
}

func TestMarkdownCompare(t *testing.T) {
	on := []*RunResult{compareRun("on 1", 6100, 0.12), compareRun("on 2", 6200, 0.13), compareRun("on 3", 5900, 0.11)}
	off := []*RunResult{compareRun("off 1", 6400, 0.10), compareRun("off 2", 6000, 0.12), compareRun("off 3", 6500, 0.11)}
	for _, rr := range append(append([]*RunResult{}, on...), off...) {
		rr.Report.Topics, rr.Report.Subs = 500, 500
	}
	c := compareRuns(on, off, 0.95)
	r := &Result{Name: "observability", S: &Scenario{Kind: KindCompare, File: "o.toml", Text: "x\n"}, Compare: &c,
		Runs: append(append([]*RunResult{}, on...), off...), Main: medianRun(on, usableOn), Notes: []string{c.Note()}}
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceiling.Result{CycleRate: 15000}, Results: []*Result{r}}
	md := RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "| observability | 500 × 1 | 8000 | 6100 |", "the median on run is the quoted one")
	assert.Contains(t, md, "- **observability**: on/off: delivered 6100 vs 6400 msgs/s")
	assert.Contains(t, md, "- observability on ÷ off, delivered rate ≥ 0.95 (500 topics, 8000/s offered, 3 interleaved pairs): 6100 vs 6400 msgs/s (medians), ratio 0.953; daemon CPU 0.120 vs 0.110 s per 1k msgs — **met**")
	assert.NotContains(t, md, "**failed**", "unsustained overload runs are not failures")
}

func TestJudgeCompare(t *testing.T) {
	s := &Scenario{Kind: KindCompare}
	over := compareRun("on 1", 6000, 0.1) // 8000 offered: not sustained
	res := &Result{Runs: []*RunResult{over, compareRun("off 1", 6200, 0.1)}}
	res.judge(s)
	assert.Empty(t, res.Failures, "an overload run is not a failure for not keeping up")

	lost := compareRun("off 2", 6100, 0.1)
	lost.Report.Ledger.Lost = 3
	void := compareRun("on 2", 6100, 0.1)
	void.Report.Void, void.Report.VoidReasons = true, []string{"producer fell 2s behind its schedule (bound 1s)"}
	res = &Result{Runs: []*RunResult{over, lost, void}}
	res.judge(s)
	assert.Equal(t, []string{"off 2 lost 3, duplicated 0", "on 2 void: [producer fell 2s behind its schedule (bound 1s)]"}, res.Failures)

	no := false
	res = &Result{Runs: []*RunResult{lost}}
	res.judge(&Scenario{Kind: KindCompare, FaultFree: &no})
	assert.Empty(t, res.Failures, "losses are expected where the scenario says so")
}

func TestSelectScenarios(t *testing.T) {
	scs := []*Scenario{{Name: "tp", Kind: KindThroughput}, {Name: "lat", Kind: KindLatency, Of: "tp"}, {Name: "fsync", Kind: KindThroughput}}
	all, err := selectScenarios(scs, nil)
	require.NoError(t, err)
	assert.Equal(t, scs, all)
	got, err := selectScenarios(scs, []string{"fsync", " tp"})
	require.NoError(t, err)
	assert.Equal(t, []*Scenario{scs[0], scs[2]}, got, "in file order, whatever the order named")
	_, err = selectScenarios(scs, []string{"lat"})
	assert.ErrorContains(t, err, "builds on tp", "a latency scenario needs its throughput one")
	got, err = selectScenarios(scs, []string{"tp", "lat"})
	require.NoError(t, err, "a latency scenario named with its throughput one")
	assert.Equal(t, []*Scenario{scs[0], scs[1]}, got)
	_, err = selectScenarios(scs, []string{"tp", "nope", "also"})
	assert.ErrorContains(t, err, "no scenario also, nope")
}

func TestMarkdownBothCeilings(t *testing.T) {
	ceil := ceiling.Result{CycleRate: 15000, Cycle3Rate: 30000, HTTPRate: 50000, Cycles: []ceiling.Cycles{
		{Tubes: 4, Six: ceiling.Rate{PerS: 15000, CPUPer1k: 0.05}, Three: ceiling.Rate{PerS: 30000, CPUPer1k: 0.025}},
		{Tubes: 500, Six: ceiling.Rate{PerS: 10000, CPUPer1k: 0.08}, Three: ceiling.Rate{PerS: 25000, CPUPer1k: 0.03}},
	}}
	rep := func(topics int) *loadgen.Report {
		return &loadgen.Report{Topics: topics, Subs: topics, Rate: 6000, DeliveredRate: 6000, Drained: true}
	}
	few := &RunResult{Rate: 6000, Report: rep(1), Sustained: true, CPUPer1k: 0.1, BeanstalkdCPUPer1k: 0.07}
	many := &RunResult{Rate: 6000, Report: rep(500), Sustained: true, CPUPer1k: 0.1, BeanstalkdCPUPer1k: 0.09}
	fsync := &RunResult{Rate: 6000, Report: rep(500), Sustained: true, CPUPer1k: 0.1}
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceil, Results: []*Result{
		{Name: "tp-1", S: &Scenario{Kind: KindThroughput, Binlog: BinlogOff}, Runs: []*RunResult{few}, Main: few},
		{Name: "tp-500", S: &Scenario{Kind: KindThroughput, Binlog: BinlogOff}, Runs: []*RunResult{many}, Main: many},
		{Name: "tp-500-fsync", S: &Scenario{Kind: KindThroughput, Binlog: BinlogFsync}, Runs: []*RunResult{fsync}, Main: fsync},
	}}
	md := RenderMarkdown(sum, Options{Out: "bench/out"})
	assert.Contains(t, md, "| of ceiling | of 3-op ceiling |")
	assert.Contains(t, md, "three-op cycle (put main → reserve → delete), the same channel tubes watched, idle | 500 | 25000 msg/s | 0.030 |")
	assert.Contains(t, md, "dispatch cycle (put main → reserve → put channel → delete → reserve channel → delete), raw pipelined client, 1 server | 4 | 15000 msg/s | 0.050 |")
	assert.Contains(t, md, "ceiling: six-op cycle 15000 msg/s, three-op cycle 30000 msg/s (2.00× the six-op)")
	assert.Contains(t, md, "| tp-1 | 1 × 1 | 6000 | 6000 | 40 % | 20 % |", "1 topic: the cycles with a tube per pipeline")
	assert.Contains(t, md, "| tp-500 | 500 × 1 | 6000 | 6000 | 60 % | 24 % |", "500 topics: the cycles with 500 tubes")
	assert.Contains(t, md, "| 0.100 | 0.090 |", "beanstalkd's CPU per message next to the daemon's")
	assert.Contains(t, md, "- **tp-500-fsync**: beanstalkd with a binlog and an fsync per write (`-b DIR -f 0`)")
	assert.Contains(t, md, "(tp-500, 500 topics): 6000/s = 60 % of 10000/s (six-op cycle, 500 channel tubes; 24 % of the three-op cycle's 25000/s) — **met**")

	var console strings.Builder
	writeConsole(&console, sum)
	assert.Contains(t, console.String(), "ceiling: beanstalkd six-op cycle 15000 msg/s, three-op cycle 30000 msg/s")
	assert.Contains(t, console.String(), "500 channel tubes: six-op 10000/s, three-op 25000/s; beanstalkd CPU 0.080 / 0.030 s per 1k cycles")
	assert.Contains(t, console.String(), "6000/s delivered (60 % of six-op, 24 % of three-op ceiling)")
}

// A compare run that is void only because its producer fell behind, while
// the daemon delivered well below what the producer put, measured the
// daemon's capacity: it enters the medians and is no failure. A lagging
// producer the daemon kept up with, or any other void reason, stays out.
func TestCompareCapacityBoundRuns(t *testing.T) {
	lagged := func(label string, sent, delivered float64) *RunResult {
		rr := compareRun(label, delivered, 0.1)
		rr.Report.Void, rr.Report.ProducerLagged = true, true
		rr.Report.VoidReasons = []string{"producer fell 2s behind its schedule (bound 1s)"}
		rr.Report.SentRate = sent
		return rr
	}
	bound := lagged("off 1", 4400, 2700)
	keptUp := lagged("off 2", 4400, 4300)
	alsoUnbalanced := lagged("off 3", 4400, 2700)
	alsoUnbalanced.Report.VoidReasons = append(alsoUnbalanced.Report.VoidReasons, "ledger does not balance: lost")
	assert.True(t, capacityBound(bound))
	assert.False(t, capacityBound(keptUp), "the producer, not the daemon, may have been the limit")
	assert.False(t, capacityBound(alsoUnbalanced))

	on := []*RunResult{compareRun("on 1", 6000, 0.09)}
	c := compareRuns(on, []*RunResult{bound, keptUp, alsoUnbalanced}, 1.8)
	assert.Equal(t, 1, c.Off.Runs)
	assert.Equal(t, 1, c.Off.Lagged)
	assert.InDelta(t, 6000.0/2700.0, c.Ratio, 1e-12)
	assert.Contains(t, c.Note(), "1 of 2 runs had their producer fall behind while the daemon was the limit")
	assert.Same(t, bound, medianRun([]*RunResult{bound, keptUp}, usable))

	res := &Result{Runs: []*RunResult{on[0], bound, keptUp}}
	res.judge(&Scenario{Kind: KindCompare})
	assert.Equal(t, []string{"off 2 void: [producer fell 2s behind its schedule (bound 1s)]"}, res.Failures)
}

// An "on" run void only because its producer fell behind, while the
// daemon kept up with what it did put and drained it, is a lower bound of
// the "on" capacity: it enters the on median, the ratio is marked a lower
// bound, and it is no failure. The same run on the "off" side would make
// the ratio an upper bound, so it stays out there and fails.
func TestCompareProducerBoundOnRuns(t *testing.T) {
	lagged := func(label string, sent, delivered float64, drained bool) *RunResult {
		rr := compareRun(label, delivered, 0.1)
		rr.Report.Void, rr.Report.ProducerLagged, rr.Report.Drained = true, true, drained
		rr.Report.VoidReasons = []string{"producer fell 4s behind its schedule (bound 1s)"}
		rr.Report.SentRate = sent
		return rr
	}
	onBound := lagged("on 1", 1500, 1490, true)
	onUndrained := lagged("on 2", 1500, 1490, false)
	offBound := lagged("off 1", 1500, 1490, true)
	assert.True(t, producerBound(onBound))
	assert.False(t, producerBound(onUndrained), "a backlog left: the daemon did not keep up")
	assert.False(t, capacityBound(onBound))
	assert.False(t, producerBound(lagged("on 3", 1500, 1000, true)), "the daemon was the limit: capacity-bound instead")

	off := []*RunResult{compareRun("off 2", 500, 0.6), offBound}
	c := compareRuns([]*RunResult{onBound, onUndrained}, off, 1.5)
	assert.Equal(t, 1, c.On.Runs)
	assert.Equal(t, 1, c.On.Bounded)
	assert.Equal(t, 1, c.Off.Runs, "a producer-bound off run stays out")
	assert.True(t, c.LowerBound)
	assert.InDelta(t, 1490.0/500.0, c.Ratio, 1e-12)
	assert.True(t, c.Met())
	assert.Contains(t, c.Note(), "ratio ≥ 2.980")
	assert.Contains(t, c.Note(), "1 of 1 on runs had their producer fall behind while the daemon kept up with it")
	assert.Same(t, onBound, medianRun([]*RunResult{onBound, onUndrained}, usableOn))

	res := &Result{Runs: []*RunResult{onBound, onUndrained, off[0], offBound}}
	res.judge(&Scenario{Kind: KindCompare})
	assert.Equal(t, []string{
		"on 2 void: [producer fell 4s behind its schedule (bound 1s)]",
		"off 1 void: [producer fell 4s behind its schedule (bound 1s)]",
	}, res.Failures)

	exact := compareRuns([]*RunResult{compareRun("on 1", 1500, 0.1)}, off[:1], 1.5)
	assert.False(t, exact.LowerBound)
	assert.NotContains(t, exact.Note(), "≥ 3")
}

// An experiment (own scenarios, a selection, a smoke run) never rewrites
// make bench's section or plots unless it names them.
func TestOptionsWhichRunWritesTheReport(t *testing.T) {
	for _, c := range []struct {
		args          []string
		markdown, svg string
	}{
		{nil, "BENCHMARKS.md", "bench/plots"},
		{[]string{"--scenarios", "/tmp/mine"}, "", ""},
		{[]string{"--scenarios", "/tmp/mine", "--markdown", "X.md"}, "X.md", ""},
		{[]string{"--scenarios", "/tmp/mine", "--plots", "p"}, "", "p"},
		{[]string{"--only", "throughput-500"}, "", ""},
		{[]string{"--only", "throughput-500", "--plots", "p"}, "", "p"},
		{[]string{"--quick"}, "", ""},
	} {
		o, err := parseOptions(c.args, io.Discard)
		require.NoError(t, err, c.args)
		assert.Equal(t, c.markdown, o.Markdown, "%v", c.args)
		assert.Equal(t, c.svg, o.Plots, "%v", c.args)
	}
	_, err := parseOptions([]string{"--nope"}, io.Discard)
	assert.Error(t, err)
}
