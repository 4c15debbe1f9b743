package svgplot

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChartIsWellFormedSVG(t *testing.T) {
	for _, logY := range []bool{false, true} {
		c := Chart{Title: "p99 <over> time", XLabel: "s", YLabel: "ms", LogY: logY, Series: []Series{
			{Name: "a&b", X: []float64{0, 1, 2, 3}, Y: []float64{1, 10, 100, 5}},
			{Name: "single", X: []float64{1}, Y: []float64{3}},
			{Name: "empty"},
		}}
		var b strings.Builder
		require.NoError(t, c.Write(&b))
		out := b.String()
		assert.Equal(t, 3, strings.Count(out, "<polyline"), "one line per series")
		assert.Contains(t, out, "a&amp;b")
		assert.Contains(t, out, "p99 &lt;over&gt; time")
		d := xml.NewDecoder(strings.NewReader(out))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "valid XML")
		}
	}
}

func TestTicks(t *testing.T) {
	assert.Equal(t, []float64{0, 2, 4, 6, 8, 10}, ticks(0, 10))
	tk := ticks(0, 48000)
	assert.Equal(t, 0.0, tk[0])
	assert.GreaterOrEqual(t, tk[len(tk)-1], 48000.0)
	assert.LessOrEqual(t, len(tk), 7)
	assert.Equal(t, "50k", num(50000))
	assert.Equal(t, "1.5M", num(1.5e6))
}
