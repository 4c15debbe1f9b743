package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/datalog"
	"medispatcher/engine/message"
	"medispatcher/engine/testsrv"
)

func TestReplayCommand(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("QueueServerAddr = %q\nLOG_DIR = \"logs\"\n", bs.Addr)), 0o644))
	w, err := datalog.Open(datalog.Config{Dir: filepath.Join(dir, "logs"), Split: false})
	require.NoError(t, err)
	m := message.Message{Topic: []byte("t"), Body: []byte{0xa1, 'x'}, Time: 1, SubscriptionID: 4}
	require.NoError(t, w.RedistFail("t", 4, message.AppendChannelJob(nil, &m), "down"))
	require.NoError(t, w.Close(context.Background()))
	logFile := filepath.Join(dir, "logs", "DATA.REDISTFAIL.log")

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-f", cfg, "--dry-run", logFile}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "would replay REDISTFAIL 1")
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"-f", cfg, logFile}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "replayed REDISTFAIL 1")
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"-f", cfg, logFile}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "already replayed 1")
	require.Equal(t, 2, run(context.Background(), []string{"-f", cfg}, &out, &errOut), "a log file is required")
}
