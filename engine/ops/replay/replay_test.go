package replay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
)

// dataLog writes the lines a daemon would have written and returns them.
func dataLog(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	w, err := datalog.Open(datalog.Config{Dir: dir, Split: true})
	require.NoError(t, err)
	ch := message.Message{Topic: []byte("order_paid"), Body: []byte{0xa1, 'x'}, Time: 1, OriginJobID: 5, SubscriptionID: 17}
	require.NoError(t, w.RedistFail("order_paid", 17, message.AppendChannelJob(nil, &ch), "put failed"))
	require.NoError(t, w.Drop("order_paid", 18, message.AppendChannelJob(nil, &ch), "backlog"))
	main := message.Message{Topic: []byte("order_paid"), Body: []byte{0xa1, 'y'}, Time: 1, Priority: 9}
	require.NoError(t, w.RecovFailBack(message.AppendMainJob(nil, &main), "redis down"))
	unsub := message.Message{Topic: []byte("nobody"), Body: []byte{0xa1, 'z'}, Time: 1}
	require.NoError(t, w.Drop("nobody", 0, message.AppendMainJob(nil, &unsub), "no subscription for this topic"))
	require.NoError(t, w.DecodeErr([]byte{0xc1}, "garbage"))
	require.NoError(t, w.Sent(false, []byte("order_paid"), 17, true, 200, time.Millisecond, "http://127.0.0.1/", []byte(`"x"`)))
	// Failure records Redis did not take: only the given-up one is re-sent.
	given := ch
	given.SubscriptionID, given.RetryTimes, given.LogID = 19, 10, 77
	rec := failures.Record{LogID: 77, JobID: "1.000000-5-19", Topic: "order_paid", SubID: 19, RetryTimes: 10,
		Final: failures.GivenUp, Error: "status 500", Job: message.AppendRetryJob(nil, &given)}
	require.NoError(t, failures.WriteFailRec(w, &rec, errors.New("xadd: connection refused")))
	rec.Final = failures.Retrying
	require.NoError(t, failures.WriteFailRec(w, &rec, errors.New("xadd: connection refused")))
	rec.Final, rec.Job = failures.Success, nil
	require.NoError(t, failures.WriteFailRec(w, &rec, errors.New("xadd: connection refused")))
	require.NoError(t, w.Close(context.Background()))
	files, err := filepath.Glob(filepath.Join(dir, "DATA.*.log"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	return b
}

func ready(t *testing.T, c *beanstalk.Conn, tube string) int {
	t.Helper()
	st, err := beanstalk.NewTube(c, tube).Stats()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(st["current-jobs-ready"])
	return n
}

// server starts a beanstalkd for the test and returns a pool on it (for
// replay) and a plain connection (for the assertions).
func server(t *testing.T) (*connpool.Pool, *beanstalk.Conn) {
	t.Helper()
	bs := testsrv.StartBeanstalkd(t)
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	bc, err := beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bc.Close() })
	return pool, bc
}

func TestReplayPutsBackOnceAndOnlyOnce(t *testing.T) {
	pool, bc := server(t)
	log := dataLog(t)
	st, err := OpenState(filepath.Join(t.TempDir(), "replayed"))
	require.NoError(t, err)
	defer st.Close()
	o := Options{MainTube: "event_center_messages", ChannelPrefix: "sub-queue/"}

	dry := o
	dry.DryRun = true
	sum := Run(context.Background(), bytes.NewReader(log), pool, st, dry)
	require.NoError(t, sum.FirstError)
	require.Equal(t, map[string]int{"REDISTFAIL": 1, "DROP": 2, "RECOVFAILBACK": 1, "FAILREC": 1}, sum.Replayed)
	require.Equal(t, 4, sum.Skipped, "DECODERR, SENT and the retrying and success FAILREC lines carry nothing to replay")
	require.Zero(t, sum.Malformed)
	require.Zero(t, ready(t, bc, "order_paid/sub-queue/17"), "a dry run puts nothing")

	sum = Run(context.Background(), bytes.NewReader(log), pool, st, o)
	require.NoError(t, sum.FirstError)
	require.Equal(t, map[string]int{"REDISTFAIL": 1, "DROP": 2, "RECOVFAILBACK": 1, "FAILREC": 1}, sum.Replayed)
	require.Equal(t, 1, ready(t, bc, "order_paid/sub-queue/17"))
	require.Equal(t, 1, ready(t, bc, "order_paid/sub-queue/18"))
	require.Equal(t, 1, ready(t, bc, "order_paid/sub-queue/19"), "the given-up message is re-sent")
	require.Equal(t, 2, ready(t, bc, "event_center_messages"), "the RECOVFAILBACK job and the unsubscribed DROP job")
	_, body, err := beanstalk.NewTube(bc, "order_paid/sub-queue/19").PeekReady()
	require.NoError(t, err)
	var resent message.Message
	require.NoError(t, message.Decode(body, &resent))
	require.Equal(t, "x", string(resent.Body[1:]))
	require.Equal(t, int64(19), resent.SubscriptionID)
	require.Zero(t, resent.RetryTimes, "re-sent as a fresh message")
	require.Equal(t, uint64(5), resent.OriginJobID, "same jobid")
	id, body, err := beanstalk.NewTube(bc, "event_center_messages").PeekReady()
	require.NoError(t, err)
	var m message.Message
	require.NoError(t, message.Decode(body, &m))
	require.Equal(t, "order_paid", string(m.Topic))
	js, err := bc.StatsJob(id)
	require.NoError(t, err)
	require.Equal(t, "9", js["pri"], "a recovered job keeps its priority")

	// Again, with the state reopened from its file: nothing is put twice.
	require.NoError(t, st.Close())
	st, err = OpenState(st.f.Name())
	require.NoError(t, err)
	sum = Run(context.Background(), bytes.NewReader(log), pool, st, o)
	require.NoError(t, sum.FirstError)
	require.Equal(t, 5, sum.Already)
	require.Empty(t, sum.Replayed)
	require.Equal(t, 1, ready(t, bc, "order_paid/sub-queue/17"))
}

func TestReplayFailedPutStaysUnreplayed(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}, OpTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	defer pool.Close()
	bs.Kill()
	st, err := OpenState(filepath.Join(t.TempDir(), "replayed"))
	require.NoError(t, err)
	defer st.Close()
	sum := Run(context.Background(), bytes.NewReader(dataLog(t)), pool, st, Options{MainTube: "m", ChannelPrefix: "sub-queue/"})
	require.Equal(t, 5, sum.Failed)
	require.Error(t, sum.FirstError)
	require.Empty(t, st.done, "nothing recorded: a later run retries every line")
}

func TestMalformedLinesAreNamedAndTheOthersReplayed(t *testing.T) {
	pool, bc := server(t)
	good := bytes.Split(bytes.TrimSpace(dataLog(t)), []byte("\n"))
	redist := good[0]
	require.Contains(t, string(redist), " REDISTFAIL ")
	noRaw := redist[:bytes.LastIndex(redist, []byte(" raw="))]
	lines := [][]byte{
		redist,                                // 1
		[]byte("this is not a DATA log line"), // 2
		{},                                    // 3: empty, ignored
		noRaw,                                 // 4: REDISTFAIL without its job
		[]byte(`2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j topic=t sub=4 final=given_up error=x`),  // 5: no job
		[]byte(`2026-11-25T14:03:07.123456+08:00 FAILREC log_id=1 jobid=j topic=t sub=4 final=given_up raw=wQ==`), // 6: job not decodable
		[]byte(`2026-11-25T14:03:07.123456+08:00 REDISTFAIL topic=t sub=x raw=wQ==`),                              // 7: no channel
	}
	lines = append(lines, good[1:]...)
	var named []int
	st, err := OpenState(filepath.Join(t.TempDir(), "replayed"))
	require.NoError(t, err)
	defer st.Close()
	sum := Run(context.Background(), bytes.NewReader(bytes.Join(lines, []byte("\n"))), pool, st, Options{
		MainTube: "event_center_messages", ChannelPrefix: "sub-queue/",
		Malformed: func(line int, err error) { require.Error(t, err); named = append(named, line) },
	})
	require.NoError(t, sum.FirstError)
	require.Equal(t, []int{2, 4, 5, 6, 7}, named, "each malformed line named by its number")
	require.Equal(t, 5, sum.Malformed)
	require.Equal(t, map[string]int{"REDISTFAIL": 1, "DROP": 2, "RECOVFAILBACK": 1, "FAILREC": 1}, sum.Replayed,
		"the good lines are replayed all the same")
	require.Equal(t, 1, ready(t, bc, "order_paid/sub-queue/19"))
}
