package loadgen

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRate(t *testing.T) {
	cases := map[string]float64{"50000": 50000, "50k": 50000, "1.5k": 1500, "2M": 2e6, "0.5": 0.5}
	for in, want := range cases {
		got, err := ParseRate(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "k", "-1", "fast"} {
		_, err := ParseRate(bad)
		assert.Error(t, err, bad)
	}
}

func TestRateFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	r := RateFlag(500)
	fs.Var(&r, "rate", "")
	assert.Equal(t, "500", r.String(), "the default as -h shows it")
	require.NoError(t, fs.Parse([]string{"--rate", "2.5k"}))
	assert.Equal(t, RateFlag(2500), r)
	assert.Error(t, fs.Parse([]string{"--rate", "fast"}))
}
