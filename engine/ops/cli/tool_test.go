package cli

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestToolRun: -h, -v and a bad command line end the run before the body;
// otherwise the body gets the positional arguments, loads the config when
// it needs it and prints its failures under the tool's name.
func TestToolRun(t *testing.T) {
	ran := 0
	tool := &Tool{Name: "tool", Usage: "usage: tool [-x] FILE...\n", Flags: func(fs *flag.FlagSet) Body {
		x := fs.Bool("x", false, "a flag of the tool")
		return func(_ context.Context, e *Env) int {
			ran++
			if len(e.Args()) == 0 {
				return e.UsageError()
			}
			if *x {
				return e.Failf(ExitFailed, "x and %d files", len(e.Args()))
			}
			_, code := e.Config()
			return code
		}
	}}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := tool.Run(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, _ := run("-v")
	require.Equal(t, ExitOK, code)
	require.Contains(t, out, "tool ")
	code, _, stderr := run("-h")
	require.Equal(t, ExitOK, code)
	require.Contains(t, stderr, "usage: tool [-x] FILE...")
	require.Contains(t, stderr, "Exit codes: 0 done, 1 config error, 2 usage error, 3 something failed.")
	code, _, _ = run("--nonsense")
	require.Equal(t, ExitUsage, code)
	require.Zero(t, ran, "the body runs only after a good command line")

	code, _, stderr = run("-f", "x.toml")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, stderr, "usage: tool")
	code, _, stderr = run("-x", "a", "b")
	require.Equal(t, ExitFailed, code)
	require.Equal(t, "tool: x and 2 files\n", stderr)
	code, _, stderr = run("-f", "/nonexistent/medispatcher.toml", "a")
	require.Equal(t, ExitConfig, code)
	require.Contains(t, stderr, "tool: ")
	require.Equal(t, 3, ran)
}
