package bench

import (
	"fmt"
	"sort"
	"strings"
)

// A compare scenario runs the same load against two daemon configurations
// ("on" and "off"), in interleaved pairs so that the noise of a shared
// machine falls on both alike, and quotes the ratio of their delivered
// rates. It is offered more than the daemon sustains, so the delivered
// rate is its capacity. The ratio is measured, never asserted: a goal
// missed is reported, not failed.

// Variant is one side of a compare scenario over its valid runs.
type Variant struct {
	Runs      int       `json:"valid_runs"`
	Delivered []float64 `json:"delivered_per_s"`     // steady phase, per valid run, in run order
	CPUPer1k  []float64 `json:"daemon_cpu_s_per_1k"` // per valid run, in run order
	// KeptUp counts valid runs that delivered what was offered: their
	// delivered rate is the offer, not the capacity.
	KeptUp int `json:"kept_up"`
	// Lagged counts the runs among Runs that are void only because the
	// producer fell behind while the daemon was the limit (capacityBound).
	Lagged int `json:"producer_lagged"`
	// Bounded counts the "on" runs among Runs whose producer fell behind
	// while the daemon kept up with it (producerBound): their delivered
	// rate is a lower bound of the capacity.
	Bounded int `json:"producer_bound,omitempty"`
	// Medians of the above; 0 without a valid run.
	MedDelivered float64 `json:"median_delivered_per_s"`
	MedCPUPer1k  float64 `json:"median_daemon_cpu_s_per_1k"`
}

// Comparison is the figure of a compare scenario.
type Comparison struct {
	On    Variant `json:"on"`
	Off   Variant `json:"off"`
	Pairs int     `json:"pairs"` // pairs run (valid or not)
	Ratio float64 `json:"ratio"` // On.MedDelivered ÷ Off.MedDelivered; 0 when a side has no valid run
	// LowerBound: some "on" runs were limited by their producer, so the
	// ratio is at least Ratio.
	LowerBound bool    `json:"lower_bound,omitempty"`
	Goal       float64 `json:"goal,omitempty"`
}

// Met reports whether the ratio reaches the goal (false without a ratio).
func (c *Comparison) Met() bool { return c.Ratio > 0 && c.Ratio >= c.Goal }

// valid reports whether rr's figures may be quoted: it ran and is not void.
// An overload run is never sustained; that is what it is for.
func valid(rr *RunResult) bool {
	return rr != nil && rr.Err == "" && rr.Report != nil && !rr.Report.Void
}

// capacityBound reports whether rr, void only because its producer fell
// behind its schedule, still measured the daemon's capacity: the producer
// put at least 1/capacityMargin of what the daemon delivered, so the daemon,
// not the producer, was the limit. When the daemon's tubes share one
// beanstalkd with the producer, an overloaded daemon slows the producer's
// puts too; a compare scenario's overload runs would otherwise all be void
// on the side that needs more of beanstalkd.
func capacityBound(rr *RunResult) bool {
	return onlyLagged(rr) && rr.Report.DeliveredRate*capacityMargin < rr.Report.SentRate
}

// onlyLagged reports whether rr ran and is void for one reason: its
// producer fell behind its schedule.
func onlyLagged(rr *RunResult) bool {
	if rr == nil || rr.Err != "" || rr.Report == nil {
		return false
	}
	r := rr.Report
	return r.Void && r.ProducerLagged && len(r.VoidReasons) == 1
}

// capacityMargin: the producer's put rate must exceed the delivered rate by
// this factor for a lagging run to count as capacity-bound.
const capacityMargin = 1.1

// producerBound reports whether rr, void only because its producer fell
// behind its schedule, kept up with what the producer did put (and
// drained it): the producer, not the daemon, was the limit, so its
// delivered rate is a lower bound of the daemon's capacity. With an fsync
// per beanstalkd write the producer's puts wait for the disk, and a daemon
// that needs fewer writes per message outruns its producer.
func producerBound(rr *RunResult) bool {
	return onlyLagged(rr) && rr.Report.Drained && rr.Report.DeliveredRate*capacityMargin >= rr.Report.SentRate
}

// usable reports whether a compare run's delivered rate may enter its
// variant's median: valid, or capacity-bound.
func usable(rr *RunResult) bool { return valid(rr) || capacityBound(rr) }

// usableOn is usable for an "on" run, which may also be producer-bound:
// a lower bound of the numerator keeps the ratio a lower bound (of the
// denominator it would not, so "off" runs never are).
func usableOn(rr *RunResult) bool { return usable(rr) || producerBound(rr) }

// onLabel begins the label of every "on" run of a compare scenario.
const onLabel = "on "

// countedVoid reports whether rr, a void run of a compare scenario, still
// counts: capacity-bound, or an "on" run that is producer-bound.
func countedVoid(rr *RunResult) bool {
	return capacityBound(rr) || strings.HasPrefix(rr.Label, onLabel) && producerBound(rr)
}

func variant(runs []*RunResult, use func(*RunResult) bool) Variant {
	var v Variant
	for _, rr := range runs {
		if !use(rr) {
			continue
		}
		switch {
		case capacityBound(rr):
			v.Lagged++
		case producerBound(rr):
			v.Bounded++
		}
		v.Runs++
		v.Delivered = append(v.Delivered, rr.Report.DeliveredRate)
		v.CPUPer1k = append(v.CPUPer1k, rr.CPUPer1k)
		if rr.Sustained {
			v.KeptUp++
		}
	}
	v.MedDelivered = median(v.Delivered)
	v.MedCPUPer1k = median(v.CPUPer1k)
	return v
}

// compareRuns computes the figure of a compare scenario from its on and
// off runs; void and failed runs are left out of the medians.
func compareRuns(on, off []*RunResult, goal float64) Comparison {
	c := Comparison{On: variant(on, usableOn), Off: variant(off, usable), Pairs: max(len(on), len(off)), Goal: goal}
	if c.On.Runs > 0 && c.Off.Runs > 0 && c.Off.MedDelivered > 0 {
		c.Ratio = c.On.MedDelivered / c.Off.MedDelivered
		c.LowerBound = c.On.Bounded > 0
	}
	return c
}

// median of v (the mean of the middle two for an even count); 0 when v
// is empty. v is not modified.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianRun returns the run, among those use accepts, whose delivered
// rate is the median (the lower middle for an even count): the run quoted
// in the scenario table. Without one it returns the last run, so its
// failure shows.
func medianRun(runs []*RunResult, use func(*RunResult) bool) *RunResult {
	var ok []*RunResult
	for _, rr := range runs {
		if use(rr) {
			ok = append(ok, rr)
		}
	}
	if len(ok) == 0 {
		if len(runs) == 0 {
			return nil
		}
		return runs[len(runs)-1]
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].Report.DeliveredRate < ok[j].Report.DeliveredRate })
	return ok[(len(ok)-1)/2]
}

// Note is the comparison in one line, for the scenario's notes.
func (c *Comparison) Note() string {
	if c.Ratio == 0 {
		return fmt.Sprintf("on/off: no ratio: %d valid on runs, %d valid off runs of %d pairs", c.On.Runs, c.Off.Runs, c.Pairs)
	}
	return fmt.Sprintf("on/off: delivered %.0f vs %.0f msgs/s (medians of %s), ratio %s%.3f%s; daemon CPU %.3f vs %.3f s per 1k msgs%s",
		c.On.MedDelivered, c.Off.MedDelivered, c.pairsText(), c.ratioSign(), c.Ratio, c.goalText(), c.On.MedCPUPer1k, c.Off.MedCPUPer1k, c.keptUpText())
}

// ratioSign is "≥ " for a ratio that is a lower bound.
func (c *Comparison) ratioSign() string {
	if c.LowerBound {
		return "≥ "
	}
	return ""
}

// keptUpText warns when runs were no overload: the max the offer was
// derived from was measured low (a busy machine), and the ratio of such
// runs tends to 1 whatever the cost.
func (c *Comparison) keptUpText() string {
	s := ""
	if n := c.On.Lagged + c.Off.Lagged; n > 0 {
		s = fmt.Sprintf("; %d of %d runs had their producer fall behind while the daemon was the limit (counted: they show the capacity)",
			n, c.On.Runs+c.Off.Runs)
	}
	if c.On.Bounded > 0 {
		s += fmt.Sprintf("; %d of %d on runs had their producer fall behind while the daemon kept up with it (counted as a lower bound: the ratio is at least this)",
			c.On.Bounded, c.On.Runs)
	}
	n := c.On.KeptUp + c.Off.KeptUp
	if n == 0 {
		return s
	}
	return s + fmt.Sprintf("; %d of %d runs kept up with the offer (no overload, so they show the offer, not the capacity: raise fraction)",
		n, c.On.Runs+c.Off.Runs)
}

// RunsNote lists every valid run's delivered rate, so the spread behind
// the medians shows.
func (c *Comparison) RunsNote() string {
	list := func(v []float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmt.Sprintf("%.0f", x)
		}
		if len(s) == 0 {
			return "none valid"
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("delivered msgs/s per run: on %s; off %s", list(c.On.Delivered), list(c.Off.Delivered))
}

func (c *Comparison) pairsText() string {
	if c.On.Runs == c.Pairs && c.Off.Runs == c.Pairs {
		return fmt.Sprintf("%d pairs", c.Pairs)
	}
	return fmt.Sprintf("%d on and %d off valid runs of %d pairs", c.On.Runs, c.Off.Runs, c.Pairs)
}

func (c *Comparison) goalText() string {
	switch {
	case c.Goal <= 0:
		return ""
	case c.Met():
		return fmt.Sprintf(" (goal ≥ %.2f, met)", c.Goal)
	}
	return fmt.Sprintf(" (goal ≥ %.2f, goal not met)", c.Goal)
}
