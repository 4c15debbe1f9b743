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

func TestCleanQueueCommand(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	c, err := beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < 3; i++ {
		_, err = beanstalk.NewTube(c, "t/sub-queue/9").Put([]byte("x"), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("QueueServerAddr = %q\nLOG_DIR = \"logs\"\n", bs.Addr)), 0o644))
	var out, errOut bytes.Buffer
	require.Equal(t, 2, tool.Run(context.Background(), []string{"-f", cfg, "--topic", "t"}, &out, &errOut), "a subscription id is required")
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, "--topic", "t", "--sub", "9"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "deleted 3 jobs")
	drops, err := filepath.Glob(filepath.Join(dir, "logs", "drop", "DROP.*.log"))
	require.NoError(t, err)
	require.Len(t, drops, 1)
	b, err := os.ReadFile(drops[0])
	require.NoError(t, err)
	require.Equal(t, 3, bytes.Count(b, []byte(" DROP ")), "every deleted job is in the drop log")
}
