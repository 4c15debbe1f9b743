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
)

// Write writes the chart as SVG.
func (c *Chart) Write(w io.Writer) error {
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.Y[i]) || (c.LogY && s.Y[i] <= 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymin, ymax = math.Min(ymin, s.Y[i]), math.Max(ymax, s.Y[i])
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax, ymin, ymax = 0, 1, 0, 1
	}
	if !c.LogY {
		ymin = math.Min(0, ymin)
	}
	if xmax == xmin {
		xmax = xmin + 1
	}
	if ymax == ymin {
		ymax = ymin + 1
	}
	ty := func(v float64) float64 { return v }
	if c.LogY {
		ty = math.Log10
		ymin, ymax = math.Pow(10, math.Floor(math.Log10(ymin))), math.Pow(10, math.Ceil(math.Log10(ymax)))
	}
	xticks := ticks(xmin, xmax)
	yticks := ticks(ymin, ymax)
	if c.LogY {
		yticks = nil
		for v := ymin; v <= ymax*1.0001; v *= 10 {
			yticks = append(yticks, v)
		}
	} else {
		ymax = math.Max(ymax, yticks[len(yticks)-1])
	}
	xmax = math.Max(xmax, xticks[len(xticks)-1])
	xmin = math.Min(xmin, xticks[0])
	pw, ph := width-left-right, height-top-bott
	px := func(v float64) float64 { return left + (v-xmin)/(xmax-xmin)*pw }
	py := func(v float64) float64 { return top + ph - (ty(v)-ty(ymin))/(ty(ymax)-ty(ymin))*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(c.Title))
	for _, v := range xticks {
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd"/>`+"\n", x, top, x, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x, top+ph+16, num(v))
	}
	for _, v := range yticks {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, num(v))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, height-12, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, esc(c.YLabel))
	for i, s := range c.Series {
		col := palette[i%len(palette)]
		var pts []string
		for j := range s.X {
			if j >= len(s.Y) || math.IsNaN(s.Y[j]) || (c.LogY && s.Y[j] <= 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
		if len(pts) == 1 {
			xy := strings.Split(pts[0], ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], col)
		}
		ly := top + 10 + float64(i)*18
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`+"\n", left+pw+12, ly, left+pw+32, ly, col)
		fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text>`+"\n", left+pw+38, ly+4, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
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
