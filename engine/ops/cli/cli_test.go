package cli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		done bool
		out  string
	}{
		{[]string{"-v"}, ExitOK, true, "tool "},
		{[]string{"-h"}, ExitOK, true, ""},
		{[]string{"--nonsense"}, ExitUsage, true, ""},
		{[]string{"-f", "x.toml"}, ExitOK, false, ""},
	} {
		var out, errOut bytes.Buffer
		f := NewFlags("tool", "usage: tool\n", &errOut)
		code, done := f.Parse(tc.args, &out)
		require.Equal(t, tc.code, code, tc.args)
		require.Equal(t, tc.done, done, tc.args)
		require.Contains(t, out.String(), tc.out, tc.args)
	}
	var errOut bytes.Buffer
	f := NewFlags("tool", "usage: tool\n", &errOut)
	_, done := f.Parse([]string{"-f", "/nonexistent/medispatcher.toml"}, &errOut)
	require.False(t, done)
	_, err := f.Load(&errOut)
	require.Error(t, err)
	require.Contains(t, errOut.String(), "tool: ")
}
