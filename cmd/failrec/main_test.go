package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/testsrv"
)

func TestListAndResend(t *testing.T) {
	bs, rd := testsrv.StartBeanstalkd(t), testsrv.StartRedis(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	m := message.Message{Topic: []byte("t"), Body: []byte{0xa1, 'x'}, Time: 1, OriginJobID: 3}
	s := failures.New(c, failures.Config{Key: "{medispatcher}:failures"})
	s.Add(&failures.Record{LogID: 1, JobID: "1.000000-3-4", Topic: "t", SubID: 4, Error: "status 500", Job: message.AppendChannelJob(nil, &m)})
	s.Add(&failures.Record{LogID: 1, JobID: "1.000000-3-4", Topic: "t", SubID: 4, Final: failures.GivenUp, RetryTimes: 10, Error: "status 500", Job: message.AppendRetryJob(nil, &m)})
	s.Add(&failures.Record{LogID: 2, JobID: "1.000000-9-5", Topic: "u", SubID: 5, Final: failures.Success})
	s.Close(context.Background())

	dir := t.TempDir()
	cfg := filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("QueueServerAddr = %q\nLOG_DIR = \"logs\"\n[Redis]\nAddr = %q\n", bs.Addr, rd.Addr)), 0o644))
	var out, errOut bytes.Buffer
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, "--sub", "4"}, &out, &errOut), errOut.String())
	require.Equal(t, 3, bytes.Count(out.Bytes(), []byte("\n")), "header and the two records of sub 4:\n%s", out.String())
	require.Contains(t, out.String(), "given_up")

	out.Reset()
	require.Equal(t, 0, tool.Run(context.Background(), []string{"-f", cfg, "--resend"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "re-sent 1 given-up messages")
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	defer pool.Close()
	st, err := pool.StatsTube(context.Background(), 0, "t/sub-queue/4")
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Ready)
}
