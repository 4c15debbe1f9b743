package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/farm"
)

// A class with an outage (farm.Profile.Outage) refuses connections for a
// while. What the daemon does meanwhile is read from its /metrics at the
// instants the farm's port goes down and comes up again: its pushes to
// the class's subscriptions and their failures. The farm tells when the
// port came up and when the class first took a message after that.

// The daemons' per-subscription push counters (label sub="<id>").
const (
	metricPushes       = "medispatcher_pushes_total"
	metricPushFailures = "medispatcher_push_failures_total"
)

// OutageFigures is what a run saw of one class's outage.
type OutageFigures struct {
	Class   string  `json:"class"`
	Subs    int     `json:"subs"`
	Seconds float64 `json:"outage_s"` // from the port going down to its coming up, as measured
	// Attempts and Failures are the daemons' pushes to the class's
	// subscriptions during the outage, and those that failed; -1 when
	// /metrics could not be read at both edges.
	Attempts float64 `json:"push_attempts_during_outage"`
	Failures float64 `json:"push_failures_during_outage"`
	// RecoveryMS is the time from the port's coming up again to the
	// class's first delivery; -1 when it took none.
	RecoveryMS float64 `json:"recovery_to_first_delivery_ms"`
}

// pushCounts are the push counters of a set of subscriptions.
type pushCounts struct {
	pushes, failures float64
	ok               bool // read from every daemon
}

// subPushCounts sums metricPushes and metricPushFailures over the series
// of a Prometheus text exposition whose sub label is in subs.
func subPushCounts(text io.Reader, subs map[string]bool) (pushes, failures float64) {
	eachSubSeries(text, subs, func(name, _ string, v float64) {
		switch name {
		case metricPushes:
			pushes += v
		case metricPushFailures:
			failures += v
		}
	})
	return pushes, failures
}

// eachSubSeries calls fn with the name, label list and value of every
// labelled series of a Prometheus text exposition whose sub label is in
// subs.
func eachSubSeries(text io.Reader, subs map[string]bool, fn func(name, labels string, v float64)) {
	sc := bufio.NewScanner(text)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), "{")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok || !subs[labelValue(labels, "sub")] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		fn(name, labels, v)
	}
}

// labelValue is the value of label name in a series' label list
// (a="1",b="2"); "" when absent. Values holding quotes or commas are not
// expected of a subscription id.
func labelValue(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// pushCounts scrapes every daemon of e and sums the push counters of subs.
func (e *Env) pushCounts(ctx context.Context, subs map[string]bool) pushCounts {
	var pc pushCounts
	for _, d := range e.Daemons {
		var buf bytes.Buffer
		if err := httpGet(ctx, "http://"+d.PromAddr+"/metrics", &buf); err != nil {
			return pushCounts{}
		}
		p, f := subPushCounts(&buf, subs)
		pc.pushes += p
		pc.failures += f
	}
	pc.ok = true
	return pc
}

// classSubs is the ids, as the sub label writes them, of the subscriptions
// of class the farm has heard of: every live one, once the run's probes are
// through.
func classSubs(f *farm.Farm, class int) map[string]bool {
	out := map[string]bool{}
	for _, id := range f.SubIDs() {
		if sc, ok := f.Count(id, 0, nil); ok && sc.Class == class {
			out[strconv.FormatInt(id, 10)] = true
		}
	}
	return out
}

// outageWatch scrapes the daemons' push counters at each edge of the
// outages of a run's farm.
type outageWatch struct {
	env  *Env
	farm *farm.Farm
	stop chan struct{}
	done chan struct{}
	// at the outage's start and end, per class; read after done
	down, up map[int]pushCounts
	subs     map[int]map[string]bool
}

// hasOutage reports whether a class of classes has an outage.
func hasOutage(classes []loadgen.Class) bool {
	for _, c := range classes {
		if c.HasOutage() {
			return true
		}
	}
	return false
}

// watchOutages starts scraping at the edges of f's outages.
func watchOutages(ctx context.Context, env *Env, f *farm.Farm) *outageWatch {
	w := &outageWatch{env: env, farm: f, stop: make(chan struct{}), done: make(chan struct{}),
		down: map[int]pushCounts{}, up: map[int]pushCounts{}, subs: map[int]map[string]bool{}}
	go func() {
		defer close(w.done)
		for {
			select {
			case e := <-f.OutageEdges():
				w.edge(ctx, e)
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return w
}

func (w *outageWatch) edge(ctx context.Context, e farm.Edge) {
	if e.Down {
		w.subs[e.Class] = classSubs(w.farm, e.Class)
		w.down[e.Class] = w.env.pushCounts(ctx, w.subs[e.Class])
		return
	}
	w.up[e.Class] = w.env.pushCounts(ctx, w.subs[e.Class])
}

// finish stops the watch and returns the figures of every outage.
func (w *outageWatch) finish() []OutageFigures {
	close(w.stop)
	<-w.done
	var out []OutageFigures
	for _, o := range w.farm.Outages() {
		out = append(out, outageFigures(o, len(w.subs[o.Class]), w.down[o.Class], w.up[o.Class]))
	}
	return out
}

// outageFigures is what the farm saw of outage o of a class of subs
// subscriptions, with the push counters at its start and end.
func outageFigures(o farm.Outage, subs int, down, up pushCounts) OutageFigures {
	fig := OutageFigures{Class: o.Name, Subs: subs, Attempts: -1, Failures: -1, RecoveryMS: -1}
	if !o.Down.IsZero() && !o.Up.IsZero() {
		fig.Seconds = o.Up.Sub(o.Down).Seconds()
	}
	if down.ok && up.ok {
		fig.Attempts, fig.Failures = up.pushes-down.pushes, up.failures-down.failures
	}
	if d, ok := o.Recovery(); ok {
		fig.RecoveryMS = float64(d) / float64(time.Millisecond)
	}
	return fig
}

// Text is fig in one line.
func (fig OutageFigures) Text() string {
	s := fmt.Sprintf("outage of class %s (%d subs, %.1f s down): ", fig.Class, fig.Subs, fig.Seconds)
	if fig.Attempts < 0 {
		s += "no push counts (/metrics not read at both edges)"
	} else {
		s += fmt.Sprintf("%.0f push attempts during it, %.0f failed", fig.Attempts, fig.Failures)
	}
	if fig.RecoveryMS < 0 {
		return s + "; no delivery after it recovered"
	}
	return s + fmt.Sprintf("; first delivery %s ms after it recovered", fnum(fig.RecoveryMS))
}

// noteOutages adds the outages' figures to the run's report.
func (rr *RunResult) noteOutages() {
	for _, o := range rr.Outages {
		rr.Report.Notes = append(rr.Report.Notes, o.Text())
	}
}
