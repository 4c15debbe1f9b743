package recoverlist

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/datalog"
	"medispatcher/engine/message"
	"medispatcher/engine/testsrv"
)

const prefix = "event_center_message_in_failure_log:"

type recorded struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorded) add(cat string, raw []byte) error {
	r.mu.Lock()
	r.lines = append(r.lines, cat+" "+string(raw))
	r.mu.Unlock()
	return nil
}
func (r *recorded) RecovFailBack(raw []byte, _ string) error   { return r.add("RECOVFAILBACK", raw) }
func (r *recorded) RecovFailDecode(raw []byte, _ string) error { return r.add("RECOVFAILDECODE", raw) }
func (r *recorded) RecovFailAssert(raw []byte, _ string) error { return r.add("RECOVFAILASSERT", raw) }
func (r *recorded) Write(cat datalog.Category, _ []datalog.Field, raw []byte) error {
	return r.add(string(cat), raw)
}
func (r *recorded) count(cat string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if len(l) > len(cat) && l[:len(cat)+1] == cat+" " {
			n++
		}
	}
	return n
}

type env struct {
	t     *testing.T
	bs    *testsrv.Server
	redis rueidis.Client
	data  *recorded
	bc    *beanstalk.Conn
}

func start(t *testing.T) *env {
	t.Helper()
	bs, rd := testsrv.StartBeanstalkd(t, testsrv.WithBinlog()), testsrv.StartRedis(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}, OpTimeout: time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	e := &env{t: t, bs: bs, redis: c, data: &recorded{}}
	w := New(Config{Prefix: prefix, MainTube: "event_center_messages", ScanEvery: 100 * time.Millisecond,
		Wait: 200 * time.Millisecond, Backoff: 50 * time.Millisecond}, c, pool, e.data)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e.bc, err = beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.bc.Close() })
	return e
}

// push does what a producer does when beanstalkd is unreachable.
func (e *env) push(list string, job []byte) {
	e.t.Helper()
	require.NoError(e.t, e.redis.Do(context.Background(), e.redis.B().Lpush().Key(list).Element(string(job)).Build()).Error())
}

func job(topic string, i int, pri, delay uint32) []byte {
	m := message.Message{Topic: []byte(topic), Body: []byte{0xa1, byte('0' + i%10)}, Time: 1, Priority: pri, Delay: delay}
	return message.AppendMainJob(nil, &m)
}

func (e *env) mainStats() map[string]string {
	st, err := beanstalk.NewTube(e.bc, "event_center_messages").Stats()
	if err != nil {
		return map[string]string{}
	}
	return st
}

func (e *env) listLen(list string) int64 {
	n, err := e.redis.Do(context.Background(), e.redis.B().Llen().Key(list).Build()).AsInt64()
	require.NoError(e.t, err)
	return n
}

func TestEntriesOfEveryListGoToTheMainTubeWithTheirPriorityAndDelay(t *testing.T) {
	e := start(t)
	for i := 0; i < 5; i++ {
		e.push(prefix+"host-a", job("t", i, 0, 0))
	}
	e.push(prefix+"host-b", job("t", 9, 7, 0))
	e.push(prefix+"host-b", job("t", 8, 0, 60))
	e.push("not_a_recover_list", job("t", 1, 0, 0))
	require.Eventually(t, func() bool {
		st := e.mainStats()
		return st["current-jobs-ready"] == "6" && st["current-jobs-delayed"] == "1"
	}, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, e.listLen(prefix+"host-a"))
	require.Zero(t, e.listLen(prefix+"host-b"))
	require.EqualValues(t, 1, e.listLen("not_a_recover_list"), "other lists are not touched")
	id, body, err := beanstalk.NewTube(e.bc, "event_center_messages").PeekReady()
	require.NoError(t, err)
	require.True(t, bytes.Equal(job("t", 9, 7, 0), body), "the priority-7 job is first")
	st, err := e.bc.StatsJob(id)
	require.NoError(t, err)
	require.Equal(t, "7", st["pri"])
}

func TestBadEntriesAreLoggedNotLooped(t *testing.T) {
	e := start(t)
	e.push(prefix+"x", []byte("not msgpack at all"))
	e.push(prefix+"x", []byte{0x81, 0xa6, 'm', 's', 'g', 'K', 'e', 'y', 0x05}) // msgKey is a number
	e.push(prefix+"x", job("ok", 1, 0, 0))
	require.Eventually(t, func() bool { return e.mainStats()["current-jobs-ready"] == "1" }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return e.data.count("RECOVFAILASSERT") == 1 && e.data.count("RECOVFAILDECODE") == 1 },
		10*time.Second, 10*time.Millisecond)
	require.Zero(t, e.listLen(prefix+"x"))
}

func TestTooBigIsSetAsideOnce(t *testing.T) {
	e := start(t)
	big := message.Message{Topic: []byte("t"), Body: append([]byte{0xc6, 0, 0x20, 0, 0}, make([]byte, 2<<20)...), Time: 1}
	e.push(prefix+"big", message.AppendMainJob(nil, &big))
	e.push(prefix+"big", job("t", 1, 0, 0))
	require.Eventually(t, func() bool { return e.mainStats()["current-jobs-ready"] == "1" }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, e.data.count(string(TooBig)))
	require.Zero(t, e.listLen(prefix+"big"), "the big job is not pushed back (no loop)")
}

func TestBeanstalkdDownEntriesWaitInTheListAndArriveLater(t *testing.T) {
	e := start(t)
	e.bs.Kill()
	for i := 0; i < 3; i++ {
		e.push(prefix+"down", job("t", i, 0, 0))
	}
	// While beanstalkd is down every entry stays in (or returns to) its list.
	require.Eventually(t, func() bool { return e.data.count("RECOVFAILBACK") == 0 && e.listLen(prefix+"down") == 3 },
		5*time.Second, 10*time.Millisecond)
	e.bs.Restart(t)
	bc, err := beanstalk.Dial("tcp", e.bs.Addr)
	require.NoError(t, err)
	defer bc.Close()
	require.Eventually(t, func() bool {
		st, err := beanstalk.NewTube(bc, "event_center_messages").Stats()
		return err == nil && st["current-jobs-ready"] == strconv.Itoa(3)
	}, 15*time.Second, 20*time.Millisecond, "every entry delivered once beanstalkd is back")
	require.Zero(t, e.listLen(prefix+"down"))
}

func TestStatusListsLengthsOfRecoverListsOnly(t *testing.T) {
	rd := testsrv.StartRedis(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx := context.Background()
	st, err := Status(ctx, c, prefix)
	require.NoError(t, err)
	require.Empty(t, st)
	for i := 0; i < 3; i++ {
		require.NoError(t, c.Do(ctx, c.B().Lpush().Key(prefix+"b").Element("x").Build()).Error())
	}
	require.NoError(t, c.Do(ctx, c.B().Lpush().Key(prefix+"a").Element("x").Build()).Error())
	require.NoError(t, c.Do(ctx, c.B().Set().Key(prefix+"not-a-list").Value("x").Build()).Error())
	require.NoError(t, c.Do(ctx, c.B().Lpush().Key("other:list").Element("x").Build()).Error())
	st, err = Status(ctx, c, prefix)
	require.NoError(t, err)
	require.Equal(t, []ListStatus{{Key: prefix + "a", Length: 1}, {Key: prefix + "b", Length: 3}}, st)
}
