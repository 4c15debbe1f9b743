package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

func TestAmenderKicksAndReports(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	c, err := beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	defer c.Close()
	tube := "order_paid/sub-queue/17"
	_, err = beanstalk.NewTube(c, tube).Put([]byte("x"), 1024, 0, time.Minute)
	require.NoError(t, err)
	id, _, err := beanstalk.NewTubeSet(c, tube).Reserve(time.Second)
	require.NoError(t, err)
	require.NoError(t, c.Bury(id, 1024))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("QueueServerAddr = %q\nLOG_DIR = \"logs\"\n", bs.Addr)), 0o644))

	var out, errOut bytes.Buffer
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, "--dry-run"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), tube)
	require.Contains(t, out.String(), "would kick (dry run) 1 jobs in 1 tubes")

	out.Reset()
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "kicked 1 jobs in 1 tubes")
	st, err := c.StatsJob(id)
	require.NoError(t, err)
	require.Equal(t, "ready", st["state"])

	require.Equal(t, 1, tool.Run(context.Background(), []string{"-f", filepath.Join(dir, "missing.toml")}, &out, &errOut))
	require.Equal(t, 2, tool.Run(context.Background(), []string{"--nonsense"}, &out, &errOut))
}
