package command

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"medispatcher/loadgen"
)

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
		code := Main(context.Background(), args, &out, &errb)
		assert.Equal(t, loadgen.ExitUsage, code, "%v: %s", args, errb.String())
		assert.NotEmpty(t, errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, loadgen.ExitOK, Main(context.Background(), []string{"version"}, &out, &errb))
	assert.Contains(t, out.String(), "loadgen")
}
