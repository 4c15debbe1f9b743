package recoverlist

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
)

const prefix = "event_center_message_in_failure_log:"

type recorded struct {
	mu       sync.Mutex
	lines    []string
	refuse   atomic.Bool // answer every line with an error, write nothing
	attempts atomic.Int64
}

func (r *recorded) add(cat string, raw []byte) error {
	r.attempts.Add(1)
	if r.refuse.Load() {
		return datalog.ErrQueueFull
	}
	r.mu.Lock()
	r.lines = append(r.lines, cat+" "+string(raw))
	r.mu.Unlock()
	return nil
}

func (r *recorded) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}
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
	rd    *testsrv.Server
	redis rueidis.Client
	data  *recorded
	bc    *beanstalk.Conn
	w     *Watcher
}

func testConfig() Config {
	return Config{Prefix: prefix, MainTube: "event_center_messages", ScanEvery: 100 * time.Millisecond,
		Wait: 200 * time.Millisecond, Backoff: 50 * time.Millisecond, TakeUpEvery: 200 * time.Millisecond}
}

func redisClient(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	return c
}

func newPool(t *testing.T, addr string, opTimeout time.Duration) *connpool.Pool {
	t.Helper()
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{addr}, OpTimeout: opTimeout,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

// mover runs a Watcher until the returned cancel is called; done is
// closed when Run has returned. Cleanup cancels it and waits.
func mover(t *testing.T, c rueidis.Client, pool *connpool.Pool, data DataLog) (w *Watcher, cancel context.CancelFunc, done chan struct{}) {
	t.Helper()
	w = New(testConfig(), c, pool, data)
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, cancel, done
}

func start(t *testing.T) *env {
	t.Helper()
	bs, rd := testsrv.StartBeanstalkd(t, testsrv.WithBinlog()), testsrv.StartRedis(t)
	c := redisClient(t, rd.Addr)
	t.Cleanup(c.Close)
	e := &env{t: t, bs: bs, rd: rd, redis: c, data: &recorded{}}
	e.w, _, _ = mover(t, c, newPool(t, bs.Addr, time.Second), e.data)
	e.bc = dial(t, bs.Addr)
	return e
}

func dial(t *testing.T, addr string) *beanstalk.Conn {
	t.Helper()
	bc, err := beanstalk.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bc.Close() })
	return bc
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
	list := prefix + "down"
	want := map[string]int{}
	for i := 0; i < 3; i++ {
		e.push(list, job("t", i, 0, 0))
		want[string(job("t", i, 0, 0))] = 1
	}
	// The watcher takes an entry, fails to put it and moves it back, again
	// and again; meanwhile every entry is in the list or in hand.
	require.Eventually(t, func() bool { return e.w.Stats().PushedBack >= 3 }, 10*time.Second, 10*time.Millisecond,
		"failed puts move the entry back")
	inList, inHand := held(t, e.redis, list)
	require.EqualValues(t, 3, inList+inHand, "no entry lost while beanstalkd is down")
	require.EqualValues(t, 0, e.w.Stats().Put)
	require.Empty(t, e.data.all(), "nothing written to the DATA log: every entry is still in Redis")

	e.bs.Restart(t)
	require.Eventually(t, func() bool { return e.w.Stats().Put == 3 }, 15*time.Second, 20*time.Millisecond,
		"every entry put once beanstalkd is back")
	inList, inHand = held(t, e.redis, list)
	require.Zero(t, inList+inHand)
	require.Equal(t, want, drain(t, e.bs.Addr, "event_center_messages"), "each entry in the main tube once")
}

// held returns, read atomically, the entries waiting in a recover list and
// those in its processing list.
func held(t *testing.T, c rueidis.Client, list string) (inList, inHand int64) {
	t.Helper()
	n, err := c.Do(context.Background(), c.B().Eval().Script("return {redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2])}").
		Numkeys(2).Key(list, ProcessingList(list)).Build()).AsIntSlice()
	require.NoError(t, err)
	require.Len(t, n, 2)
	return n[0], n[1]
}

// drain reserves and deletes every ready job of tube and counts them by body.
func drain(t *testing.T, addr, tube string) map[string]int {
	t.Helper()
	bc := dial(t, addr)
	ts := beanstalk.NewTubeSet(bc, tube)
	got := map[string]int{}
	for {
		id, body, err := ts.Reserve(0)
		if errors.Is(err, beanstalk.ErrTimeout) {
			return got
		}
		require.NoError(t, err)
		got[string(body)]++
		require.NoError(t, bc.Delete(id))
	}
}

func readyIn(t *testing.T, addr, tube string) string {
	t.Helper()
	st, err := beanstalk.NewTube(dial(t, addr), tube).Stats()
	if err != nil {
		return ""
	}
	return st["current-jobs-ready"]
}

func pushTo(t *testing.T, c rueidis.Client, list string, raw []byte) {
	t.Helper()
	require.NoError(t, c.Do(context.Background(), c.B().Lpush().Key(list).Element(string(raw)).Build()).Error())
}

// inHand is one entry x on list, moved by a first mover (w1, with Redis
// client c1) into its processing list, its put hanging (up to 30 s) on a
// paused beanstalkd; c is a client of the same Redis for the test, good a
// healthy beanstalkd for the next mover.
type inHand struct {
	c, c1   rueidis.Client
	good    *testsrv.Server
	list    string
	x       []byte
	w1      *Watcher
	cancel1 context.CancelFunc
	done1   chan struct{}
}

func startInHand(t *testing.T, name string, seq int) *inHand {
	t.Helper()
	rd := testsrv.StartRedis(t)
	hung := testsrv.StartBeanstalkd(t)
	h := &inHand{good: testsrv.StartBeanstalkd(t), list: prefix + name, x: job("t", seq, 0, 0)}
	h.c = redisClient(t, rd.Addr)
	t.Cleanup(h.c.Close)
	pushTo(t, h.c, h.list, h.x)
	hungPool := newPool(t, hung.Addr, 30*time.Second)
	hung.Pause()
	h.c1 = redisClient(t, rd.Addr)
	h.w1, h.cancel1, h.done1 = mover(t, h.c1, hungPool, &recorded{})
	require.Eventually(t, func() bool { l, p := held(t, h.c, h.list); return l == 0 && p == 1 },
		10*time.Second, 10*time.Millisecond, "the entry is in the processing list, its put waiting")
	return h
}

func TestCrashBetweenTheMoveAndThePutLosesNothing(t *testing.T) {
	ih := startInHand(t, "crash", 1)
	c, good, list, x := ih.c, ih.good, ih.list, ih.x
	// It crashes: its connections are gone, so nothing it does from now on
	// reaches Redis; Run is not waited for.
	ih.c1.Close()
	ih.cancel1()

	// A new mover (on another beanstalkd, so that the hung put cannot be
	// counted) takes the entry up at start.
	data := &recorded{}
	w2, _, _ := mover(t, c, newPool(t, good.Addr, time.Second), data)
	require.Eventually(t, func() bool { return readyIn(t, good.Addr, "event_center_messages") == "1" },
		10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { l, h := held(t, c, list); return l == 0 && h == 0 },
		10*time.Second, 10*time.Millisecond, "the processing list is emptied after the put")
	require.Equal(t, map[string]int{string(x): 1}, drain(t, good.Addr, "event_center_messages"), "delivered exactly once")
	require.EqualValues(t, 1, w2.Stats().TakenUp)
	require.Empty(t, data.all())
}

func TestShutdownDuringAPutLosesNothing(t *testing.T) {
	ih := startInHand(t, "stop", 2)
	t.Cleanup(ih.c1.Close)
	c, good, list, x, w1, done1 := ih.c, ih.good, ih.list, ih.x, ih.w1, ih.done1
	ih.cancel1()
	select {
	case <-done1:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	l, h := held(t, c, list)
	require.EqualValues(t, 1, l, "the entry in hand went back to its list")
	require.Zero(t, h)
	require.EqualValues(t, 1, w1.Stats().PushedBack)

	mover(t, c, newPool(t, good.Addr, time.Second), &recorded{})
	require.Eventually(t, func() bool { l, h := held(t, c, list); return l == 0 && h == 0 },
		10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return readyIn(t, good.Addr, "event_center_messages") == "1" },
		10*time.Second, 10*time.Millisecond)
	require.Equal(t, map[string]int{string(x): 1}, drain(t, good.Addr, "event_center_messages"))
}

func TestEntryLeftByAStoppedPeerIsTakenUpWhileRunning(t *testing.T) {
	e := start(t)
	// The first delivery shows the start pass is over.
	e.push(prefix+"live", job("t", 3, 0, 0))
	require.Eventually(t, func() bool { return e.w.Stats().Put == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, e.w.Stats().TakenUp)

	// A peer that crashed left an entry in the processing list of a recover
	// list that no longer exists (it was its last entry).
	gone := prefix + "gone"
	y := job("t", 4, 0, 0)
	pushTo(t, e.redis, ProcessingList(gone), y)
	require.Eventually(t, func() bool { return e.w.Stats().TakenUp == 1 && e.w.Stats().Put == 2 },
		10*time.Second, 10*time.Millisecond, "found by a later pass, taken up")
	l, h := held(t, e.redis, gone)
	require.Zero(t, l+h)
	got := drain(t, e.bs.Addr, "event_center_messages")
	require.Equal(t, map[string]int{string(job("t", 3, 0, 0)): 1, string(y): 1}, got)
}

func TestBadEntryStaysWhenItsLineIsRefused(t *testing.T) {
	e := start(t)
	e.data.refuse.Store(true)
	list := prefix + "refused"
	bad := []byte("not msgpack at all")
	e.push(list, bad)
	require.Eventually(t, func() bool { return e.data.attempts.Load() >= 1 }, 10*time.Second, 10*time.Millisecond)
	l, h := held(t, e.redis, list)
	require.Zero(t, l)
	require.EqualValues(t, 1, h, "the line was refused: the entry stays in the processing list")
	require.Zero(t, e.w.Stats().Logged)

	e.data.refuse.Store(false)
	require.Eventually(t, func() bool { return e.w.Stats().Logged == 1 }, 10*time.Second, 10*time.Millisecond,
		"taken up again and logged")
	l, h = held(t, e.redis, list)
	require.Zero(t, l+h)
	require.Equal(t, 1, e.data.count("RECOVFAILASSERT"))
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

// A shutdown while the watcher blocks on an empty list (BLMOVE) waits for
// the move's answer: an entry the move took meanwhile goes back to its
// list, not left in the processing list until a take-up pass.
func TestShutdownDuringABlockingMoveHoldsNothing(t *testing.T) {
	rd, bs := testsrv.StartRedis(t), testsrv.StartBeanstalkd(t)
	c := redisClient(t, rd.Addr)
	t.Cleanup(c.Close)
	list := prefix + "blocking"
	pushTo(t, c, list, job("t", 5, 0, 0))
	cfg := testConfig()
	// One scan finds the list; the watcher then blocks on it, long enough
	// not to time out while Redis is stopped below.
	cfg.ScanEvery, cfg.Wait = time.Hour, 5*time.Second
	c1 := redisClient(t, rd.Addr)
	t.Cleanup(c1.Close)
	w := New(cfg, c1, newPool(t, bs.Addr, time.Second), &recorded{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return w.Stats().Put == 1 && blockedClients(t, c) == 1 },
		10*time.Second, 10*time.Millisecond, "the first entry put, the watcher blocked on the empty list")

	// The move is in Redis, not answered, when the shutdown comes; a
	// second entry arrives for it as Redis goes on.
	rd.Pause()
	cancel()
	x := job("t", 6, 0, 0)
	pushed := make(chan error, 1)
	go func() {
		pushed <- c.Do(context.Background(), c.B().Lpush().Key(list).Element(string(x)).Build()).Error()
	}()
	rd.Resume()
	require.NoError(t, <-pushed)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	l, h := held(t, c, list)
	require.Zero(t, h, "nothing left in the processing list")
	require.EqualValues(t, 1, l, "the entry is in its list")
}

// blockedClients is the number of Redis clients blocked in a command.
func blockedClients(t *testing.T, c rueidis.Client) int {
	t.Helper()
	info, err := c.Do(context.Background(), c.B().Info().Section("clients").Build()).ToString()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "blocked_clients:"); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no blocked_clients in INFO clients")
	return 0
}
