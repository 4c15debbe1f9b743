package bench

import (
	"fmt"
	"slices"
	"strings"
)

// OverloadFigures is what a run's steady phase saw of one class whose
// subscribers turn pushes away beyond a number in flight.
type OverloadFigures struct {
	Class       string  `json:"class"`
	Subs        int     `json:"subs"`
	OverloadAt  int     `json:"overload_at"`
	SlowAt      int     `json:"slow_at,omitempty"`
	Concurrency int     `json:"concurrency"` // registered; 0: the daemon's default
	Seconds     float64 `json:"sampled_s"`   // from the first scrape to the last
	// Pushes are the daemons' pushes to the class's subscriptions,
	// Rejected those that failed for the answer's status (the farm's
	// 503s), Timeouts those that got no answer in time; -1 when /metrics
	// could not be read twice.
	Pushes   float64 `json:"pushes"`
	Rejected float64 `json:"http_status_failures"`
	Timeouts float64 `json:"timeout_failures"`
	// Share is (Rejected + Timeouts) ÷ Pushes; -1 without pushes.
	Share float64 `json:"rejected_or_timeout_share"`
	// FarmRejected are the 503s the farm answered the class for being
	// overloaded, DeliveredRate its first deliveries per second, both
	// over the same span.
	FarmRejected  int64   `json:"farm_503s"`
	DeliveredRate float64 `json:"delivered_per_s"`
	P99MS         float64 `json:"p99_ms"` // the class's end-to-end p99 over the steady phase; -1: no report
	// Windows are the daemons' push window of the class's subscriptions
	// per lane, sampled every second; none when they export no
	// medispatcher_push_window for them.
	Windows []WindowFigures `json:"windows,omitempty"`
}

// WindowFigures summarise the samples of one lane's push window.
type WindowFigures struct {
	Lane    string  `json:"lane"`
	Samples int     `json:"samples"`
	Median  float64 `json:"median"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
}

// figures are the class's figures from its samples.
func (c *classWatch) figures() OverloadFigures {
	p := c.profile
	fig := OverloadFigures{Class: p.Name, Subs: len(c.subs), OverloadAt: p.OverloadAt, SlowAt: p.SlowAt,
		Concurrency: c.concurrency, Pushes: -1, Rejected: -1, Timeouts: -1, Share: -1, P99MS: -1}
	if c.first.ok && c.last.at.After(c.first.at) {
		fig.Seconds = c.last.at.Sub(c.first.at).Seconds()
		fig.Pushes = c.last.pushes - c.first.pushes
		fig.Rejected = c.last.rejected - c.first.rejected
		fig.Timeouts = c.last.timeouts - c.first.timeouts
		if fig.Pushes > 0 {
			fig.Share = (fig.Rejected + fig.Timeouts) / fig.Pushes
		}
		fig.FarmRejected = c.last.overloaded - c.first.overloaded
		fig.DeliveredRate = float64(c.last.delivered-c.first.delivered) / fig.Seconds
	}
	fig.Windows = windowFigures(c.windows)
	return fig
}

// windowFigures summarise each lane's samples, the channel lane first.
func windowFigures(byLane map[string][]float64) []WindowFigures {
	var out []WindowFigures
	for lane, vs := range byLane {
		if len(vs) == 0 {
			continue
		}
		s := slices.Sorted(slices.Values(vs))
		out = append(out, WindowFigures{Lane: lane, Samples: len(s), Median: median(s), Min: s[0], Max: s[len(s)-1]})
	}
	slices.SortFunc(out, func(a, b WindowFigures) int {
		if (a.Lane == "channel") != (b.Lane == "channel") {
			if a.Lane == "channel" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Lane, b.Lane)
	})
	return out
}

// Window is the figures of the lane named, false when it has none.
func (fig OverloadFigures) Window(lane string) (WindowFigures, bool) {
	for _, w := range fig.Windows {
		if w.Lane == lane {
			return w, true
		}
	}
	return WindowFigures{}, false
}

// Text is fig in one line.
func (fig OverloadFigures) Text() string {
	head := fmt.Sprintf("overloaded class %s (%d subs, 503 beyond %d in flight", fig.Class, fig.Subs, fig.OverloadAt)
	if fig.SlowAt > 0 {
		head += fmt.Sprintf(", slower beyond %d", fig.SlowAt)
	}
	head += ", concurrency " + concurrencyText(fig.Concurrency) + ")"
	if fig.Pushes < 0 {
		return head + ": no push counts (/metrics not read twice in the steady phase); " + fig.windowText()
	}
	return fmt.Sprintf("%s over %.0f s of the steady phase: %.0f pushes, %.0f failed on the answer's status and %.0f timed out: %s (the farm turned %d away); %s; delivered %s/s, p99 %s ms",
		head, fig.Seconds, fig.Pushes, fig.Rejected, fig.Timeouts, shareText(fig.Share), fig.FarmRejected,
		fig.windowText(), fnum(fig.DeliveredRate), orDash(fig.P99MS))
}

func (fig OverloadFigures) windowText() string {
	if len(fig.Windows) == 0 {
		return "no " + metricPushWindow + " for its subscriptions"
	}
	parts := make([]string, 0, len(fig.Windows))
	for _, w := range fig.Windows {
		parts = append(parts, fmt.Sprintf("push window (%s lane) median %s, range %s–%s over %d samples",
			w.Lane, fnum(w.Median), fnum(w.Min), fnum(w.Max), w.Samples))
	}
	return strings.Join(parts, ", ")
}

func concurrencyText(n int) string {
	if n <= 0 {
		return "the daemon's default"
	}
	return fmt.Sprint(n)
}

// shareText is a share as a percentage, "—" without one.
func shareText(v float64) string {
	if v < 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f %%", v*100)
}

// noteOverloads takes each overloaded class's p99 from the run's report
// and adds the classes' figures to its notes.
func (rr *RunResult) noteOverloads() {
	for i := range rr.Overloads {
		o := &rr.Overloads[i]
		for _, c := range rr.Report.Classes {
			if c.Name == o.Class {
				o.P99MS = c.Latency.P99
			}
		}
		rr.Report.Notes = append(rr.Report.Notes, o.Text())
	}
}
