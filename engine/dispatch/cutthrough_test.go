package dispatch

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/testsrv"
)

// tubeStat returns one stats-tube field of tube (0 when the tube does not
// exist).
func (r *rig) tubeStat(tube, key string) int {
	r.t.Helper()
	st, err := beanstalk.NewTube(r.bc, tube).Stats()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(st[key])
	return n
}

// handoffs returns subscription id's direct and spilled counts since the
// test began (its series outlive a rig: another run of the test in this
// process counts on).
func (r *rig) handoffs(id int64) (direct, spilled uint64) {
	rn := r.eng.state.Load().runners[id]
	require.NotNil(r.t, rn)
	base, ok := r.handoffBase[id]
	if !ok {
		r.t.Fatalf("handoffs of sub %d: no baseline (call r.baseHandoffs first)", id)
	}
	return rn.m.direct.Get() - base[0], rn.m.spilled.Get() - base[1]
}

// baseHandoffs records the counts handoffs subtracts; call it before any
// goroutine may call handoffs.
func (r *rig) baseHandoffs(ids ...int64) {
	r.handoffBase = map[int64][2]uint64{}
	for _, id := range ids {
		rn := r.eng.state.Load().runners[id]
		require.NotNil(r.t, rn)
		r.handoffBase[id] = [2]uint64{rn.m.direct.Get(), rn.m.spilled.Get()}
	}
}

// keyOf is the "i" value of a pushed message body ({"i":N}).
func keyOf(t *testing.T, h testsrv.Hit) int {
	t.Helper()
	_, rest, ok := strings.Cut(h.Message, `"i":`)
	require.True(t, ok, h.Message)
	end := strings.IndexAny(rest, ",}")
	n, err := strconv.Atoi(rest[:end])
	require.NoError(t, err, h.Message)
	return n
}

// A subscriber that keeps up gets every message straight from the main
// tube: no channel job is ever put, the channel tube is never watched, and
// each main job is deleted once every subscription has it.
func TestCutThroughDeliversWithoutTheChannelTube(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{CutThrough: true}, sub(1, "ct", s.URL+"/a"), sub(2, "ct", s.URL+"/b"))
	r.baseHandoffs(1, 2)
	const n = 50
	for i := 0; i < n; i++ {
		r.produce("ct", msgpackBody("i", i), "")
	}
	hits := s.WaitFor(10*time.Second, "every copy", func(h []testsrv.Hit) bool { return len(h) >= 2*n })
	require.Len(t, hits, 2*n)
	require.Eventually(t, func() bool {
		ready, delayed, reserved, buried := r.tubeCounts(mainTube)
		return ready+delayed+reserved+buried == 0
	}, 5*time.Second, 5*time.Millisecond, "every main job deleted")
	for _, id := range []int64{1, 2} {
		direct, spilled := r.handoffs(id)
		// A copy spills when the producer's burst finds every push slot
		// taken; the rest go direct.
		assert.Equal(t, uint64(n), direct+spilled, "sub %d", id)
		assert.Positive(t, direct, "sub %d", id)
	}
	require.Eventually(t, func() bool {
		st := r.eng.state.Load()
		return !st.runners[1].chWatch.mayHoldJobs() && !st.runners[2].chWatch.mayHoldJobs() &&
			r.tubeStat("ct/sub-queue/1", "current-watching")+r.tubeStat("ct/sub-queue/2", "current-watching") == 0
	}, 5*time.Second, 5*time.Millisecond, "an emptied channel tube is not watched")
	// At the producer's pace (one message at a time), every copy goes direct.
	d1, _ := r.handoffs(1)
	for i := 0; i < 10; i++ {
		r.produce("ct", msgpackBody("i", n+i), "")
		s.WaitFor(5*time.Second, "the copies", func(h []testsrv.Hit) bool { return len(h) >= 2*(n+i+1) })
	}
	d2, _ := r.handoffs(1)
	assert.Equal(t, d1+10, d2, "a subscriber that keeps up gets every copy direct")
}

// The main job stays reserved while a direct copy is being pushed, and is
// deleted once the push succeeds.
func TestCutThroughHoldsTheMainJobUntilSettled(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	hold := make(chan struct{})
	s.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) {
		<-hold
		return 200, `{"status":1}`, 0
	})
	r := newRig(t, Options{CutThrough: true}, sub(1, "hold", s.URL))
	r.baseHandoffs(1)
	r.produce("hold", msgpackBody("i", 1), "")
	require.Eventually(t, func() bool {
		_, _, reserved, _ := r.tubeCounts(mainTube)
		return reserved == 1 && len(s.Hits()) == 1
	}, 5*time.Second, 5*time.Millisecond, "pushed while the main job is reserved")
	direct, spilled := r.handoffs(1)
	require.Equal(t, [2]uint64{1, 0}, [2]uint64{direct, spilled})
	close(hold)
	require.Eventually(t, func() bool {
		ready, delayed, reserved, buried := r.tubeCounts(mainTube)
		return ready+delayed+reserved+buried == 0
	}, 5*time.Second, 5*time.Millisecond, "main job deleted once pushed")
	require.Zero(t, r.tubeStat("hold/sub-queue/1", "total-jobs"))
}

// A subscription whose push slots are taken spills into its channel tube,
// which is then watched; its later copies follow the spill (one push slot:
// the subscriber sees them in the order produced), and once the tube is
// empty again its copies go direct and the tube is no longer watched. The
// other subscription of the topic is not slowed.
func TestCutThroughSpillsAndKeepsOrder(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	hold := make(chan struct{})
	s.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if h.Path == "/slow" {
			<-hold
		}
		return 200, `{"status":1}`, 0
	})
	slow := sub(1, "order", s.URL+"/slow")
	slow.Concurrency, slow.TimeoutMS = 1, 30000
	fast := sub(2, "order", s.URL+"/fast")
	// One main link and one redistributor: the main tube's order is the
	// order of the copies.
	r := newRig(t, Options{CutThrough: true, MainLinks: 1, RedistWorkers: 1}, slow, fast)
	r.baseHandoffs(1)
	released := false
	t.Cleanup(func() { // before the rig stops
		if !released {
			close(hold)
		}
	})
	const n = 20
	for i := 0; i < n; i++ {
		r.produce("order", msgpackBody("i", i), "")
	}
	s.WaitFor(10*time.Second, "the fast subscription served while the slow one is stuck", func(h []testsrv.Hit) bool {
		fastHits := 0
		for _, x := range h {
			if x.Path == "/fast" {
				fastHits++
			}
		}
		return fastHits == n
	})
	direct, spilled := r.handoffs(1)
	require.Equal(t, uint64(1), direct, "the first copy took the one push slot")
	require.Equal(t, uint64(n-1), spilled, "the rest spilled")
	require.Positive(t, r.tubeStat("order/sub-queue/1", "current-jobs-ready"), "the spill waits in the channel tube")

	close(hold)
	released = true
	hits := s.WaitFor(10*time.Second, "every slow copy", func(h []testsrv.Hit) bool { return len(h) >= 2*n })
	var order []int
	for _, h := range hits {
		if h.Path == "/slow" {
			order = append(order, keyOf(t, h))
		}
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, order, "a spill is pushed in order, behind the direct copy")

	// The lane ran dry: the engine finds the tube empty and goes direct.
	// (An unwatched tube alone is no proof: a full lane ignores it too.)
	rn := r.eng.state.Load().runners[1]
	require.Eventually(t, func() bool {
		return !rn.chWatch.mayHoldJobs() && rn.main.busy.Load() == 0 && r.tubeStat("order/sub-queue/1", "current-watching") == 0
	}, 5*time.Second, 5*time.Millisecond, "an emptied tube is no longer watched")
	r.produce("order", msgpackBody("i", n), "")
	s.WaitFor(10*time.Second, "the next message", func(h []testsrv.Hit) bool { return len(h) >= 2*n+2 })
	direct, _ = r.handoffs(1)
	require.Equal(t, uint64(2), direct, "direct again once the spill is pushed")
}

// Jobs another daemon (or a 2.x one) left in an idle channel tube are
// reserved once a backlog sample finds them, and this daemon's copies
// follow them until the tube is empty.
func TestCutThroughFindsJobsOthersLeft(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{CutThrough: true}, sub(3, "mixed", s.URL))
	m := message.Message{Topic: []byte("mixed"), Body: msgpackBody("i", 100), Time: 1732500002, OriginJobID: 5, SubscriptionID: 3}
	_, err := beanstalk.NewTube(r.bc, "mixed/sub-queue/3").Put(message.AppendChannelJob(nil, &m), 1024, 0, time.Minute)
	require.NoError(t, err)
	r.produce("mixed", msgpackBody("i", 1), "")
	s.WaitFor(10*time.Second, "the direct copy", func(h []testsrv.Hit) bool { return len(h) >= 1 })
	require.Equal(t, 1, r.tubeStat("mixed/sub-queue/3", "current-jobs-ready"), "an idle tube is not reserved")

	// The backlog sampler finds the job (the test is the sampler here).
	r.eng.ChannelSampled(3, 1, 1, time.Now())
	hits := s.WaitFor(10*time.Second, "the other daemon's job", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	assert.Equal(t, 100, keyOf(t, hits[1]))
	rn := r.eng.state.Load().runners[3]
	require.Eventually(t, func() bool {
		return !rn.chWatch.mayHoldJobs() && r.tubeStat("mixed/sub-queue/3", "current-watching") == 0
	}, 5*time.Second, 5*time.Millisecond, "the emptied tube is ignored again")
}

// A stop settles what it holds: the push in hand finishes, a direct copy
// still waiting (here: for its worker's minimum interval) is spilled into
// its channel tube, and the main job is deleted once both are settled.
func TestCutThroughStopSpillsWhatItHolds(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	slow := sub(1, "stop", s.URL)
	slow.Concurrency = 1
	slow.IntervalMS = 60000
	r := newRig(t, Options{CutThrough: true}, slow)
	r.baseHandoffs(1)
	r.produce("stop", msgpackBody("i", 1), "")
	s.WaitFor(10*time.Second, "the first push", func(h []testsrv.Hit) bool { return len(h) == 1 })
	// The subscriber has the push before the worker has its answer: the
	// one push slot is free only once the worker is done with it.
	rn := r.eng.state.Load().runners[1]
	require.Eventually(t, func() bool { return rn.main.busy.Load() == 0 }, 5*time.Second, time.Millisecond)
	r.produce("stop", msgpackBody("i", 2), "")
	require.Eventually(t, func() bool {
		direct, _ := r.handoffs(1)
		return direct == 2
	}, 5*time.Second, 5*time.Millisecond, "the second copy went direct and waits for its interval")
	r.stop()
	require.Len(t, s.Hits(), 1)
	ready, delayed, reserved, buried := r.tubeCounts(mainTube)
	require.Zero(t, ready+delayed+reserved+buried, "both main jobs settled")
	ready, _, _, _ = r.tubeCounts("stop/sub-queue/1")
	require.Equal(t, 1, ready, "the waiting copy spilled")
	id, body, err := beanstalk.NewTube(r.bc, "stop/sub-queue/1").PeekReady()
	require.NoError(t, err)
	var m message.Message
	require.NoError(t, message.Decode(body, &m))
	assert.Equal(t, int64(1), m.SubscriptionID)
	assert.NotZero(t, id)
	assert.Contains(t, string(m.Body), "i")
}

// The token bucket holds on the direct path: a copy that finds no token
// spills, and pushes never come faster than the rate allows.
func TestCutThroughTokenBucketHolds(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	limited := sub(1, "rate", s.URL)
	limited.Rate, limited.Burst = 20, 1
	r := newRig(t, Options{CutThrough: true}, limited)
	r.baseHandoffs(1)
	const n = 10
	for i := 0; i < n; i++ {
		r.produce("rate", msgpackBody("i", i), "")
	}
	hits := s.WaitFor(10*time.Second, "every message", func(h []testsrv.Hit) bool { return len(h) >= n })
	// n pushes with a burst of 1 at 20/s take at least (n-1)/20 s.
	took := hits[n-1].At.Sub(hits[0].At)
	assert.GreaterOrEqual(t, took, time.Duration(n-1)*time.Second/20*9/10)
	_, spilled := r.handoffs(1)
	assert.Positive(t, spilled, "copies that found no token spilled")
}

// A failed direct push goes to the retry tube as from the channel lane; the
// main job is deleted once the retry job is put.
func TestCutThroughRetryAfterDirectFailure(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	first := true
	s.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) {
		if first {
			first = false
			return 500, "no", 0
		}
		return 200, `{"status":1}`, 0
	})
	r := newRig(t, Options{CutThrough: true, RetryCoe: 10 * time.Millisecond}, sub(4, "rd", s.URL))
	r.baseHandoffs(4)
	r.produce("rd", msgpackBody("i", 7), "")
	hits := s.WaitFor(10*time.Second, "push and retry", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	assert.Equal(t, []int{0, 1}, []int{hits[0].RetryTimes, hits[1].RetryTimes})
	assert.Equal(t, hits[0].JobID, hits[1].JobID, "the retry carries the first push's jobid")
	require.Eventually(t, func() bool {
		ready, delayed, reserved, buried := r.tubeCounts(mainTube)
		return ready+delayed+reserved+buried == 0
	}, 5*time.Second, 5*time.Millisecond)
	direct, spilled := r.handoffs(4)
	assert.Equal(t, [2]uint64{1, 0}, [2]uint64{direct, spilled})
}

// A copy that must spill but is too big for beanstalkd as a channel job
// buries its main job, once the direct copies of that job are settled.
func TestCutThroughSpillTooBigBuriesTheMainJob(t *testing.T) {
	m := message.Message{Topic: []byte("big"), Body: msgpackBody("s", "0123456789"), Sender: []byte("test"),
		Time: 1732500000.123456}
	mainJob := message.AppendMainJob(nil, &m)
	bs := testsrv.StartBeanstalkd(t, testsrv.WithMaxJobSize(len(mainJob)))
	s := testsrv.NewSubscriber(t)
	hold := make(chan struct{})
	s.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) {
		<-hold
		return 200, `{"status":1}`, 0
	})
	one := sub(1, "big", s.URL)
	one.Concurrency, one.TimeoutMS = 1, 30000
	r := newRigOn(t, bs, Options{CutThrough: true}, nil, one)
	for i := 0; i < 2; i++ {
		_, err := r.pool.Put(context.Background(), 0, mainTube, mainJob, 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		_, _, reserved, buried := r.tubeCounts(mainTube)
		return reserved == 1 && buried == 1
	}, 10*time.Second, 5*time.Millisecond, "the first held by its direct copy, the second buried")
	close(hold)
	require.Eventually(t, func() bool {
		ready, delayed, reserved, buried := r.tubeCounts(mainTube)
		return ready+delayed+reserved == 0 && buried == 1
	}, 10*time.Second, 5*time.Millisecond, "the pushed one deleted")
	require.Len(t, s.Hits(), 1)
	require.Zero(t, r.data.count("REDISTFAIL"), "no line that replay could never put back")
}
