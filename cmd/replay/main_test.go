package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
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
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, "--dry-run", logFile}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "would replay REDISTFAIL 1")
	out.Reset()
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, logFile}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "replayed REDISTFAIL 1")
	out.Reset()
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, logFile}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "already replayed 1")
	require.Equal(t, 2, tool.Run(context.Background(), []string{"-f", cfg}, &out, &errOut), "a log file is required")

	// A log with malformed lines: each is named, the good line is replayed
	// all the same, and the exit code says some were not.
	good, err := os.ReadFile(logFile)
	require.NoError(t, err)
	m.Body = []byte{0xa1, 'y'}
	w, err = datalog.Open(datalog.Config{Dir: filepath.Join(dir, "more"), Split: false})
	require.NoError(t, err)
	require.NoError(t, w.RedistFail("t", 4, message.AppendChannelJob(nil, &m), "down"))
	require.NoError(t, w.Close(context.Background()))
	other, err := os.ReadFile(filepath.Join(dir, "more", "DATA.REDISTFAIL.log"))
	require.NoError(t, err)
	mixed := filepath.Join(dir, "mixed.log")
	require.NoError(t, os.WriteFile(mixed, []byte("garbage\n"+string(good)+"2026-11-25T14:03:07.123456+08:00 REDISTFAIL topic=t sub=4\n"+string(other)), 0o644))
	out.Reset()
	errOut.Reset()
	require.Equal(t, exitMalformed, tool.Run(context.Background(), []string{"-f", cfg, mixed}, &out, &errOut))
	require.Contains(t, errOut.String(), mixed+":1: malformed")
	require.Contains(t, errOut.String(), mixed+":3: malformed")
	require.NotContains(t, errOut.String(), mixed+":2:")
	require.Contains(t, out.String(), "replayed REDISTFAIL 1;")
	require.Contains(t, out.String(), "already replayed 1;")
	require.Contains(t, out.String(), "malformed 2;")
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	defer pool.Close()
	st, err := pool.StatsTube(context.Background(), 0, "t/sub-queue/4")
	require.NoError(t, err)
	require.EqualValues(t, 2, st.Ready, "the first line's job and the new one, each once")
}
