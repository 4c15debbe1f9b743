package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"medispatcher/loadgen/stages"
)

// Exit codes of a run (cmd/loadgen).
const (
	ExitOK     = 0
	ExitError  = 1 // could not run
	ExitUsage  = 2
	ExitVoid   = 3 // ran, but the figures must not be used
	ExitFaulty = 4 // valid run that lost or duplicated messages (--strict)
)

// Latency is a latency summary in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{Count: h.TotalCount(), P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
}

// ClassReport is one topic class's share of a run.
type ClassReport struct {
	Name       string  `json:"name"`
	Profile    string  `json:"profile"`
	Topics     int     `json:"topics"`
	Subs       int     `json:"subscriptions"`
	Owed       int64   `json:"owed"`
	Delivered  int64   `json:"delivered"`
	InFlight   int64   `json:"in_flight"` // channel and retry tubes only
	Duplicates int64   `json:"duplicates"`
	Failed     int64   `json:"failed_answers"` // pushes the farm failed on purpose
	Retries    int64   `json:"retry_pushes"`   // pushes with retry_times > 0
	OverLimit  int64   `json:"over_limit"`     // pushes faster than the registered token bucket
	Latency    Latency `json:"latency"`
}

// Point is one interval of the run's time series.
type Point struct {
	T         float64 `json:"t"` // seconds since the schedule's start
	Phase     string  `json:"phase"`
	Sent      int64   `json:"sent"`      // cumulative
	Delivered int64   `json:"delivered"` // cumulative (first deliveries)
	Backlog   int64   `json:"backlog"`   // owed so far − delivered
	SentRate  float64 `json:"sent_per_s"`
	DelRate   float64 `json:"delivered_per_s"`
	P99       float64 `json:"p99_ms"` // of the interval's timed deliveries
}

// Report is the outcome of a run.
type Report struct {
	Scenario  string    `json:"scenario,omitempty"`
	Started   time.Time `json:"started"`
	Servers   []string  `json:"servers"`
	Topics    int       `json:"topics"`
	Subs      int       `json:"subscriptions"`
	Rate      float64   `json:"offered_per_s"`
	Size      int       `json:"size"`
	Warmup    float64   `json:"warmup_s"`
	Steady    float64   `json:"steady_s"`
	DrainMax  float64   `json:"drain_max_s"`
	DrainUsed float64   `json:"drain_s"`
	Drained   bool      `json:"drained"`

	SentRate      float64 `json:"sent_per_s"`      // puts during the steady phase / its length
	DeliveredRate float64 `json:"delivered_per_s"` // first deliveries during the steady phase / its length
	MaxLagMS      float64 `json:"max_lag_ms"`      // producer lateness, steady phase
	LagBoundMS    float64 `json:"lag_bound_ms"`
	LatePuts      int64   `json:"late_puts"` // steady puts started > 10 ms late
	PutErrors     int64   `json:"put_errors"`
	FirstPutError string  `json:"first_put_error,omitempty"`
	Malformed     int64   `json:"malformed_pushes"`

	Ledger   Ledger        `json:"ledger"`
	Latency  Latency       `json:"latency"` // all classes, steady-phase messages
	Classes  []ClassReport `json:"classes"`
	Timeline []Point       `json:"timeline"`
	// Stages are the daemons' own timings of where the run's messages
	// spent their time (Config.Metrics), from just before the producer
	// started to the end of the drain; none when not asked for or not
	// read (a note says why).
	Stages []stages.Latency `json:"stages,omitempty"`

	Void        bool     `json:"void"`
	VoidReasons []string `json:"void_reasons,omitempty"`
	// ProducerLagged is set when the producer fell behind its schedule by
	// more than the bound (one of the VoidReasons).
	ProducerLagged bool     `json:"producer_lagged,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

// ExitCode is the process exit code the report calls for.
func (r *Report) ExitCode(strict bool) int {
	switch {
	case r.Void:
		return ExitVoid
	case strict && (r.Ledger.Lost > 0 || r.Ledger.Duplicates > 0):
		return ExitFaulty
	}
	return ExitOK
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteText writes the human report.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "VALID"
	if r.Void {
		verdict = "VOID — do not quote these figures: " + strings.Join(r.VoidReasons, "; ")
	}
	fmt.Fprintf(&b, "loadgen report %s\n", r.Scenario)
	fmt.Fprintf(&b, "  run:        %s\n", verdict)
	fmt.Fprintf(&b, "  load:       %.0f msg/s offered, %d topics, %d subscriptions, %d B jobs, servers %s\n",
		r.Rate, r.Topics, r.Subs, r.Size, strings.Join(r.Servers, ","))
	fmt.Fprintf(&b, "  phases:     warm-up %.0fs, steady %.0fs, drain %.1fs of %.0fs (%s)\n",
		r.Warmup, r.Steady, r.DrainUsed, r.DrainMax, map[bool]string{true: "backlog empty", false: "timed out"}[r.Drained])
	fmt.Fprintf(&b, "  producer:   %.0f puts/s, max lag %.1f ms (bound %.0f ms), %d late, %d put errors\n",
		r.SentRate, r.MaxLagMS, r.LagBoundMS, r.LatePuts, r.PutErrors)
	fmt.Fprintf(&b, "  delivered:  %.0f /s in the steady phase\n", r.DeliveredRate)
	l := r.Ledger
	bal := "balances"
	if !l.Balanced {
		bal = "DOES NOT BALANCE: " + l.Problem
	}
	fmt.Fprintf(&b, "  ledger:     sent %d, owed %d = delivered %d + lost %d + in flight %d; duplicates %d, unexpected %d — %s\n",
		l.Sent, l.Owed, l.Delivered, l.Lost, l.InFlight, l.Duplicates, l.Unexpected, bal)
	if l.Moving > 0 {
		fmt.Fprintf(&b, "              (census blurred by ±%d jobs the daemon was moving)\n", l.Moving)
	}
	fmt.Fprintf(&b, "  latency:    p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms (%d timed)\n",
		r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.Latency.Count)
	if t := stages.TextP999(r.Stages); t != "" {
		fmt.Fprintf(&b, "  %s\n", t)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\ttopics\tsubs\towed\tdelivered\tin flight\tdups\tfailed\tretries\tover limit\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", c.Name, c.Topics, c.Subs,
			c.Owed, c.Delivered, c.InFlight, c.Duplicates, c.Failed, c.Retries, c.OverLimit,
			c.Latency.P50, c.Latency.P99, c.Latency.P999, c.Latency.Max)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "  note: %s\n", n); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}
