package stages

import (
	"fmt"
	"strings"
)

// Text is a run's note: each stage's p50/p99 in ms, stages without
// observations left out; "" without any.
func Text(ls []Latency) string {
	return text(ls, "p50/p99", func(l Latency) string { return fmt.Sprintf("%s/%s", l.P50, l.P99) })
}

// TextP999 is Text with each stage's p99.9 as well.
func TextP999(ls []Latency) string {
	return text(ls, "p50/p99/p99.9", func(l Latency) string { return fmt.Sprintf("%s/%s/%s", l.P50, l.P99, l.P999) })
}

// Observed reports whether any stage of ls saw a message.
func Observed(ls []Latency) bool {
	for _, l := range ls {
		if l.Count > 0 {
			return true
		}
	}
	return false
}

// text is "stages QUANTILES ms: " and each observed stage's name and
// figures; "" without any.
func text(ls []Latency, quantiles string, figures func(Latency) string) string {
	var parts []string
	for _, l := range ls {
		if l.Count > 0 {
			parts = append(parts, l.Stage+" "+figures(l))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "stages " + quantiles + " ms: " + strings.Join(parts, ", ")
}
