package bench

import (
	"fmt"
	"strings"
)

// A throughput scenario whose daemon exports traces (OtelEndpoint set in
// [daemon]) is set against the throughput scenario of the same classes and
// rate without, when the same bench run has one: the ratio of their
// highest sustained rates is what tracing costs at the traced scenario's
// sampling ratio.

// sinkEndpoint, as a scenario's OtelEndpoint, stands for the URL of an
// OTLPSink the run starts beside its daemons.
const sinkEndpoint = "sink"

// traceRatioGoal is the traced ÷ untraced max rate aimed at; reported,
// never enforced.
const traceRatioGoal = 0.95

// TraceComparison is a traced throughput scenario against its untraced
// twin.
type TraceComparison struct {
	Against     string  `json:"against"` // the untraced scenario
	SampleRatio float64 `json:"sample_ratio"`
	MaxOn       float64 `json:"max_rate_traced"`
	MaxOff      float64 `json:"max_rate_untraced"`
	Ratio       float64 `json:"ratio"` // MaxOn ÷ MaxOff; 0 without both
	Goal        float64 `json:"goal"`
	// Sink is what the traced quoted run's collector received; nil when
	// its counts could not be read.
	Sink *OTLPSinkStats `json:"sink,omitempty"`
}

// traced reports whether s's daemon exports traces.
func traced(s *Scenario) bool {
	v, ok := s.Daemon["OtelEndpoint"].(string)
	return ok && v != ""
}

// withMaxRate reports whether r is a throughput scenario of one daemon on
// one beanstalkd without a binlog whose quoted run was sustained: its
// quoted rate is its max.
func withMaxRate(r *Result) bool {
	return r.S != nil && r.S.Kind == KindThroughput && quoted(r) && r.Main.Sustained &&
		(r.S.Binlog == "" || r.S.Binlog == BinlogOff) && !r.isFleet()
}

// compareTracing sets Tracing, and a note, on every traced throughput
// result that has an untraced twin among results.
func compareTracing(results []*Result) {
	eachTwinWith(results, withMaxRate, traced, func(on, off *Result) {
		c := TraceComparison{Against: off.Name, MaxOn: on.Main.Rate, MaxOff: off.Main.Rate, Goal: traceRatioGoal,
			Sink: on.Main.Sink}
		c.SampleRatio, _ = on.S.Daemon["OtelSampleRatio"].(float64)
		if c.MaxOff > 0 {
			c.Ratio = c.MaxOn / c.MaxOff
		}
		on.Tracing = &c
		on.Notes = append(on.Notes, c.Text(on.Name))
	})
}

// Met reports whether tracing cost no more than the goal allows.
func (c *TraceComparison) Met() bool { return c.Ratio > 0 && c.Ratio >= c.Goal }

// Text is the comparison in one line; name is the traced scenario.
func (c *TraceComparison) Text(name string) string {
	sink := "spans exported: unknown"
	if c.Sink != nil {
		sink = fmt.Sprintf("the collector received %d requests, %s bytes in the quoted run", c.Sink.Requests, fnum(float64(c.Sink.Bytes)))
	}
	return fmt.Sprintf("%s traced/untraced max-rate ratio (%s, sampling %.0f %%): %s vs %s msgs/s, ratio %.3f (goal ≥ %.2f); %s",
		c.Against, name, c.SampleRatio*100, fnum(c.MaxOn), fnum(c.MaxOff), c.Ratio, c.Goal, sink)
}

// withSink returns the daemon keys extra with an OtelEndpoint of
// sinkEndpoint replaced by the URL of a sink it starts (nil when none is
// asked for); extra itself is not modified.
func withSink(extra map[string]any) (map[string]any, *OTLPSink, error) {
	if v, _ := extra["OtelEndpoint"].(string); !strings.EqualFold(v, sinkEndpoint) {
		return extra, nil, nil
	}
	s, err := StartOTLPSink()
	if err != nil {
		return nil, nil, err
	}
	keys := make(map[string]any, len(extra))
	for k, v := range extra {
		keys[k] = v
	}
	keys["OtelEndpoint"] = s.URL
	return keys, s, nil
}

// stopSink closes e's sink, once its daemons have exported what they
// held, and keeps its counts in e.SinkStats.
func (e *Env) stopSink() {
	if e.Sink == nil {
		return
	}
	e.Sink.Close()
	st := e.Sink.Stats()
	e.Sink, e.SinkStats = nil, &st
}
