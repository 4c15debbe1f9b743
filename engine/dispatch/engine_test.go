package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"medispatcher/internal/datalog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

func TestFanOutToEverySubscription(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{},
		sub(1, "order_paid", s.URL+"/a?x=1"),
		sub(2, "order_paid", s.URL+"/b"),
		sub(3, "order_paid", s.URL+"/c"),
		sub(4, "other_topic", s.URL+"/other"),
	)
	const n = 20
	origins := map[uint64]bool{}
	for i := 0; i < n; i++ {
		origins[r.produce("order_paid", msgpackBody("i", i, "name", "Zoë <&>"), "ctx-1")] = true
	}
	hits := s.WaitFor(20*time.Second, "3×20 pushes", func(h []testsrv.Hit) bool { return len(h) >= 3*n })
	perPath := map[string]map[string]bool{}
	for _, h := range hits {
		if perPath[h.Path] == nil {
			perPath[h.Path] = map[string]bool{}
		}
		require.False(t, perPath[h.Path][h.JobID], "duplicate push of %s to %s", h.JobID, h.Path)
		perPath[h.Path][h.JobID] = true
		assert.Equal(t, 0, h.RetryTimes)
		assert.Equal(t, "ctx-1", h.Context)
		assert.Contains(t, h.Message, `"name":"Zoë \u003c\u0026\u003e"`)
		var origin uint64
		var subID int64
		_, err := fmt.Sscanf(h.JobID, "1732500000.123456-%d-%d", &origin, &subID)
		require.NoError(t, err, h.JobID)
		assert.True(t, origins[origin], "jobid %s names an unknown main job", h.JobID)
		assert.Equal(t, map[string]int64{"/a": 1, "/b": 2, "/c": 3}[h.Path], subID)
		if h.Path == "/a" {
			assert.True(t, strings.HasPrefix(h.URI, "/a?x=1&jobid="+h.JobID+"&retry_times=0"), h.URI)
		}
	}
	require.Len(t, perPath, 3, "no push for the other topic, one path per subscription")
	for p, ids := range perPath {
		require.Len(t, ids, n, p)
	}
	r.stop()
	for _, tube := range []string{mainTube, "order_paid/sub-queue/1", "order_paid/sub-queue/2", "order_paid/sub-queue/3"} {
		ready, delayed, reserved, buried := r.tubeCounts(tube)
		require.Zero(t, ready+delayed+reserved+buried, "tube %s not empty", tube)
	}
}

func TestFailureKindsRetryWithGrowingDelayThenGiveUp(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	s.SetAnswer(func(h hit) (int, string, time.Duration) {
		switch h.Path {
		case "/500":
			return 500, `{"status":1}`, 0
		case "/nostatus":
			return 200, `{"ok":true}`, 0
		case "/status0":
			return 200, `{"status":0}`, 0
		case "/badjson":
			return 200, `status=1`, 0
		case "/slow":
			return 200, `{"status":1}`, 400 * time.Millisecond
		}
		return 200, `{"status":1}`, 0
	})
	closed := "http://127.0.0.1:1/refused" // nothing listens on port 1
	kinds := []string{"/500", "/nostatus", "/status0", "/badjson", "/slow"}
	var list []*subs.Subscription
	for i, k := range kinds {
		sb := sub(int64(10+i), "t_fail", s.URL+k)
		sb.TimeoutMS = 150
		list = append(list, sb)
	}
	list = append(list, sub(20, "t_fail", closed))

	var mu sync.Mutex
	records := map[int64][]failures.Record{}
	store := recordsTo(func(rec *failures.Record) {
		mu.Lock()
		records[rec.SubID] = append(records[rec.SubID], *rec)
		mu.Unlock()
	})
	r := newRigOn(t, testsrv.StartBeanstalkd(t), Options{RetryCoe: time.Second, MaxRetries: 2}, store, list...)
	r.produce("t_fail", msgpackBody("k", 1), "")

	waitAllGivenUp(t, &mu, records, list)
	requireTwoRetriesWithGrowingDelay(t, s.Hits(), kinds)
	mu.Lock()
	for _, sb := range list {
		recs := records[sb.ID]
		require.Len(t, recs, 3, "sub %d: two retrying records and a final one", sb.ID)
		require.Equal(t, recs[0].LogID, recs[2].LogID, "one record id per message")
		require.NotEmpty(t, recs[0].Error)
		require.Equal(t, 2, recs[2].RetryTimes)
	}
	require.Contains(t, records[20][0].Error, "connection")
	require.Contains(t, records[14][0].Error, "timeout")
	mu.Unlock()
	r.stop()
	for _, sb := range list {
		for _, tube := range []string{sb.ChannelTube("sub-queue/"), sb.RetryTube("sub-queue/")} {
			ready, delayed, reserved, buried := r.tubeCounts(tube)
			require.Zero(t, ready+delayed+reserved+buried, "tube %s not empty", tube)
		}
	}
}

// waitAllGivenUp waits until every subscription of list has a given-up
// record.
func waitAllGivenUp(t *testing.T, mu *sync.Mutex, records map[int64][]failures.Record, list []*subs.Subscription) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := 0
		for _, sb := range list {
			if recs := records[sb.ID]; len(recs) > 0 && recs[len(recs)-1].Final == failures.GivenUp {
				done++
			}
		}
		mu.Unlock()
		if done == len(list) {
			return
		}
		require.True(t, time.Now().Before(deadline), "not every subscription gave up in time: %v", records)
		time.Sleep(50 * time.Millisecond) // no signal exists for a record written on the fallback path
	}
}

// requireTwoRetriesWithGrowingDelay checks the pushes to each path of
// kinds: the first push and two retries of one job, retry n after n² s.
func requireTwoRetriesWithGrowingDelay(t *testing.T, hits []hit, kinds []string) {
	t.Helper()
	for _, k := range kinds {
		var mine []hit
		for _, h := range hits {
			if h.Path == k {
				mine = append(mine, h)
			}
		}
		require.Len(t, mine, 3, "%s: first push and 2 retries", k)
		for i, h := range mine {
			require.Equal(t, i, h.RetryTimes, k)
			require.Equal(t, mine[0].JobID, h.JobID, "%s: jobid stable across retries", k)
		}
		// Retry n waits n² × coe: 1 s, then 4 s (beanstalkd delays are whole seconds).
		assert.GreaterOrEqual(t, mine[1].At.Sub(mine[0].At), 900*time.Millisecond, k)
		assert.GreaterOrEqual(t, mine[2].At.Sub(mine[1].At), 3900*time.Millisecond, k)
	}
}

func TestRetrySucceedsAndRecordsSuccess(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	var calls atomic.Int32
	s.SetAnswer(func(hit) (int, string, time.Duration) {
		if calls.Add(1) == 1 {
			return 503, "busy", 0
		}
		return 200, `{"status":"1"}`, 0
	})
	var mu sync.Mutex
	var recs []failures.Record
	store := recordsTo(func(rec *failures.Record) {
		mu.Lock()
		recs = append(recs, *rec)
		mu.Unlock()
	})
	r := newRigOn(t, testsrv.StartBeanstalkd(t), Options{RetryCoe: time.Second, MaxRetries: 5}, store, sub(1, "t", s.URL))
	r.produce("t", msgpackBody("a", 1), "")
	hits := s.WaitFor(15*time.Second, "first push and one retry", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	require.Equal(t, 0, hits[0].RetryTimes)
	require.Equal(t, 1, hits[1].RetryTimes)
	r.stop()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, recs, 2)
	require.Equal(t, failures.Retrying, recs[0].Final)
	require.Contains(t, recs[0].Error, "503")
	require.Equal(t, failures.Success, recs[1].Final)
	require.Equal(t, recs[0].LogID, recs[1].LogID)
	require.Len(t, s.Hits(), 2, "nothing pushed after the success")
}

// observed records what an Observer hears.
type observed struct {
	mu      sync.Mutex
	started []int64
	pushes  []string // "sub ok retry retriesDone"
	stopped []int64
}

func (o *observed) Sub(s *subs.Subscription) SubObserver {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, s.ID)
	return &subObserved{o: o, id: s.ID}
}

type subObserved struct {
	o  *observed
	id int64
}

func (s *subObserved) Pushed(sub *subs.Subscription, ok, retry bool, retriesDone int) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	s.o.pushes = append(s.o.pushes, fmt.Sprintf("%d %v %v %d", sub.ID, ok, retry, retriesDone))
}

func (s *subObserved) Stopped() {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	s.o.stopped = append(s.o.stopped, s.id)
}

func TestObserverHearsEveryPush(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	var calls atomic.Int32
	s.SetAnswer(func(hit) (int, string, time.Duration) {
		if calls.Add(1) <= 2 {
			return 500, "no", 0
		}
		return 200, `{"status":"1"}`, 0
	})
	obs := &observed{}
	r := newRigWith(t, testsrv.StartBeanstalkd(t), Options{RetryCoe: 10 * time.Millisecond}, nil, obs, sub(4, "t", s.URL))
	r.produce("t", msgpackBody("a", 1), "")
	s.WaitFor(15*time.Second, "first push, a failed retry, a good one", func(h []testsrv.Hit) bool { return len(h) >= 3 })
	changed := r.eng.Changed()
	r.src.set(t) // cancel the subscription
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the empty set was not applied")
	}
	require.Zero(t, r.eng.Subscriptions().Len())
	r.stop()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	require.Equal(t, []int64{4}, obs.started)
	require.Equal(t, []string{"4 false false 0", "4 false true 1", "4 true true 2"}, obs.pushes)
	require.Equal(t, []int64{4}, obs.stopped)
}

func TestReceptionEnvSelectsTaggedURLs(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{ReceptionEnv: "staging"},
		sub(1, "env", "[T_ENV:STAGING] "+s.URL+"/tagged\n"+s.URL+"/untagged1"),
		sub(2, "env", "[T_ENV:prod] "+s.URL+"/prod\n  "+s.URL+"/untagged2  "),
		sub(3, "env", "[T_ENV:prod] "+s.URL+"/prodonly"),
	)
	for i := 0; i < 10; i++ {
		r.produce("env", msgpackBody("i", i), "")
	}
	s.WaitFor(10*time.Second, "20 pushes", func(h []testsrv.Hit) bool { return len(h) >= 20 })
	require.Eventually(t, func() bool {
		ready, delayed, reserved, buried := r.tubeCounts("env/sub-queue/3")
		return ready+delayed+reserved+buried == 0
	}, 10*time.Second, 10*time.Millisecond, "a message without usable URL is dropped, not kept")
	r.stop()
	paths := map[string]int{}
	for _, h := range s.Hits() {
		paths[h.Path]++
	}
	require.Equal(t, map[string]int{"/tagged": 10, "/untagged2": 10}, paths)
}

func TestBenchModeDeliversOnlyToBenchSubscriptions(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	bench := sub(1, "b", s.URL+"/bench")
	bench.ReceiveBench = true
	r := newRig(t, Options{RunAtBench: true}, bench, sub(2, "b", s.URL+"/normal"))
	for i := 0; i < 5; i++ {
		r.produce("b", msgpackBody("i", i), "")
	}
	s.WaitFor(10*time.Second, "5 bench pushes", func(h []testsrv.Hit) bool { return len(h) >= 5 })
	r.stop()
	for _, h := range s.Hits() {
		require.Equal(t, "/bench", h.Path)
	}
	ready, delayed, reserved, buried := r.tubeCounts("b/sub-queue/2")
	require.Zero(t, ready+delayed+reserved+buried, "nothing redistributed to a non-bench subscription")
}

func TestMalformedMainJobsAreLoggedAndGoodOnesDelivered(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{}, sub(1, "good", s.URL))
	tube := beanstalk.NewTube(r.bc, mainTube)
	bad := [][]byte{{0xc1}, []byte("not msgpack"), {0x81, 0xa6, 'm', 's', 'g', 'K', 'e', 'y', 0x05}, {0x80}}
	for i := 0; i < 10; i++ {
		r.produce("good", msgpackBody("i", i), "")
		_, err := tube.Put(bad[i%len(bad)], 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	s.WaitFor(10*time.Second, "10 good pushes", func(h []testsrv.Hit) bool { return len(h) >= 10 })
	// The last bad job was put after the last good one: the good pushes
	// being done does not mean it has been read yet.
	require.Eventually(t, func() bool { return r.data.count("DECODERR") >= 10 }, 10*time.Second, 5*time.Millisecond)
	r.stop()
	require.Equal(t, 10, r.data.count("DECODERR"))
	ready, delayed, reserved, buried := r.tubeCounts(mainTube)
	require.Zero(t, ready+delayed+reserved+buried)
}

func TestOldDaemonChannelJobsAreRoutedByTube(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{}, sub(7, "legacy", s.URL))
	m := message.Message{Topic: []byte("legacy"), Body: msgpackBody("a", 1), Time: 1732500001.5, OriginJobID: 99}
	job := message.AppendChannelJob(nil, &m) // SubscriptionId 0: as the old daemon wrote it
	_, err := beanstalk.NewTube(r.bc, "legacy/sub-queue/7").Put(job, 1024, 0, time.Minute)
	require.NoError(t, err)
	m.LogID, m.RetryTimes = 1234, 2
	job = message.AppendChannelJob(nil, &m)
	_, err = beanstalk.NewTube(r.bc, "legacy/sub-queue/7/FAIL").Put(job, 1024, 0, time.Minute)
	require.NoError(t, err)
	// With CutThrough an idle channel tube is watched once the backlog
	// sampler finds jobs in it; here the test is the sampler.
	r.eng.ChannelSampled(7, 1, 1, time.Now())
	hits := s.WaitFor(10*time.Second, "2 pushes", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	got := map[int]string{}
	for _, h := range hits {
		got[h.RetryTimes] = h.JobID
	}
	require.Equal(t, map[int]string{0: "1732500001.500000-99-7", 3: "1732500001.500000-99-7"}, got)
}

func TestLiveParameterChangesUnderTraffic(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	var inflight, maxInflight atomic.Int32
	s.SetAnswer(func(hit) (int, string, time.Duration) {
		n := inflight.Add(1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inflight.Add(-1)
		return 200, `{"status":1}`, 0
	})
	one := sub(1, "live", s.URL+"/a")
	one.Concurrency = 1
	r := newRig(t, Options{}, one)
	for i := 0; i < 20; i++ {
		r.produce("live", msgpackBody("i", i), "")
	}
	s.WaitFor(20*time.Second, "20 pushes to /a", func(h []testsrv.Hit) bool { return len(h) >= 20 })
	require.Equal(t, int32(1), maxInflight.Load(), "concurrency 1 means one push at a time")

	changed := sub(1, "live", s.URL+"/b")
	changed.Concurrency = 8
	changed.Rate = 1000
	r.src.set(t, changed)
	runner := func() *runner { return r.eng.state.Load().runners[1] }
	require.Eventually(t, func() bool { return runner().params.Load().sub.URL == changed.URL }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, float64(1000), runner().bucket.Rate())
	maxInflight.Store(0)
	for i := 20; i < 120; i++ {
		r.produce("live", msgpackBody("i", i), "")
	}
	hits := s.WaitFor(20*time.Second, "120 pushes", func(h []testsrv.Hit) bool { return len(h) >= 120 })
	require.Greater(t, maxInflight.Load(), int32(1), "concurrency grew live")
	require.LessOrEqual(t, maxInflight.Load(), int32(8))
	seen := map[string]bool{}
	for i, h := range hits {
		require.False(t, seen[h.JobID], "duplicate %s", h.JobID)
		seen[h.JobID] = true
		if i >= 20 {
			require.Equal(t, "/b", h.Path, "pushes after the change use the new URL")
		}
	}

	// Shrink back under traffic: nothing lost, nothing twice.
	back := sub(1, "live", s.URL+"/b")
	back.Concurrency = 2
	r.src.set(t, back)
	for i := 120; i < 160; i++ {
		r.produce("live", msgpackBody("i", i), "")
	}
	hits = s.WaitFor(20*time.Second, "160 pushes", func(h []testsrv.Hit) bool { return len(h) >= 160 })
	seen = map[string]bool{}
	for _, h := range hits {
		require.False(t, seen[h.JobID], "duplicate %s", h.JobID)
		seen[h.JobID] = true
	}
	require.Len(t, seen, 160)
}

func TestCancelledSubscriptionStopsAndKeepsItsMessages(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{}, sub(1, "c", s.URL+"/one"), sub(2, "c", s.URL+"/two"))
	r.produce("c", msgpackBody("i", 0), "")
	s.WaitFor(10*time.Second, "2 pushes", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	r.src.set(t, sub(2, "c", s.URL+"/two"))
	require.Eventually(t, func() bool { return r.eng.state.Load().runners[1] == nil }, 5*time.Second, 5*time.Millisecond)
	for i := 1; i <= 5; i++ {
		r.produce("c", msgpackBody("i", i), "")
	}
	s.WaitFor(10*time.Second, "5 more pushes to /two", func(h []testsrv.Hit) bool { return len(h) >= 7 })
	r.stop()
	for _, h := range s.Hits()[2:] {
		require.Equal(t, "/two", h.Path)
	}
	ready, _, _, _ := r.tubeCounts("c/sub-queue/1")
	require.Zero(t, ready, "no redistribution to a cancelled subscription")
}

func TestGracefulStopLeavesEveryMessageDeliveredOrReady(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	s.SetAnswer(func(hit) (int, string, time.Duration) { return 200, `{"status":1}`, 10 * time.Millisecond })
	slow := sub(1, "g", s.URL)
	slow.Concurrency = 2
	r := newRig(t, Options{}, slow)
	const n = 300
	for i := 0; i < n; i++ {
		r.produce("g", msgpackBody("i", i), "")
	}
	s.WaitFor(20*time.Second, "some pushes", func(h []testsrv.Hit) bool { return len(h) >= 30 })
	r.stop()
	delivered := map[string]bool{}
	for _, h := range s.Hits() {
		require.False(t, delivered[h.JobID], "duplicate %s", h.JobID)
		delivered[h.JobID] = true
	}
	mainReady, mainDelayed, mainReserved, mainBuried := r.tubeCounts(mainTube)
	chReady, chDelayed, chReserved, chBuried := r.tubeCounts("g/sub-queue/1")
	require.Zero(t, mainDelayed+mainReserved+mainBuried+chDelayed+chReserved+chBuried, "nothing held or buried after a stop")
	require.Less(t, len(delivered), n, "the stop came under load")
	require.Equal(t, n, len(delivered)+mainReady+chReady, "every message is delivered or ready")
}

func TestDropThresholdActions(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	release := make(chan struct{})
	s.SetAnswer(func(h hit) (int, string, time.Duration) {
		if h.Path == "/stuck" {
			<-release // holds its one worker until the test ends
		}
		return 200, `{"status":1}`, 0
	})
	logged := sub(1, "d", s.URL+"/stuck")
	logged.Concurrency, logged.TimeoutMS, logged.DropThreshold, logged.DropAction = 1, 30000, 3, subs.DropLog
	dropped := sub(2, "d", s.URL+"/stuck")
	dropped.Concurrency, dropped.TimeoutMS, dropped.DropThreshold, dropped.DropAction = 1, 30000, 3, subs.DropDrop
	kept := sub(3, "d", s.URL+"/stuck")
	kept.Concurrency, kept.TimeoutMS, kept.DropThreshold, kept.DropAction = 1, 30000, 3, subs.DropKeep
	r := newRig(t, Options{}, logged, dropped, kept)
	t.Cleanup(func() { close(release) }) // runs before the rig stops

	// Fill each lane (1 in the push, the rest queued) and leave a backlog
	// in every channel tube.
	for i := 0; i < 60; i++ {
		r.produce("d", msgpackBody("i", i), "")
	}
	// The backlog is ready + reserved jobs (reserved ones wait in a lane).
	require.Eventually(t, func() bool {
		a, _, ar, _ := r.tubeCounts("d/sub-queue/1")
		b, _, br, _ := r.tubeCounts("d/sub-queue/2")
		return a+ar > 3 && b+br > 3
	}, 10*time.Second, 10*time.Millisecond, "backlog above the threshold")
	// The guard reads what the daemon's backlog sampler reports; here the
	// test is the sampler.
	for _, id := range []int64{1, 2} {
		ready, _, reserved, _ := r.tubeCounts(fmt.Sprintf("d/sub-queue/%d", id))
		r.eng.ChannelSampled(id, int64(ready+reserved), int64(ready+reserved), time.Now())
	}
	total := func(tube string) int {
		ready, delayed, reserved, buried := r.tubeCounts(tube)
		return ready + delayed + reserved + buried
	}
	// waiting counts main jobs not yet redistributed: with CutThrough the
	// first one stays reserved while its direct copies are stuck (each
	// subscription took it into its one push slot).
	held := 0
	if cutThrough() {
		held = 1
	}
	waiting := func() int { return total(mainTube) - held }
	// Every main-tube job redistributed before counting.
	require.Eventually(t, func() bool { return waiting() == 0 }, 5*time.Second, 10*time.Millisecond)
	before1, before2, before3 := total("d/sub-queue/1"), total("d/sub-queue/2"), total("d/sub-queue/3")
	dropLogged, dropSilent := r.data.count("DROP d 1"), r.data.count("DROP d 2")
	for i := 0; i < 10; i++ {
		r.produce("d", msgpackBody("i", 200+i), "")
	}
	require.Eventually(t, func() bool {
		return waiting() == 0 && total("d/sub-queue/3") == before3+10
	}, 10*time.Second, 10*time.Millisecond, "action 0 keeps every message")
	after1, after2 := total("d/sub-queue/1"), total("d/sub-queue/2")
	require.Equal(t, before1, after1, "action 1 puts nothing into the channel")
	require.Equal(t, before2, after2, "action 2 puts nothing into the channel")
	require.Equal(t, dropLogged+10, r.data.count("DROP d 1"), "action 1 writes each message to the drop log")
	require.Zero(t, dropSilent+r.data.count("DROP d 2"), "action 2 drops silently")
}

// Until the first subscription set is in, every topic would look
// unsubscribed and its messages deleted: the main tube must not be
// reserved before it.
func TestNothingRedistributedBeforeFirstSubscriptionSet(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	s := testsrv.NewSubscriber(t)
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	src := newStaticSource()
	eng, err := New(Options{MainTube: mainTube}, Deps{Pool: pool, Push: push.NewClient(push.Config{}), Source: src, Data: &recordingLog{}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	bc, err := beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	defer bc.Close()
	main := beanstalk.NewTube(bc, mainTube)
	for i := 0; i < 10; i++ {
		m := message.Message{Topic: []byte("early"), Body: msgpackBody("i", i), Time: 1}
		_, err := main.Put(message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, l := range pool.Stats() {
			if !l.Connected {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "every link connected")
	st, err := main.Stats()
	require.NoError(t, err)
	require.Equal(t, "0", st["current-watching"], "main tube watched before any subscription set")
	require.Equal(t, "10", st["current-jobs-ready"])

	src.set(t, sub(1, "early", s.URL))
	s.WaitFor(10*time.Second, "the 10 early messages", func(h []testsrv.Hit) bool { return len(h) == 10 })
}

// After the first failure the retry tube holds exactly the old daemon's
// job: 11 keys in its order, RetryTimes 0, a LogId, the main job's id.
func TestRetryTubeJobIsTheOldFormat(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	s.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":0}`, 0 })
	r := newRigOn(t, testsrv.StartBeanstalkd(t), Options{RetryCoe: 30 * time.Second}, nil, sub(17, "order_paid", s.URL))
	origin := r.produce("order_paid", msgpackBody("a", 1), "c")
	s.WaitFor(10*time.Second, "the first push", func(h []testsrv.Hit) bool { return len(h) == 1 })
	var job []byte
	require.Eventually(t, func() bool {
		id, body, err := beanstalk.NewTube(r.bc, "order_paid/sub-queue/17/FAIL").PeekDelayed()
		job = body
		return err == nil && id > 0
	}, 10*time.Second, 10*time.Millisecond, "a delayed job in the retry tube")
	keys, err := message.MapKeys(job)
	require.NoError(t, err)
	require.Equal(t, []string{"MsgKey", "Body", "Sender", "Time", "OriginJobId", "RetryTimes", "LogId",
		"Delay", "Priority", "Context", "Owl_context"}, keys)
	var m message.Message
	require.NoError(t, message.Decode(job, &m))
	require.Equal(t, origin, m.OriginJobID)
	require.Zero(t, m.RetryTimes, "retries done so far: the next push sends retry_times=1")
	require.NotZero(t, m.LogID)
	require.Equal(t, "c", string(m.Context))
	require.InDelta(t, 1732500000.123456, m.Time, 1e-6)
}

// 10 000 malformed jobs mixed into a normal stream: no crash, no stall,
// every good message delivered once, and every malformed job, each a
// distinct body, kept exactly once: a durable DECODERR line on disk for an
// undecodable main-tube job, or buried in its channel tube for a body
// nested beyond message.MaxDepth (decodable, but it can never become the
// JSON a subscriber gets).
// malformedJobs returns a generator of distinct main jobs (by index) that
// cannot be pushed: undecodable ones in five ways, and every sixth a
// complete message whose body nests deeper than MaxDepth (deepBody).
func malformedJobs() func(i int) (job []byte, deepBody bool) {
	rnd := rand.New(rand.NewPCG(1, 2))
	// A complete body nested deeper than MaxDepth: [[[ … [1] … ]]].
	deep := bytes.Repeat([]byte{0x91}, message.MaxDepth+10)
	deep = append(deep, 0x01)
	seq := func(b []byte, i int) []byte { // makes every bad job distinct
		return append(b, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
	}
	return func(i int) (job []byte, deepBody bool) {
		switch i % 6 {
		case 0: // random bytes, now and then a huge job
			n := 1 + rnd.IntN(300)
			if i%1200 == 0 {
				n = 512 << 10
			}
			b := make([]byte, n)
			for j := range b {
				b[j] = byte(rnd.Uint32())
			}
			b[0] = 0xc1 // never a valid msgpack start
			return seq(b, i), false
		case 1: // msgKey of the wrong type
			return seq([]byte{0x81, 0xa6, 'm', 's', 'g', 'K', 'e', 'y', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, i), false
		case 2: // no msgKey at all
			return seq([]byte{0x81, 0xa4, 'b', 'o', 'd', 'y', 0xc0}, i), false
		case 3: // truncated map
			return seq([]byte{0x83, 0xa6, 'm', 's', 'g', 'K', 'e', 'y'}, i), false
		case 4: // a complete message whose body nests too deeply
			m := message.Message{Topic: []byte("good"), Body: deep, Time: float64(i)}
			return message.AppendMainJob(nil, &m), true
		default: // not a map
			return seq([]byte{0x93, 1, 2}, i), false
		}
	}
}

// decodeErrLinesOnDisk reads the DATA log files of dir back and counts
// the DECODERR lines of each job of want.
func decodeErrLinesOnDisk(t *testing.T, dir string, want map[string]bool) map[string]int {
	t.Helper()
	onDisk := map[string]int{}
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			e, err := datalog.ParseLine(line)
			require.NoError(t, err)
			if e.Category == datalog.DecodeErr && want[string(e.Raw)] {
				onDisk[string(e.Raw)]++
			}
		}
	}
	return onDisk
}

func TestMalformedFloodDoesNotStallGoodMessages(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{}, sub(1, "good", s.URL))
	bad := malformedJobs()
	pool := r.pool
	ctx := context.Background()
	good, deepN := 0, 0
	undecodable := map[string]bool{}
	for i := 0; i < 10000; i++ {
		job, isDeep := bad(i)
		_, err := pool.Put(ctx, 0, mainTube, job, 1024, 0, time.Minute)
		require.NoError(t, err)
		if isDeep {
			deepN++
		} else {
			undecodable[string(job)] = true
		}
		if i%20 == 0 {
			m := message.Message{Topic: []byte("good"), Body: msgpackBody("i", i, "name", "na\xffme"), Time: 1}
			_, err := pool.Put(ctx, 0, mainTube, message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
			require.NoError(t, err)
			good++
		}
	}
	require.Len(t, undecodable, 10000-deepN, "every malformed job is distinct")
	s.WaitFor(60*time.Second, "every good message", func(h []testsrv.Hit) bool { return len(h) >= good })
	require.Eventually(t, func() bool {
		_, _, _, buried := r.tubeCounts("good/sub-queue/1")
		return len(r.data.decodeErrRaws()) == len(undecodable) && buried == deepN
	}, 30*time.Second, 20*time.Millisecond, "each malformed job logged or buried")
	r.stop()
	require.Len(t, s.Hits(), good, "nothing pushed twice")
	logged := r.data.decodeErrRaws()
	for raw, n := range logged {
		require.True(t, undecodable[raw], "a DECODERR line for a job that was put")
		require.Equal(t, 1, n, "each malformed job logged once")
	}
	// The lines are on disk, not only confirmed: read the files back.
	onDisk := decodeErrLinesOnDisk(t, r.dataDir, undecodable)
	require.Len(t, onDisk, len(undecodable), "every undecodable job has its line in the DATA log files")
	ready, delayed, reserved, buried := r.tubeCounts(mainTube)
	require.Zero(t, ready+delayed+reserved+buried)
}

// TestLazyRetryWatch: with LazyRetryWatch a retry tube is reserved from
// only while it may hold jobs. A retry put of its own watches it at once;
// a job another daemon left there waits for a sample that finds it.
func TestLazyRetryWatch(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	var calls atomic.Int32
	s.SetAnswer(func(hit) (int, string, time.Duration) {
		if calls.Add(1) == 1 {
			return 500, "no", 0
		}
		return 200, `{"status":1}`, 0
	})
	r := newRigOn(t, testsrv.StartBeanstalkd(t), Options{RetryCoe: 10 * time.Millisecond, LazyRetryWatch: true}, nil, sub(6, "lazy", s.URL))
	channelTube, retryTube := "lazy/sub-queue/6", "lazy/sub-queue/6/FAIL"
	watching := func(tube string) int {
		st, err := beanstalk.NewTube(r.bc, tube).Stats()
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(st["current-watching"])
		return n
	}
	// hitWith matches a push whose message holds key.
	hitWith := func(key string) func([]testsrv.Hit) bool {
		return func(hs []testsrv.Hit) bool {
			for _, h := range hs {
				if strings.Contains(h.Message, `"`+key+`"`) {
					return true
				}
			}
			return false
		}
	}
	// otherDaemonsJob puts a retry job as another daemon would.
	otherDaemonsJob := func(key string) {
		m := message.Message{Topic: []byte("lazy"), Body: msgpackBody(key, 2), Time: 1, RetryTimes: 1, SubscriptionID: 6}
		_, err := beanstalk.NewTube(r.bc, retryTube).Put(message.AppendRetryJob(nil, &m), 1024, 0, time.Minute)
		require.NoError(t, err)
	}

	// Once the engine reserves (from the channel tube, or with CutThrough
	// from the main tube alone), the idle retry tube is still not watched.
	reserving := mainTube
	if !cutThrough() {
		reserving = channelTube
	}
	require.Eventually(t, func() bool { return watching(reserving) > 0 }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, watching(retryTube), "an idle retry tube is not watched")

	// Our own failed push puts a retry job: the tube is watched (the retry
	// was reserved from it) and the retry delivered without any sample.
	r.produce("lazy", msgpackBody("a", 1), "")
	s.WaitFor(10*time.Second, "the push and its retry", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	require.Positive(t, watching(retryTube))

	// An empty sample asked before our put changes nothing: a job another
	// daemon leaves is still reserved without a sample.
	r.eng.RetrySampled(6, 0, time.Now().Add(-time.Hour))
	otherDaemonsJob("lazy_b")
	s.WaitFor(10*time.Second, "the other daemon's job while watched", hitWith("lazy_b"))

	// An empty sample asked after our put makes the tube idle. Sampled as
	// the backlog sampler does, again until it holds: the engine rightly
	// refuses a sample that may predate the end of its own retry put or
	// that of a job still being handled.
	require.Eventually(t, func() bool {
		asked := time.Now()
		ready, delayed, reserved, buried := r.tubeCounts(retryTube)
		r.eng.RetrySampled(6, int64(ready+delayed+reserved+buried), asked)
		return watching(retryTube) == 0
	}, 10*time.Second, 10*time.Millisecond)

	// A retry job another daemon leaves is not reserved while idle, even
	// as the engine goes on reserving from the channel tube...
	otherDaemonsJob("lazy_c")
	r.produce("lazy", msgpackBody("lazy_d", 1), "")
	hs := s.WaitFor(10*time.Second, "a message pushed after the idle tube got a job", hitWith("lazy_d"))
	assert.False(t, hitWith("lazy_c")(hs), "the idle retry tube's job was reserved")
	ready, _, _, _ := r.tubeCounts(retryTube)
	require.Equal(t, 1, ready)
	require.Zero(t, watching(retryTube))
	// ...until a sample finds it.
	r.eng.RetrySampled(6, 1, time.Now())
	s.WaitFor(10*time.Second, "the other daemon's retry job", hitWith("lazy_c"))
}
