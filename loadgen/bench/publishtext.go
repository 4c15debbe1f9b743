package bench

import (
	"fmt"
	"strings"
)

// notes are the publish figures as sentences: the three rates and their
// ratios, and the paced run's request latency.
func (p *PublishFigures) notes() []string {
	out := []string{fmt.Sprintf("flat out, %d in flight: raw put %s, single publish %s (%s of raw), batch publish of %d %s (%s of raw; goal ≥ %.2f)",
		p.Concurrency, rateText(p.Raw), rateText(p.Single), ratioText(p.SingleRatio), p.Batch, rateText(p.Batched), ratioText(p.BatchRatio), p.Goal)}
	for _, m := range []PublishMeasure{p.Single, p.Batched, p.Paced} {
		if m.Fallbacks > 0 {
			out = append(out, fmt.Sprintf("%s: %d messages answered with a recover list (beanstalkd unreachable from the API)", m.Label, m.Fallbacks))
		}
	}
	if p.Latency != nil {
		l := p.Latency
		out = append(out, fmt.Sprintf("single publish request at %.0f/s, from its scheduled time: p50 %s ms, p99 %s ms, p99.9 %s ms (%d requests)",
			p.PacedRate, fnum(l.P50), fnum(l.P99), fnum(l.P999), l.Count))
	} else if p.PacedRate > 0 {
		out = append(out, fmt.Sprintf("paced single publish at %.0f/s: no valid run, no request latency", p.PacedRate))
	}
	return out
}

// rateText is a flat-out figure, "—" without a valid run.
func rateText(m PublishMeasure) string {
	if m.Rate <= 0 {
		return "— (no valid run)"
	}
	s := fmt.Sprintf("%.0f msgs/s", m.Rate)
	if m.Bounded {
		s = "≥ " + s
	}
	return s
}

func ratioText(r float64) string {
	if r <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", r)
}

// writePublishTable writes the "Publish API" table: a row per publish
// scenario, its flat-out rates, their ratios to raw puts and the paced
// request latency.
func writePublishTable(b *strings.Builder, sum *Summary) {
	var rows []*Result
	for _, r := range sum.Results {
		if r.Publish != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n### Publish API\n\n")
	b.WriteString("Flat out: messages accepted per second of the steady phase, each client with the same number of puts or requests in flight, every run against servers and a daemon of its own; raw puts are the same main-tube jobs put into the main tube through connpool. " +
		"Every accepted message must reach its subscriber (the ledger) or the run is void and its rate not shown. " +
		"The request latency is of single publishes on an open-loop schedule at half the batch rate (or half the single rate, when lower), from each request's scheduled time to its answer.\n\n")
	b.WriteString("| scenario | in flight | raw put /s | single /s | single ÷ raw | batch size | batch /s | batch requests /s | batch ÷ raw | paced /s | p50 ms | p99 ms | p99.9 ms |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		p := r.Publish
		lat := "| | |"
		if p.Latency != nil {
			lat = fmt.Sprintf("%s | %s | %s |", fnum(p.Latency.P50), fnum(p.Latency.P99), fnum(p.Latency.P999))
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %d | %s | %s | %s | %s | %s\n", r.Name, p.Concurrency,
			rateCell(p.Raw.Rate, p.Raw.Bounded), rateCell(p.Single.Rate, p.Single.Bounded), ratioText(p.SingleRatio),
			p.Batch, rateCell(p.Batched.Rate, p.Batched.Bounded), rateCell(p.Batched.Requests, p.Batched.Bounded), ratioText(p.BatchRatio),
			rateCell(p.PacedRate, false), lat)
	}
	b.WriteString("\n")
}

func rateCell(v float64, bounded bool) string {
	switch {
	case v <= 0:
		return "—"
	case bounded:
		return fmt.Sprintf("≥ %.0f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// publishGoalLine is a publish scenario's line among the goals.
func publishGoalLine(r *Result, met func(bool) string) string {
	p := r.Publish
	line := fmt.Sprintf("%s: batch publish ≥ %.0f %% of the pool's raw put rate: %s vs %s (%s)",
		r.Name, p.Goal*100, rateText(p.Batched), rateText(p.Raw), ratioText(p.BatchRatio))
	if p.Latency != nil {
		line += fmt.Sprintf("; single publish request p99 %s ms at %.0f/s", fnum(p.Latency.P99), p.PacedRate)
	}
	return line + " — " + met(p.Met())
}
