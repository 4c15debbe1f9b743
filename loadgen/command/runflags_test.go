package command

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
)

// --metrics takes one or more daemons' /metrics URLs; without it a run
// reads none.
func TestRunMetricsFlag(t *testing.T) {
	var errb bytes.Buffer
	o, code := parseRun([]string{"--quiet"}, &errb)
	require.NotNil(t, o, errb.String())
	assert.Equal(t, loadgen.ExitOK, code)
	assert.Empty(t, o.cfg.Metrics)

	o, _ = parseRun([]string{"--quiet", "--metrics", "http://127.0.0.1:9091/metrics"}, &errb)
	require.NotNil(t, o, errb.String())
	assert.Equal(t, []string{"http://127.0.0.1:9091/metrics"}, o.cfg.Metrics)

	o, _ = parseRun([]string{"--quiet", "--metrics", "http://127.0.0.1:9091/metrics, https://d2.example:9092/metrics"}, &errb)
	require.NotNil(t, o, errb.String())
	assert.Equal(t, []string{"http://127.0.0.1:9091/metrics", "https://d2.example:9092/metrics"}, o.cfg.Metrics)

	for _, bad := range []string{"", "127.0.0.1:9091/metrics", "ftp://127.0.0.1/metrics", "http:///metrics",
		"http://127.0.0.1:9091/metrics,", "http://[::1/metrics"} {
		errb.Reset()
		o, code := parseRun([]string{"--metrics", bad}, &errb)
		assert.Nil(t, o, bad)
		assert.Equal(t, loadgen.ExitUsage, code, bad)
		assert.Contains(t, errb.String(), "-metrics", bad)
	}
}
