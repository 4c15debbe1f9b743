package command

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/probe"
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

func TestRunWithoutBeanstalkdSaysHowToStartOne(t *testing.T) {
	port, err := probe.FreePort()
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"run", "--servers", addr, "--quiet"}, &out, &errb)
	assert.Equal(t, loadgen.ExitError, code)
	msg := errb.String()
	assert.Contains(t, msg, "loadgen: no beanstalkd answers at "+addr)
	assert.Contains(t, msg, `"make run" (or "bin/loadgen demo")`)
	assert.Contains(t, msg, "beanstalkd -l 127.0.0.1 -p "+strconv.Itoa(port))
	assert.Empty(t, out.String())

	// A configuration error is still a usage error, server or not.
	errb.Reset()
	code = Main(context.Background(), []string{"run", "--servers", addr, "--duration", "0s"}, &out, &errb)
	assert.Equal(t, loadgen.ExitUsage, code, errb.String())
	assert.Contains(t, errb.String(), "bad configuration")
}

func TestParseCounts(t *testing.T) {
	got, err := parseCounts("4, 500")
	require.NoError(t, err)
	assert.Equal(t, []int{4, 500}, got)
	for _, bad := range []string{"", "x", "4,0", "-1", "4,,5"} {
		_, err := parseCounts(bad)
		assert.Error(t, err, bad)
	}
}
