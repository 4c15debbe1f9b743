package dispatch

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/breaker"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// brHit is one push a switchSubscriber received.
type brHit struct {
	jobID      string
	retryTimes int
	status     int
	at         time.Time
	breaker    string // the subscription's breaker state when it arrived (see switchSubscriber.watch)
}

// switchSubscriber answers every push with the status it is set to (200
// with a success body, anything else with a failure) and records it.
type switchSubscriber struct {
	url    string
	status atomic.Int32
	state  atomic.Pointer[func() string]
	mu     sync.Mutex
	hits   []brHit
	notify chan struct{}
}

func newSwitchSubscriber(t *testing.T, status int) *switchSubscriber {
	t.Helper()
	s := &switchSubscriber{notify: make(chan struct{}, 1)}
	s.status.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		h := brHit{jobID: form.Get("jobid"), status: int(s.status.Load()), at: time.Now()}
		if f := s.state.Load(); f != nil {
			h.breaker = (*f)()
		}
		h.retryTimes, _ = strconv.Atoi(form.Get("retry_times"))
		s.mu.Lock()
		s.hits = append(s.hits, h)
		s.mu.Unlock()
		w.WriteHeader(h.status)
		if h.status == http.StatusOK {
			_, _ = io.WriteString(w, `{"status":1}`)
		}
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// watch records with every push the breaker state of subscription id.
func (s *switchSubscriber) watch(r *rig, id int64) {
	f := func() string { return r.eng.BreakerState(id) }
	s.state.Store(&f)
}

// pushesWhile counts the pushes that arrived after since while the
// breaker was in state.
func pushesWhile(hits []brHit, since time.Time, state string) int {
	n := 0
	for _, h := range hits {
		if h.at.After(since) && h.breaker == state {
			n++
		}
	}
	return n
}

func (s *switchSubscriber) snapshot() []brHit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]brHit(nil), s.hits...)
}

// waitFor returns the hits once cond holds over them.
func (s *switchSubscriber) waitFor(t *testing.T, what string, cond func([]brHit) bool) []brHit {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if h := s.snapshot(); cond(h) {
			return h
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; pushes: %+v", what, s.snapshot())
		}
	}
}

// delivered reports whether every main job id in want was answered 200
// (a push's jobid is "<time>-<main job id>-<subscription id>").
func delivered(hits []brHit, want map[string]bool) bool {
	ok := map[string]bool{}
	for _, h := range hits {
		if parts := strings.Split(h.jobID, "-"); h.status == http.StatusOK && len(parts) == 3 {
			ok[parts[1]] = true
		}
	}
	for id := range want {
		if !ok[id] {
			return false
		}
	}
	return true
}

// baseTransitions takes the breaker transition counts of subscriptions
// ids as their zero.
func (r *rig) baseTransitions(ids ...int64) {
	r.breakerBase = map[int64][4]uint64{}
	for _, id := range ids {
		var b [4]uint64
		for st := range b {
			b[st] = r.eng.state.Load().runners[id].br.to[st].Get()
		}
		r.breakerBase[id] = b
	}
}

// transitions counts subscription id's breaker transitions into to since
// baseTransitions.
func (r *rig) transitions(id int64, to breaker.State) uint64 {
	return r.eng.state.Load().runners[id].br.to[to].Get() - r.breakerBase[id][to]
}

// waitTransitions waits until subscription id entered to n times, and
// returns when it saw that.
func (r *rig) waitTransitions(id int64, to breaker.State, n uint64) time.Time {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.transitions(id, to) < n {
		require.True(r.t, time.Now().Before(deadline), "subscription %d entered %s %d times, want %d",
			id, to, r.transitions(id, to), n)
		time.Sleep(time.Millisecond)
	}
	return time.Now()
}

// waitSettled waits until subscription id's lanes hold no job (the pushes
// under way when its breaker opened have settled), and returns when.
func (r *rig) waitSettled(id int64) time.Time {
	r.t.Helper()
	run := r.eng.state.Load().runners[id]
	deadline := time.Now().Add(20 * time.Second)
	for run.main.busy.Load() != 0 || run.retry.busy.Load() != 0 {
		require.True(r.t, time.Now().Before(deadline), "subscription %d's lanes never settled", id)
		time.Sleep(time.Millisecond)
	}
	return time.Now()
}

// recordCounter counts one subscription's failure records (retries spent
// and given up).
type recordCounter struct {
	sub int64
	n   atomic.Int64
}

func (c *recordCounter) store() *failures.Store {
	return recordsTo(func(rec *failures.Record) {
		if rec.Final != failures.Success && rec.SubID == c.sub {
			c.n.Add(1)
		}
	})
}

func breakerOptions() Options {
	return Options{MaxRetries: 50, RetryCoe: 20 * time.Millisecond, Breaker: BreakerOptions{On: true,
		Window: 10 * time.Second, MinPushes: 4, FailureShare: 0.5, ConsecutiveErrors: 100,
		CoolDown: time.Second, MaxCoolDown: 10 * time.Second}}
}

// TestBreakerOpensProbesAndCloses: failing pushes open the breaker; during
// the cool-down nothing reaches the subscriber and no retry is spent; the
// half-open breaker lets exactly one probe through, whose failure opens it
// again for twice the cool-down; once the subscriber recovers a probe
// closes it and every message, those produced while it was open too, is
// delivered.
func TestBreakerOpensProbesAndCloses(t *testing.T) {
	const topic, id = "br_topic", 81
	s := newSwitchSubscriber(t, http.StatusInternalServerError)
	recs := recordCounter{sub: id}
	r := newRigOn(t, testsrv.StartBeanstalkd(t), breakerOptions(), recs.store(), sub(id, topic, s.url+"/a"))
	r.baseTransitions(id)
	s.watch(r, id)
	want := map[string]bool{}
	produce := func() {
		jid := r.produce(topic, msgpackBody("i", len(want)), "")
		want[strconv.FormatUint(jid, 10)] = true
	}
	for range 4 {
		produce()
	}
	opened := r.waitTransitions(id, breaker.Open, 1)
	assert.Equal(t, "open", r.eng.BreakerState(id))
	settled := r.waitSettled(id)
	spent := recs.n.Load()
	for range 3 { // they wait in the channel tube
		produce()
	}
	half := r.waitTransitions(id, breaker.HalfOpen, 1)
	assert.GreaterOrEqual(t, half.Sub(opened), 900*time.Millisecond, "the cool-down")

	reopened := r.waitTransitions(id, breaker.Open, 2)
	settled2 := r.waitSettled(id)
	assert.Zero(t, pushesWhile(s.snapshot(), settled, "open"), "pushes during the cool-down")
	assert.Equal(t, 1, pushesWhile(s.snapshot(), opened, "half_open"), "the probe")
	assert.Equal(t, spent+1, recs.n.Load(), "retries spent since the breaker opened: the failed probe's only")
	spent = recs.n.Load()
	s.status.Store(http.StatusOK)
	half2 := r.waitTransitions(id, breaker.HalfOpen, 2)
	assert.GreaterOrEqual(t, half2.Sub(reopened), 1900*time.Millisecond, "the doubled cool-down")

	r.waitTransitions(id, breaker.Closed, 1)
	s.waitFor(t, "every message delivered", func(h []brHit) bool { return delivered(h, want) })
	assert.Equal(t, "closed", r.eng.BreakerState(id))
	assert.Zero(t, pushesWhile(s.snapshot(), settled2, "open"), "pushes during the second cool-down")
	assert.Equal(t, spent, recs.n.Load(), "retries spent since the breaker opened again")
}

// TestBreakerOpensOnConnectionErrors: a subscriber that refuses
// connections opens the breaker after ConsecutiveErrors pushes, far below
// the share's MinPushes; the retries that follow wait in the retry tube
// with their RetryTimes as they were (the cool-down outlasts the test),
// and a change of the subscription
// closes the breaker and delivers them.
func TestBreakerOpensOnConnectionErrors(t *testing.T) {
	const topic, id = "br_conn", 82
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String() + "/gone"
	require.NoError(t, ln.Close())
	opts := breakerOptions()
	opts.Breaker.MinPushes, opts.Breaker.ConsecutiveErrors = 1000, 3
	opts.Breaker.CoolDown = time.Minute
	recs := recordCounter{sub: id}
	r := newRigOn(t, testsrv.StartBeanstalkd(t), opts, recs.store(), sub(id, topic, dead))
	r.baseTransitions(id)
	want := map[string]bool{}
	for i := range 3 {
		jid := r.produce(topic, msgpackBody("i", i), "")
		want[strconv.FormatUint(jid, 10)] = true
	}
	r.waitTransitions(id, breaker.Open, 1)
	r.waitSettled(id)
	spent := recs.n.Load()

	s := newSwitchSubscriber(t, http.StatusOK)
	moved := sub(id, topic, s.url+"/back")
	r.src.set(t, moved)
	r.waitTransitions(id, breaker.Closed, 1)
	s.waitFor(t, "every message delivered", func(h []brHit) bool { return delivered(h, want) })
	// One record per failed push: none failed after the breaker opened
	// (each message's RetryTimes is what it was then).
	assert.Equal(t, spent, recs.n.Load(), "failure records after the breaker opened")
}

// TestBreakerOff: with the breaker off (the daemon's default, or a
// subscription's circuit_breaker = "off" over a daemon's "on") failures
// keep being pushed and retried as in 2.x; "on" over a daemon's "off"
// opens.
func TestBreakerOff(t *testing.T) {
	cases := []struct {
		name     string
		daemonOn bool
		override string
		opens    bool
	}{
		{"default off", false, "", false},
		{"override off", true, subs.BreakerOff, false},
		{"override on", false, subs.BreakerOn, true},
	}
	bs := testsrv.StartBeanstalkd(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic, id := "br_off_"+strconv.Itoa(i), int64(90+i)
			s := newSwitchSubscriber(t, http.StatusInternalServerError)
			opts := breakerOptions()
			opts.Breaker.On = c.daemonOn
			sb := sub(id, topic, s.url+"/x")
			sb.CircuitBreaker = c.override
			r := newRigOn(t, bs, opts, nil, sb)
			r.baseTransitions(id)
			for j := range 4 {
				r.produce(topic, msgpackBody("i", j), "")
			}
			if c.opens {
				r.waitTransitions(id, breaker.Open, 1)
				return
			}
			// Far beyond the thresholds, still pushing and retrying.
			s.waitFor(t, "retries past the thresholds", func(h []brHit) bool {
				retried := 0
				for _, x := range h {
					if x.retryTimes >= 3 {
						retried++
					}
				}
				return retried >= 4
			})
			assert.Equal(t, "closed", r.eng.BreakerState(id))
			assert.Zero(t, r.transitions(id, breaker.Open))
		})
	}
}

// TestGoneDisablesSignedSubscription: a subscription in standard mode
// (signing secrets) that answers 410 Gone is disabled: nothing more is
// pushed, no retry is spent, its messages wait in its channel tube; a
// change in its source enables it again and they are delivered. Without
// secrets 410 is an ordinary failure, retried.
func TestGoneDisablesSignedSubscription(t *testing.T) {
	const topic, id = "br_gone", 84
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the signing key, 24+ bytes"))
	s := newSwitchSubscriber(t, http.StatusGone)
	plain := newSwitchSubscriber(t, http.StatusGone)
	signed := sub(id, topic, s.url+"/signed")
	signed.SigningSecrets = []string{secret}
	opts := breakerOptions()
	opts.Breaker.On = false // the 410 rule holds with breakers off
	recs := recordCounter{sub: id}
	r := newRigOn(t, testsrv.StartBeanstalkd(t), opts, recs.store(), signed, sub(id+1, topic, plain.url+"/plain"))
	r.baseTransitions(id, id+1)
	want := map[string]bool{}
	for i := range 3 {
		jid := r.produce(topic, msgpackBody("i", i), "")
		want[strconv.FormatUint(jid, 10)] = true
	}
	r.waitTransitions(id, breaker.Disabled, 1)
	assert.Equal(t, "disabled", r.eng.BreakerState(id))
	plain.waitFor(t, "the unsigned subscription's retries", func(h []brHit) bool {
		for _, x := range h {
			if x.retryTimes >= 2 {
				return true
			}
		}
		return false
	})
	assert.Equal(t, "closed", r.eng.BreakerState(id+1))
	ch := signed.ChannelTube(subs.DefaultChannelPrefix)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ready, _, _, _ := r.tubeCounts(ch)
		if ready == len(want) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the signed subscription's messages never all waited in %s (%d ready)", ch, ready)
		time.Sleep(5 * time.Millisecond)
	}
	// Pushes under way when the first 410 came answer 410 too; none is
	// retried.
	assert.LessOrEqual(t, len(s.snapshot()), len(want))
	for _, h := range s.snapshot() {
		assert.Zero(t, h.retryTimes)
	}
	assert.Zero(t, recs.n.Load(), "failure records of the signed subscription")

	s.status.Store(http.StatusOK)
	changed := *signed
	changed.Rate = 1000
	r.src.set(t, &changed, sub(id+1, topic, plain.url+"/plain"))
	r.waitTransitions(id, breaker.Closed, 1)
	hits := s.waitFor(t, "every message delivered", func(h []brHit) bool { return delivered(h, want) })
	for _, h := range hits {
		assert.Zero(t, h.retryTimes, "no retry spent: %+v", h)
	}
}
