package clipool

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/cli"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// runTool runs a tool whose body is body, with args, and returns its exit
// code and standard error.
func runTool(t *testing.T, body cli.Body, args ...string) (int, string) {
	t.Helper()
	tool := &cli.Tool{Name: "tool", Usage: "usage: tool\n", Flags: func(*flag.FlagSet) cli.Body { return body }}
	var out, errOut bytes.Buffer
	return tool.Run(context.Background(), args, &out, &errOut), errOut.String()
}

func TestOpen(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf("QueueServerAddr = %q\nLOG_DIR = \"logs\"\n", bs.Addr)), 0o644))
	open := func(ctx context.Context, e *cli.Env) int {
		cfg, pool, code := Open(ctx, e)
		if code == cli.ExitOK {
			require.Equal(t, []string{bs.Addr}, cfg.QueueServers)
			require.Equal(t, []string{bs.Addr}, pool.Servers())
			pool.Close()
		}
		return code
	}
	code, stderr := runTool(t, open, "-f", cfgPath)
	require.Equal(t, cli.ExitOK, code, stderr)
	code, stderr = runTool(t, open, "-f", filepath.Join(dir, "missing.toml"))
	require.Equal(t, cli.ExitConfig, code)
	require.Contains(t, stderr, "tool: ")

	code, stderr = runTool(t, func(ctx context.Context, e *cli.Env) int {
		_, code := Connect(ctx, e, &config.Config{})
		return code
	})
	require.Equal(t, cli.ExitFailed, code)
	require.Contains(t, stderr, "tool: connpool: ")
}
