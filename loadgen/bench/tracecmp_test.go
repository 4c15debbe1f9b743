package bench

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
	"medispatcher/loadgen/farm"
)

// throughputResult is a throughput scenario's result whose quoted
// (sustained) run is at maxRate.
func throughputResult(name string, daemon map[string]any, maxRate float64) *Result {
	s := &Scenario{Name: name, Kind: KindThroughput, Rate: 200, File: name + ".toml", Text: "x\n", Daemon: daemon,
		Class: []loadgen.Class{{Profile: farm.Profile{Name: "fast"}, Topics: 500}}}
	rep := &loadgen.Report{Topics: 500, Subs: 500, Rate: maxRate, DeliveredRate: maxRate}
	rr := &RunResult{Rate: maxRate, Report: rep, CPUPer1k: 0.1, Sustained: true}
	return &Result{Name: name, S: s, Servers: 1, Daemons: 1, Runs: []*RunResult{rr}, Main: rr}
}

func TestCompareTracing(t *testing.T) {
	off := throughputResult("throughput-500", nil, 10000)
	binlog := throughputResult("throughput-500-binlog", nil, 6000)
	binlog.S.Binlog = BinlogOn
	on := throughputResult("throughput-500-traced", map[string]any{"OtelEndpoint": "sink", "OtelSampleRatio": 0.1}, 9600)
	on.Main.Sink = &OTLPSinkStats{Requests: 12, Bytes: 345678}
	compareTracing([]*Result{binlog, on, off})
	require.NotNil(t, on.Tracing)
	assert.Nil(t, off.Tracing, "the comparison belongs to the traced run")
	assert.Nil(t, binlog.Tracing)
	c := on.Tracing
	assert.Equal(t, "throughput-500", c.Against, "a binlog scenario is no twin")
	assert.InDelta(t, 0.96, c.Ratio, 1e-9)
	assert.True(t, c.Met())
	want := "throughput-500 traced/untraced max-rate ratio (throughput-500-traced, sampling 10 %): 9600 vs 10000 msgs/s, ratio 0.960 (goal ≥ 0.95); " +
		"the collector received 12 requests, 345678 bytes in the quoted run"
	assert.Equal(t, []string{want}, on.Notes)

	b, err := json.Marshal(on)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"tracing":{"against":"throughput-500","sample_ratio":0.1,"max_rate_traced":9600,"max_rate_untraced":10000,"ratio":0.96`)
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceiling.Result{CycleRate: 15000}, Results: []*Result{off, on}}
	md := RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "- "+want+" — **met**")

	slow := throughputResult("traced", map[string]any{"OtelEndpoint": "sink"}, 9000)
	compareTracing([]*Result{slow, throughputResult("plain", nil, 10000)})
	require.NotNil(t, slow.Tracing)
	assert.False(t, slow.Tracing.Met())
	assert.Contains(t, slow.Notes[0], "spans exported: unknown")
}

// The traced scenario shipped is throughput-500's twin: the same load,
// its daemon exporting to the bench's sink at 10 % sampling.
func TestShippedTracedScenario(t *testing.T) {
	by := shippedScenarios(t)
	on, off := by["throughput-500-traced"], by["throughput-500"]
	require.NotNil(t, on)
	require.NotNil(t, off)
	assert.True(t, traced(on))
	assert.False(t, traced(off))
	assert.Equal(t, off.Rate, on.Rate)
	assert.Equal(t, off.Class, on.Class)
	assert.Equal(t, off.MaxRate, on.MaxRate)
	assert.Equal(t, "sink", on.Daemon["OtelEndpoint"])
	assert.Equal(t, 0.1, on.Daemon["OtelSampleRatio"])
}

// withSink starts a sink for "sink" and gives its URL to the daemon keys;
// the sink counts what is posted to it.
func TestWithSink(t *testing.T) {
	extra := map[string]any{"OtelEndpoint": "sink", "OtelSampleRatio": 0.1}
	keys, sink, err := withSink(extra)
	require.NoError(t, err)
	require.NotNil(t, sink)
	assert.Equal(t, "sink", extra["OtelEndpoint"], "the scenario's keys are left alone")
	assert.Equal(t, sink.URL, keys["OtelEndpoint"])
	assert.Equal(t, 0.1, keys["OtelSampleRatio"])

	resp, err := http.Post(sink.URL+"/v1/traces", "application/x-protobuf", bytes.NewReader(make([]byte, 100)))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(sink.URL + "/v1/traces")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	e := &Env{Sink: sink}
	e.stopSink()
	assert.Nil(t, e.Sink)
	assert.Equal(t, &OTLPSinkStats{Requests: 1, Bytes: 100}, e.SinkStats)

	same, none, err := withSink(map[string]any{"OtelEndpoint": "http://collector:4318"})
	require.NoError(t, err)
	assert.Nil(t, none)
	assert.Equal(t, "http://collector:4318", same["OtelEndpoint"])
}
