package dispatch

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// mainWatching returns how many connections watch the main tube.
func (r *rig) mainWatching() int {
	r.t.Helper()
	st, err := beanstalk.NewTube(r.bc, mainTube).Stats()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(st["current-watching"])
	return n
}

// allLinksConnected waits until every link of the rig's pool is up, so
// that a tube's watch count says what the engine decided.
func (r *rig) allLinksConnected() {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		for _, l := range r.pool.Stats() {
			if !l.Connected {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond, "every link connected")
}

// An empty subscription set is not a reason to delete anything: the main
// tube is not even watched while the live set is empty, and it is again as
// soon as a subscription is loaded (and not when it is emptied later).
func TestEmptySetLeavesMainTubeUntouched(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{})
	r.allLinksConnected()
	for i := 0; i < 5; i++ {
		r.produce("t", msgpackBody("i", i), "")
	}
	require.Zero(t, r.mainWatching(), "main tube watched with an empty set")
	ready, _, _, _ := r.tubeCounts(mainTube)
	require.Equal(t, 5, ready)
	require.Contains(t, r.eng.Paused(), "empty")

	r.src.set(t, sub(1, "t", s.URL))
	s.WaitFor(10*time.Second, "the 5 waiting messages", func(h []testsrv.Hit) bool { return len(h) == 5 })
	require.Empty(t, r.eng.Paused())

	changed := r.eng.Changed()
	r.src.set(t)
	<-changed
	require.Eventually(t, func() bool { return r.mainWatching() == 0 }, 10*time.Second, 5*time.Millisecond,
		"emptied set: main tube ignored again")
	for i := 0; i < 3; i++ {
		r.produce("t", msgpackBody("i", 10+i), "")
	}
	ready, _, reserved, _ := r.tubeCounts(mainTube)
	require.Equal(t, 3, ready+reserved, "nothing taken while the set is empty")
	require.Len(t, s.Hits(), 5)
}

// AllowEmptySet is the operator saying an empty set is meant: messages of
// topics with no subscription are deleted, counted per topic and, with
// LogUnsubscribed, written as DROP lines first.
func TestAllowEmptySetLogsUnsubscribed(t *testing.T) {
	r := newRig(t, Options{AllowEmptySet: true, LogUnsubscribed: true})
	for i := 0; i < 3; i++ {
		r.produce("nobody", msgpackBody("i", i), "")
	}
	require.Eventually(t, func() bool {
		ready, delayed, reserved, buried := r.tubeCounts(mainTube)
		return ready+delayed+reserved+buried == 0
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 3, r.data.count("DROP nobody 0"))
	require.Empty(t, r.eng.Paused())
}

// A DECODERR line that cannot be written leaves the job in the main tube
// (released with KeepDelay); once the log works again it is logged and
// deleted. The same holds for the DROP line of a subscription with no URL
// for this environment.
func TestUnwritableLineKeepsTheJob(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	noURL := sub(2, "env", "[T_ENV:prod]"+s.URL)
	r := newRig(t, Options{KeepDelay: time.Second}, sub(1, "t", s.URL), noURL)
	r.data.fail.Store(true)
	kept := r.eng.metrics.kept.Get()
	_, err := beanstalk.NewTube(r.bc, mainTube).Put([]byte("not msgpack"), 1024, 0, time.Minute)
	require.NoError(t, err)
	r.produce("env", msgpackBody("i", 1), "")
	// Each kept job waits its KeepDelay as a delayed job in its own tube,
	// comes back and is kept again while the log fails.
	require.Eventually(t, func() bool {
		_, delayed, _, _ := r.tubeCounts(mainTube)
		_, cdelayed, _, _ := r.tubeCounts("env/sub-queue/2")
		return delayed == 1 && cdelayed == 1
	}, 10*time.Second, 5*time.Millisecond, "the undecodable job kept in the main tube, the message with no URL in its channel tube")
	require.GreaterOrEqual(t, r.eng.metrics.kept.Get(), kept+2)
	require.Zero(t, r.data.count("DECODERR")+r.data.count("DROP"))

	r.data.fail.Store(false)
	require.Eventually(t, func() bool {
		a, b, c, d := r.tubeCounts(mainTube)
		e, f, g, h := r.tubeCounts("env/sub-queue/2")
		return a+b+c+d+e+f+g+h == 0
	}, 10*time.Second, 5*time.Millisecond, "logged, then deleted")
	require.Equal(t, 1, r.data.count("DECODERR"))
	require.Equal(t, 1, r.data.count("DROP env 2"))
	require.Empty(t, s.Hits(), "nothing pushed to a URL of another environment")
}

// A channel job beanstalkd refuses as too big (JOB_TOO_BIG) could not be
// put back from a DATA line either: the main job stays buried for an
// operator (raise -z, kick), and the other subscriptions are served. (With
// CutThrough a direct copy needs no channel job: see the cut-through tests.)
func TestChannelJobTooBigBuriesTheMainJob(t *testing.T) {
	twoHop(t)
	m := message.Message{Topic: []byte("big"), Body: msgpackBody("s", "0123456789"), Sender: []byte("test"),
		Time: 1732500000.123456}
	mainJob := message.AppendMainJob(nil, &m)
	bs := testsrv.StartBeanstalkd(t, testsrv.WithMaxJobSize(len(mainJob)))
	s := testsrv.NewSubscriber(t)
	r := newRigOn(t, bs, Options{}, nil, sub(1, "big", s.URL))
	buried := r.eng.metrics.tooBig.Get()
	_, err := r.pool.Put(context.Background(), 0, mainTube, mainJob, 1024, 0, time.Minute)
	require.NoError(t, err, "the main job fits")
	require.Eventually(t, func() bool {
		_, _, _, b := r.tubeCounts(mainTube)
		return b == 1
	}, 10*time.Second, 5*time.Millisecond, "main job buried")
	require.Equal(t, buried+1, r.eng.metrics.tooBig.Get())
	require.Zero(t, r.data.count("REDISTFAIL"), "no line that replay could never put back")
}

// The drop-threshold guard reads only the sampled backlog: with no sample
// it never drops.
func TestDropGuardWithoutSampleKeeps(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	d := sub(1, "d", s.URL)
	d.DropThreshold, d.DropAction = 1, subs.DropDrop
	r := newRig(t, Options{}, d)
	for i := 0; i < 5; i++ {
		r.produce("d", msgpackBody("i", i), "")
	}
	s.WaitFor(10*time.Second, "every message", func(h []testsrv.Hit) bool { return len(h) == 5 })
}

// A cancelled subscription takes its metric series with it: a daemon that
// sees many subscriptions come and go exports only the live ones.
func TestCancelledSubscriptionSeriesReleased(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{}, sub(901, "gone", s.URL), sub(902, "stays", s.URL))
	r.produce("gone", msgpackBody("i", 1), "")
	s.WaitFor(10*time.Second, "one push", func(h []testsrv.Hit) bool { return len(h) == 1 })
	exported := func(id string) bool {
		var b bytes.Buffer
		metrics.WritePrometheus(&b, false)
		return bytes.Contains(b.Bytes(), []byte(`medispatcher_pushes_total{sub="`+id+`"`))
	}
	require.True(t, exported("901"))
	changed := r.eng.Changed()
	r.src.set(t, sub(902, "stays", s.URL))
	<-changed
	require.False(t, exported("901"), "series of the cancelled subscription")
	require.True(t, exported("902"), "series of the live one")
}
