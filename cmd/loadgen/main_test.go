package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
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

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{"nope"},
		{"run", "--rate", "fast"},
		{"run", "--latency", "gauss:1ms"},
		{"run", "--client", "other", "--servers", "127.0.0.1:1"},
		{"run", "--topics", "0", "--client", "raw", "--profiles", "/nonexistent.toml"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		assert.Equal(t, loadgen.ExitUsage, code, "%v: %s", args, errb.String())
		assert.NotEmpty(t, errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, loadgen.ExitOK, run(context.Background(), []string{"version"}, &out, &errb))
	assert.Contains(t, out.String(), "loadgen")
}
