package bench

import (
	"fmt"
	"math"
)

// A scenario with an outage whose daemon has its circuit breaker on
// (CircuitBreaker = "on" in [daemon]) is set against a scenario of the
// same classes and rate with it off, when the same bench run has one: the
// breaker should spare the dead subscriber most of its pushes while the
// other classes keep their latency.

// What the breaker is expected to do, reported, never enforced: at least
// breakerAttemptsGoal times fewer pushes to the dead class during its
// outage, and the other classes' p99 within breakerP99Bound of the run
// without it.
const (
	breakerAttemptsGoal = 10
	breakerP99Bound     = 1.2
)

// BreakerComparison is a breaker-on run of an outage scenario against the
// breaker-off run of the same load.
type BreakerComparison struct {
	Against     string  `json:"against"` // the scenario with the breaker off
	AttemptsOn  float64 `json:"push_attempts_on"`
	AttemptsOff float64 `json:"push_attempts_off"`
	// AttemptsRatio is AttemptsOff ÷ AttemptsOn; 0 when the breaker-on
	// run made no attempt (or a side has no counts).
	AttemptsRatio float64 `json:"attempts_ratio"`
	OtherP99On    float64 `json:"other_classes_p99_ms_on"`
	OtherP99Off   float64 `json:"other_classes_p99_ms_off"`
	P99Ratio      float64 `json:"other_classes_p99_ratio"` // on ÷ off; 0 without both
	LostOn        int64   `json:"lost_on"`
	LostOff       int64   `json:"lost_off"`
	RecoveryOnMS  float64 `json:"recovery_ms_on"` // -1: no delivery after the outage
	RecoveryOffMS float64 `json:"recovery_ms_off"`
}

// breakerOn reports whether s's daemon runs with its circuit breaker on.
func breakerOn(s *Scenario) bool { return daemonKeyOn(s, "CircuitBreaker") }

// withOutage reports whether r's quoted run may be shown and had an outage.
func withOutage(r *Result) bool {
	return r.S != nil && quoted(r) && len(r.Main.Outages) > 0
}

// compareBreakers sets Breaker, and a note, on every breaker-on outage
// result that has a breaker-off twin among results.
func compareBreakers(results []*Result) {
	eachTwin(results, withOutage, "CircuitBreaker", func(on, off *Result) {
		c := breakerComparison(on, off)
		on.Breaker = &c
		on.Notes = append(on.Notes, c.Text(on.Name))
	})
}

// breakerComparison compares on's quoted run with off's.
func breakerComparison(on, off *Result) BreakerComparison {
	c := BreakerComparison{Against: off.Name, LostOn: on.Main.Report.Ledger.Lost, LostOff: off.Main.Report.Ledger.Lost}
	var onOK, offOK bool
	c.AttemptsOn, c.RecoveryOnMS, onOK = outageTotals(on.Main.Outages)
	c.AttemptsOff, c.RecoveryOffMS, offOK = outageTotals(off.Main.Outages)
	if onOK && offOK && c.AttemptsOn > 0 {
		c.AttemptsRatio = c.AttemptsOff / c.AttemptsOn
	}
	others := otherClasses(on)
	c.OtherP99On, c.OtherP99Off = classP99(on.Main.Report, others), classP99(off.Main.Report, others)
	if c.OtherP99On > 0 && c.OtherP99Off > 0 {
		c.P99Ratio = c.OtherP99On / c.OtherP99Off
	}
	return c
}

// outageTotals sums the push attempts of every outage and takes the
// longest recovery (-1 if a class took no delivery after it); ok is false
// when an outage has no push counts.
func outageTotals(figs []OutageFigures) (attempts, recoveryMS float64, ok bool) {
	ok = true
	for _, f := range figs {
		if f.Attempts < 0 {
			ok = false
		}
		attempts += math.Max(f.Attempts, 0)
		if f.RecoveryMS < 0 || recoveryMS < 0 {
			recoveryMS = -1
		} else {
			recoveryMS = math.Max(recoveryMS, f.RecoveryMS)
		}
	}
	return attempts, recoveryMS, ok
}

// otherClasses are the names of r's classes without an outage.
func otherClasses(r *Result) []string {
	var out []string
	for _, c := range r.S.Class {
		if !c.HasOutage() {
			out = append(out, c.Name)
		}
	}
	return out
}

// Met reports whether the breaker did what is expected of it: far fewer
// attempts, the other classes' p99 within bound, nothing lost.
func (c *BreakerComparison) Met() bool {
	fewer := c.AttemptsRatio >= breakerAttemptsGoal || (c.AttemptsOn == 0 && c.AttemptsOff >= breakerAttemptsGoal)
	return fewer && c.P99Ratio > 0 && c.P99Ratio <= breakerP99Bound && c.LostOn == 0 && c.LostOff == 0
}

// Text is the comparison in one line; name is the breaker-on scenario.
func (c *BreakerComparison) Text(name string) string {
	ratio := "no ratio"
	switch {
	case c.AttemptsRatio > 0:
		ratio = fmt.Sprintf("%.1f× as many without the breaker", c.AttemptsRatio)
	case c.AttemptsOn == 0 && c.AttemptsOff > 0:
		ratio = "none with the breaker"
	}
	return fmt.Sprintf("%s, circuit breaker on vs off (%s): push attempts to the dead class during its outage %.0f vs %.0f (%s; ≥ %d× expected); "+
		"p99 of the other classes %s vs %s ms (%s; within %.1f× expected); lost %d vs %d; first delivery after recovery %s vs %s ms",
		name, c.Against, c.AttemptsOn, c.AttemptsOff, ratio, breakerAttemptsGoal,
		fnum(c.OtherP99On), fnum(c.OtherP99Off), ratioOf(c.OtherP99On, c.OtherP99Off), breakerP99Bound,
		c.LostOn, c.LostOff, orDash(c.RecoveryOnMS), orDash(c.RecoveryOffMS))
}

// orDash is v as fnum writes it, "—" for a negative v (no figure).
func orDash(v float64) string {
	if v < 0 {
		return "—"
	}
	return fnum(v)
}
