package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"medispatcher/loadgen/svgplot"
)

func plotFiles(r *Result) []string {
	if r.Main == nil || r.Main.Report == nil || r.Main.Report.Void {
		return nil
	}
	files := []string{r.Name + "-timeline.svg", r.Name + "-p99.svg"}
	if r.S != nil && r.S.Kind == KindThroughput && len(r.Runs) > 1 {
		files = append(files, r.Name+"-latency-vs-rate.svg")
	}
	return files
}

// WritePlots draws, per scenario, delivered rate and p99 over time of the
// quoted run, and for throughput scenarios latency percentiles vs offered
// rate over the steps, with the p50 and p99 of base's scenario of the same
// name (an earlier run, labelled label) beside them when base has it.
func WritePlots(dir string, sum, base *Summary, label string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	write := func(name string, c *svgplot.Chart) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		if err := c.Write(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	for _, r := range sum.Results {
		files := plotFiles(r)
		if len(files) == 0 {
			continue
		}
		rep := r.Main.Report
		var t, del, sent, p99 []float64
		for _, p := range rep.Timeline {
			t = append(t, p.T)
			del = append(del, p.DelRate)
			sent = append(sent, p.SentRate)
			if p.P99 > 0 {
				p99 = append(p99, p.P99)
			} else {
				p99 = append(p99, math.NaN())
			}
		}
		// Rates and p99 have different units: a chart each rather than
		// one chart with two axes.
		rates := &svgplot.Chart{Title: fmt.Sprintf("%s: rates over time (%.0f/s offered)", r.Name, rep.Rate),
			XLabel: "seconds since start", YLabel: "messages / s",
			Series: []svgplot.Series{{Name: "put", X: t, Y: sent}, {Name: "delivered", X: t, Y: del}}}
		if err := write(files[0], rates); err != nil {
			return err
		}
		lat := &svgplot.Chart{Title: r.Name + ": p99 latency over time (steady-phase messages)", XLabel: "seconds since start",
			YLabel: "p99 ms", LogY: true, Series: []svgplot.Series{{Name: "p99 per interval", X: t, Y: p99}}}
		if err := write(files[1], lat); err != nil {
			return err
		}
		if len(files) > 2 {
			x, p50, p99s, p999 := latencyVsRate(r.Runs)
			c := &svgplot.Chart{Title: r.Name + ": latency vs offered rate", XLabel: "offered messages / s", YLabel: "ms", LogY: true,
				Series: []svgplot.Series{{Name: "p50", X: x, Y: p50}, {Name: "p99", X: x, Y: p99s}, {Name: "p99.9", X: x, Y: p999}}}
			if b := base.result(r.Name); b != nil {
				bx, b50, b99, _ := latencyVsRate(b.Runs)
				if len(bx) > 0 {
					for i := range c.Series {
						c.Series[i].Name = "now " + c.Series[i].Name
					}
					c.Series = append(c.Series,
						svgplot.Series{Name: label + " p50", X: bx, Y: b50},
						svgplot.Series{Name: label + " p99", X: bx, Y: b99})
				}
			}
			if err := write(files[2], c); err != nil {
				return err
			}
		}
	}
	return nil
}

// latencyVsRate is the steady-phase p50, p99 and p99.9 of each valid run
// of a throughput search, by offered rate.
func latencyVsRate(rs []*RunResult) (x, p50, p99, p999 []float64) {
	runs := append([]*RunResult(nil), rs...)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Rate < runs[j].Rate })
	for _, rr := range runs {
		if rr.Report == nil || rr.Report.Void || rr.Label == captureCPU || rr.Label == captureTrace {
			continue
		}
		x = append(x, rr.Rate)
		p50 = append(p50, rr.Report.Latency.P50)
		p99 = append(p99, rr.Report.Latency.P99)
		p999 = append(p999, rr.Report.Latency.P999)
	}
	return x, p50, p99, p999
}

// result is the summary's scenario called name; nil without one.
func (s *Summary) result(name string) *Result {
	if s == nil {
		return nil
	}
	for _, r := range s.Results {
		if r.Name == name {
			return r
		}
	}
	return nil
}
