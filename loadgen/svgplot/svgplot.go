// Package svgplot draws small line charts as standalone SVG files for the
// benchmark report: a title, labelled axes with rounded ticks, one polyline
// per series and a legend. It draws nothing else and never reads input
// beyond the series it is given.
package svgplot

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Series is one line.
type Series struct {
	Name string
	X, Y []float64
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	LogY                  bool // logarithmic y axis (latencies)
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

const (
	width, height          = 720.0, 400.0
	left, right, top, bott = 70.0, 170.0, 40.0, 50.0
	// The plot area inside the margins.
	pw, ph = width - left - right, height - top - bott
)

// Write writes the chart as SVG.
func (c *Chart) Write(w io.Writer) error {
	fr := c.frame()
	var b strings.Builder
	c.writeAxes(&b, fr)
	for i, s := range c.Series {
		c.writeSeries(&b, fr, i, s)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

// frame is the chart's value range and ticks, and maps values to the
// plot area.
type frame struct {
	xmin, xmax, ymin, ymax float64
	xticks, yticks         []float64
	logY                   bool
}

func (fr *frame) px(v float64) float64 { return left + (v-fr.xmin)/(fr.xmax-fr.xmin)*pw }

func (fr *frame) py(v float64) float64 {
	ty := func(v float64) float64 { return v }
	if fr.logY {
		ty = math.Log10
	}
	return top + ph - (ty(v)-ty(fr.ymin))/(ty(fr.ymax)-ty(fr.ymin))*ph
}

// plotted reports whether point j of s is drawn: it has a y, and a
// logarithmic axis can show it.
func (c *Chart) plotted(s Series, j int) bool {
	return j < len(s.Y) && !math.IsNaN(s.Y[j]) && (!c.LogY || s.Y[j] > 0)
}

// frame spans the plotted points, widened to round ticks: y from 0 on a
// linear axis, whole decades on a logarithmic one; an empty or flat range
// becomes one unit wide.
func (c *Chart) frame() *frame {
	fr := &frame{xmin: math.Inf(1), xmax: math.Inf(-1), ymin: math.Inf(1), ymax: math.Inf(-1), logY: c.LogY}
	for _, s := range c.Series {
		for i := range s.X {
			if c.plotted(s, i) {
				fr.xmin, fr.xmax = math.Min(fr.xmin, s.X[i]), math.Max(fr.xmax, s.X[i])
				fr.ymin, fr.ymax = math.Min(fr.ymin, s.Y[i]), math.Max(fr.ymax, s.Y[i])
			}
		}
	}
	if math.IsInf(fr.xmin, 0) {
		fr.xmin, fr.xmax, fr.ymin, fr.ymax = 0, 1, 0, 1
	}
	if !c.LogY {
		fr.ymin = math.Min(0, fr.ymin)
	}
	if fr.xmax == fr.xmin {
		fr.xmax = fr.xmin + 1
	}
	if fr.ymax == fr.ymin {
		fr.ymax = fr.ymin + 1
	}
	if c.LogY {
		fr.ymin, fr.ymax = math.Pow(10, math.Floor(math.Log10(fr.ymin))), math.Pow(10, math.Ceil(math.Log10(fr.ymax)))
	}
	fr.xticks = ticks(fr.xmin, fr.xmax)
	fr.yticks = ticks(fr.ymin, fr.ymax)
	if c.LogY {
		fr.yticks = nil
		for v := fr.ymin; v <= fr.ymax*1.0001; v *= 10 {
			fr.yticks = append(fr.yticks, v)
		}
	} else {
		fr.ymax = math.Max(fr.ymax, fr.yticks[len(fr.yticks)-1])
	}
	fr.xmax = math.Max(fr.xmax, fr.xticks[len(fr.xticks)-1])
	fr.xmin = math.Min(fr.xmin, fr.xticks[0])
	return fr
}

// writeAxes writes the SVG header, the title, the grid with its tick
// labels, the plot border and the axis labels.
func (c *Chart) writeAxes(b *strings.Builder, fr *frame) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(c.Title))
	for _, v := range fr.xticks {
		x := fr.px(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd"/>`+"\n", x, top, x, top+ph)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x, top+ph+16, num(v))
	}
	for _, v := range fr.yticks {
		y := fr.py(v)
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, num(v))
	}
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, height-12, esc(c.XLabel))
	fmt.Fprintf(b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, esc(c.YLabel))
}

// writeSeries writes series i as a polyline (a dot when it has one point)
// and its legend entry.
func (c *Chart) writeSeries(b *strings.Builder, fr *frame, i int, s Series) {
	col := palette[i%len(palette)]
	var pts []string
	for j := range s.X {
		if c.plotted(s, j) {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", fr.px(s.X[j]), fr.py(s.Y[j])))
		}
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
	if len(pts) == 1 {
		xy := strings.Split(pts[0], ",")
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], col)
	}
	ly := top + 10 + float64(i)*18
	fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`+"\n", left+pw+12, ly, left+pw+32, ly, col)
	fmt.Fprintf(b, `<text x="%g" y="%g">%s</text>`+"\n", left+pw+38, ly+4, esc(s.Name))
}

// ticks returns about five round values covering [lo, hi].
func ticks(lo, hi float64) []float64 {
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 6 {
			step *= m
			break
		}
	}
	var t []float64
	for v := math.Floor(lo/step) * step; v < hi+step*0.999; v += step {
		t = append(t, v)
	}
	return t
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%gM", math.Round(v/1e5)/10)
	case a >= 1e4:
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}

func esc(s string) string { return html.EscapeString(s) }
