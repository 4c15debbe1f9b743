package bench

import (
	"fmt"
	"math"
)

// A scenario with an overloaded class whose daemon runs the adaptive push
// window (AdaptiveWindow = "on" in [daemon]) is set against a scenario of
// the same classes and rate with it off, when the same bench run has one:
// with the window, the daemon should find the subscriber's capacity and
// stay near it, where the fixed concurrency keeps pushing into 503s.

// What the window is expected to do, reported, never enforced: the first
// overloaded class's share of pushes failed on their status or timed out
// below windowShareGoal, and its channel window's median within
// windowNearShare of the subscriber's overload_at (at least 1 either
// side).
const (
	windowShareGoal = 0.05
	windowNearShare = 0.25
)

// WindowComparison is a window-on run of an overloaded-endpoint scenario
// against the window-off run of the same load.
type WindowComparison struct {
	Against     string `json:"against"` // the scenario with the window off
	Class       string `json:"class"`
	OverloadAt  int    `json:"overload_at"`
	Concurrency int    `json:"concurrency"`
	// ShareOn and ShareOff are OverloadFigures.Share; -1: no counts.
	ShareOn  float64 `json:"rejected_or_timeout_share_on"`
	ShareOff float64 `json:"rejected_or_timeout_share_off"`
	// WindowOn and WindowOff are the median of the channel lane's window
	// (of the first lane without one); -1: no gauge.
	WindowOn     float64 `json:"window_median_on"`
	WindowOff    float64 `json:"window_median_off"`
	DeliveredOn  float64 `json:"delivered_per_s_on"`
	DeliveredOff float64 `json:"delivered_per_s_off"`
	P99On        float64 `json:"p99_ms_on"`
	P99Off       float64 `json:"p99_ms_off"`
	LostOn       int64   `json:"lost_on"`
	LostOff      int64   `json:"lost_off"`
}

// adaptiveOn reports whether s's daemon runs the adaptive push window.
func adaptiveOn(s *Scenario) bool { return daemonKeyOn(s, "AdaptiveWindow") }

// withOverload reports whether r's quoted run may be shown and had an
// overloaded class.
func withOverload(r *Result) bool {
	return r.S != nil && quoted(r) && len(r.Main.Overloads) > 0
}

// compareWindows sets Window, and a note, on every window-on overloaded
// result that has a window-off twin among results.
func compareWindows(results []*Result) {
	eachTwin(results, withOverload, "AdaptiveWindow", func(on, off *Result) {
		c := windowComparison(on, off)
		on.Window = &c
		on.Notes = append(on.Notes, c.Text(on.Name))
	})
}

// windowComparison compares the first overloaded class of on's quoted run
// with off's.
func windowComparison(on, off *Result) WindowComparison {
	fo, ff := on.Main.Overloads[0], off.Main.Overloads[0]
	return WindowComparison{Against: off.Name, Class: fo.Class, OverloadAt: fo.OverloadAt, Concurrency: fo.Concurrency,
		ShareOn: fo.Share, ShareOff: ff.Share, WindowOn: windowMedian(fo), WindowOff: windowMedian(ff),
		DeliveredOn: fo.DeliveredRate, DeliveredOff: ff.DeliveredRate, P99On: fo.P99MS, P99Off: ff.P99MS,
		LostOn: on.Main.Report.Ledger.Lost, LostOff: off.Main.Report.Ledger.Lost}
}

// windowMedian is the median of fig's channel window, or of its first
// lane without one; -1 without samples.
func windowMedian(fig OverloadFigures) float64 {
	if w, ok := fig.Window("channel"); ok {
		return w.Median
	}
	if len(fig.Windows) > 0 {
		return fig.Windows[0].Median
	}
	return -1
}

// near reports whether the window-on median settled near the overload.
func (c *WindowComparison) near() bool {
	return c.WindowOn >= 0 && math.Abs(c.WindowOn-float64(c.OverloadAt)) <= math.Max(1, windowNearShare*float64(c.OverloadAt))
}

// Met reports whether the window did what is expected of it: a small
// share of failed pushes, a window near the subscriber's capacity,
// nothing lost.
func (c *WindowComparison) Met() bool {
	return c.ShareOn >= 0 && c.ShareOn < windowShareGoal && c.near() && c.LostOn == 0
}

// Text is the comparison in one line; name is the window-on scenario.
func (c *WindowComparison) Text(name string) string {
	return fmt.Sprintf("%s, adaptive push window on vs off (%s), class %s (503 beyond %d in flight, concurrency %s): "+
		"pushes failed on their status or timed out %s vs %s (< %.0f %% expected with the window); "+
		"push window median %s vs %s (near %d expected); delivered %s vs %s/s; p99 %s vs %s ms; lost %d vs %d",
		name, c.Against, c.Class, c.OverloadAt, concurrencyText(c.Concurrency),
		shareText(c.ShareOn), shareText(c.ShareOff), windowShareGoal*100,
		windowCell(c.WindowOn), windowCell(c.WindowOff), c.OverloadAt,
		fnum(c.DeliveredOn), fnum(c.DeliveredOff), orDash(c.P99On), orDash(c.P99Off), c.LostOn, c.LostOff)
}

// windowCell is a window median, or that the daemon exported none.
func windowCell(v float64) string {
	if v < 0 {
		return "— (no " + metricPushWindow + ")"
	}
	return fnum(v)
}
