package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
	"medispatcher/loadgen/pubload"
)

func loadText(t *testing.T, text string) (*Scenario, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.toml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return LoadScenario(p)
}

func TestPublishScenarioKeys(t *testing.T) {
	const class = "[[class]]\nname = \"a\"\ntopics = 1\n"
	s, err := loadText(t, "kind = \"publish\"\nrate = 1000\n"+class)
	require.NoError(t, err)
	assert.Equal(t, defaultPublishConcurrency, s.Concurrency)
	assert.Equal(t, defaultPublishBatch, s.Batch)

	s, err = loadText(t, "kind = \"publish\"\nrate = 1000\nconcurrency = 4\nbatch = 20\n"+class)
	require.NoError(t, err)
	assert.Equal(t, 4, s.Concurrency)
	assert.Equal(t, 20, s.Batch)

	for name, text := range map[string]string{
		"no rate":          "kind = \"publish\"\n" + class,
		"batch elsewhere":  "kind = \"fixed\"\nrate = 1\nbatch = 10\n" + class,
		"concurrency else": "kind = \"throughput\"\nrate = 1\nconcurrency = 10\n" + class,
		"negative batch":   "kind = \"publish\"\nrate = 1\nbatch = -1\n" + class,
		"pprof":            "kind = \"publish\"\nrate = 1\npprof = true\n" + class,
		"several daemons":  "kind = \"publish\"\nrate = 1\ndaemons = 2\n" + class,
	} {
		_, err := loadText(t, text)
		assert.Error(t, err, name)
	}
	s = shippedScenarios(t)["publish"]
	require.NotNil(t, s, "bench/scenarios/70-publish.toml")
	assert.Equal(t, KindPublish, s.Kind)
	assert.Equal(t, 50, s.topics())
}

// TestRunClient: a publish run's client sets the producer's concurrency
// and lateness bound, and its recorder counts the steady phase only,
// after whatever else the run does when it starts.
func TestRunClient(t *testing.T) {
	var nilClient *runClient
	cfg := loadgen.Config{Workers: 7}
	nilClient.configure(&cfg)
	assert.Equal(t, 7, cfg.Workers, "no client: the ordinary producer")

	rec := pubload.NewRecorder()
	cl := &runClient{workers: 1600, maxLag: flatOut, rec: rec}
	other := false
	cfg = loadgen.Config{Duration: time.Second, OnSteady: func() { other = true }}
	cl.configure(&cfg)
	assert.Equal(t, 1600, cfg.Workers)
	assert.Equal(t, flatOut, cfg.MaxLag)
	rec.Record(time.Now().UnixNano(), time.Now())
	assert.Zero(t, rec.Latency().Count, "nothing counts before the steady phase")
	cfg.OnSteady()
	assert.True(t, other, "the run's own OnSteady still runs")
	rec.Record(time.Now().UnixNano(), time.Now())
	rec.Record(time.Now().Add(2*time.Second).UnixNano(), time.Now())
	assert.EqualValues(t, 1, rec.Latency().Count, "the steady phase only")

	_, err := (&runClient{open: func(context.Context, *Env) (loadgen.Putter, error) { return nil, assert.AnError }}).putter(context.Background(), Options{}, &Env{})
	assert.ErrorIs(t, err, assert.AnError)
}

// countPutter counts its puts.
type countPutter struct{ n int }

func (p *countPutter) Put(context.Context, int, string, []byte) error { p.n++; return nil }
func (p *countPutter) Close() error                                   { return nil }

// TestFlatOutLimit: a flat-out client stops sending once it ran
// flatOutGrace past its probe, warm-up and steady phase, and what it did
// not send is counted apart from the API's refusals.
func TestFlatOutLimit(t *testing.T) {
	inner := &countPutter{}
	cl := &runClient{label: "single publish", maxLag: flatOut,
		open: func(context.Context, *Env) (loadgen.Putter, error) { return inner, nil }}
	cfg := loadgen.Config{Warmup: time.Second, Duration: 3 * time.Second}
	cl.configure(&cfg)
	assert.Equal(t, loadgen.Defaults().ProbeTimeout+4*time.Second+flatOutGrace, cl.limit)
	p, err := cl.putter(context.Background(), Options{}, &Env{})
	require.NoError(t, err)
	require.NoError(t, p.Put(context.Background(), 0, "", nil))
	p.(*limitedPutter).until = time.Now().Add(-time.Millisecond)
	assert.ErrorIs(t, p.Put(context.Background(), 0, "", nil), errPastTime)
	assert.Equal(t, 1, inner.n)
	m := measure(cl, &RunResult{Report: &loadgen.Report{SentRate: 10, PutErrors: 3}})
	assert.EqualValues(t, 1, m.GaveUp)
	assert.EqualValues(t, 2, m.Errors, "refusals apart")

	paced := &runClient{open: cl.open}
	paced.configure(&cfg)
	p, err = paced.putter(context.Background(), Options{}, &Env{})
	require.NoError(t, err)
	assert.Same(t, inner, p, "a paced run is not limited")
}

func publishResult(raw, single, batch float64, lat *loadgen.Latency) *Result {
	pf := &PublishFigures{Concurrency: 16, Batch: 100, Goal: publishGoal,
		Raw:       PublishMeasure{Label: "raw put", Rate: raw},
		Single:    PublishMeasure{Label: "single publish", Rate: single},
		Batched:   PublishMeasure{Label: "batch publish", Rate: batch, Requests: batch / 100},
		PacedRate: batch / 2, Latency: lat}
	pf.BatchRatio, pf.SingleRatio = ratio(batch, raw), ratio(single, raw)
	return &Result{Name: "publish", S: &Scenario{Kind: KindPublish, File: "p.toml", Text: "x\n"}, Publish: pf, Notes: pf.notes()}
}

func TestMarkdownPublish(t *testing.T) {
	r := publishResult(8000, 4000, 6000, &loadgen.Latency{P50: 1.5, P99: 12.5, P999: 40})
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceiling.Result{CycleRate: 15000}, Results: []*Result{r}}
	md := RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "### Publish API")
	assert.Contains(t, md, "| publish | 16 | 8000 | 4000 | 0.50× | 100 | 6000 | 60 | 0.75× | 3000 | 1.50 | 12.5 | 40.0 |")
	assert.Contains(t, md, "raw put 8000 msgs/s, single publish 4000 msgs/s (0.50× of raw), batch publish of 100 6000 msgs/s (0.75× of raw; goal ≥ 0.50)")
	assert.Contains(t, md, "single publish request at 3000/s, from its scheduled time: p50 1.50 ms, p99 12.5 ms, p99.9 40.0 ms")
	assert.Contains(t, md, "- publish: batch publish ≥ 50 % of the pool's raw put rate: 6000 msgs/s vs 8000 msgs/s (0.75×); single publish request p99 12.5 ms at 3000/s — **met**")

	// A void run's figure is never shown, and without it no ratio.
	r = publishResult(8000, 4000, 0, nil)
	sum.Results = []*Result{r}
	md = RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "| publish | 16 | 8000 | 4000 | 0.50× | 100 | — | — | — | — | | |")
	assert.Contains(t, md, "batch publish of 100 — (no valid run) (— of raw")
	assert.Contains(t, md, "— **not met**")

	r = publishResult(8000, 4000, 3000, nil)
	r.Publish.Raw.Bounded = true
	assert.Contains(t, r.Publish.notes()[0], "raw put ≥ 8000 msgs/s")
	assert.False(t, r.Publish.Met(), "0.375 < 0.5")
}

// TestMeasure: a flat-out figure is the steady phase's rate of a valid
// run only; a batch's requests are its messages ÷ the batch size.
func TestMeasure(t *testing.T) {
	rr := &RunResult{Report: &loadgen.Report{SentRate: 5000, PutErrors: 2}}
	m := measure(&runClient{label: "batch publish", perRequest: 100}, rr)
	assert.Equal(t, PublishMeasure{Label: "batch publish", Rate: 5000, Requests: 50, Errors: 2}, m)
	rr.Report.Void = true
	assert.Zero(t, measure(&runClient{}, rr).Rate, "void: no figure")
	assert.Zero(t, measure(&runClient{}, &RunResult{Err: "boom"}).Rate)
}
