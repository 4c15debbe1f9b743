package alert

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// step is one moment of a condition test: advance the clock, make calls,
// and expect the total of alerts of the kind so far.
type step struct {
	advance time.Duration
	calls   int // how many times the condition's call is made
	value   int // retriesDone / ready / channelsReady … passed to it
	want    int
}

func TestSubscriptionConditionsOncePerInterval(t *testing.T) {
	pushFailed := func(m *Monitor, s *subs.Subscription, v int) { m.PushFailed(s, v) }
	backlog := func(m *Monitor, s *subs.Subscription, v int) { m.ChannelBacklog(s, v) }
	tests := []struct {
		name  string
		kind  string
		edit  func(*subs.Subscription)
		call  func(*Monitor, *subs.Subscription, int)
		steps []step
	}{
		{
			name: "failures, defaults (120 in 180 s, every 180 s)",
			kind: KindSubFailures, call: pushFailed,
			steps: []step{
				{calls: 119, want: 0},
				{advance: 10 * time.Second, calls: 1, want: 1},                 // the 120th
				{advance: 100 * time.Second, calls: 500, want: 1},              // within the interval
				{advance: 80*time.Second - time.Nanosecond, calls: 1, want: 1}, // 1 ns short of 10 s + 180 s
				{advance: time.Nanosecond, calls: 1, want: 2},                  // interval over, 620 in window
				{advance: 179 * time.Second, calls: 1, want: 2},
				{advance: 181 * time.Second, calls: 119, want: 2}, // old failures left the window
				{calls: 1, want: 3},
			},
		},
		{
			name: "failures, overrides (3 in 10 s, every 60 s)",
			kind: KindSubFailures, call: pushFailed,
			edit: func(s *subs.Subscription) {
				s.AlertFailureThreshold, s.AlertFailureWindowS, s.AlertIntervalS = 3, 10, 60
			},
			steps: []step{
				{calls: 2, want: 0},
				{advance: 11 * time.Second, calls: 2, want: 0}, // the first two left the window
				{calls: 1, want: 1},
				{advance: 30 * time.Second, calls: 10, want: 1},
				{advance: 30 * time.Second, calls: 2, want: 1}, // interval over, but 2 in window
				{calls: 1, want: 2},
			},
		},
		{
			name: "retries, defaults (7, every 180 s)",
			kind: KindMessageRetries, call: pushFailed,
			steps: []step{
				{calls: 10, value: 6, want: 0},
				{calls: 1, value: 7, want: 1},
				{advance: 179 * time.Second, calls: 5, value: 9, want: 1},
				{advance: time.Second, calls: 3, value: 7, want: 2},
				{advance: 180 * time.Second, calls: 1, value: 0, want: 2},
			},
		},
		{
			name: "retries, overrides (2, every 30 s)",
			kind: KindMessageRetries, call: pushFailed,
			edit: func(s *subs.Subscription) { s.AlertRetryThreshold, s.AlertIntervalS = 2, 30 },
			steps: []step{
				{calls: 5, value: 1, want: 0},
				{calls: 5, value: 2, want: 1},
				{advance: 29 * time.Second, calls: 5, value: 2, want: 1},
				{advance: time.Second, calls: 5, value: 2, want: 2},
			},
		},
		{
			name: "backlog, defaults (5000, every 180 s)",
			kind: KindChannelBacklog, call: backlog,
			steps: []step{
				{calls: 3, value: 4999, want: 0},
				{calls: 1, value: 5000, want: 1},
				{advance: 5 * time.Second, calls: 30, value: 90000, want: 1},
				{advance: 175 * time.Second, calls: 1, value: 100, want: 1},
				{calls: 2, value: 5001, want: 2},
			},
		},
		{
			name: "backlog, overrides (10, every 5 s)",
			kind: KindChannelBacklog, call: backlog,
			edit: func(s *subs.Subscription) { s.AlertBacklogThreshold, s.AlertIntervalS = 10, 5 },
			steps: []step{
				{calls: 1, value: 9, want: 0},
				{calls: 1, value: 10, want: 1},
				{advance: 4 * time.Second, calls: 1, value: 11, want: 1},
				{advance: time.Second, calls: 3, value: 11, want: 2},
				{advance: 5 * time.Second, calls: 3, value: 12, want: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clk := newMonitor(t, nil)
			s := newSub(t, 17, tt.edit)
			for i, st := range tt.steps {
				clk.Advance(st.advance)
				for range st.calls {
					tt.call(m, s, st.value)
				}
				require.Equal(t, st.want, countKind(m, tt.kind), "after step %d", i)
			}
			// The other kinds of the subscription stay independent.
			for _, a := range m.Recent(100) {
				assert.Equal(t, tt.kind, a.Kind)
				assert.Equal(t, int64(17), a.SubID)
				assert.Equal(t, "order_paid", a.Topic)
				assert.Contains(t, a.Subject, "subscription 17 (order_paid)")
				assert.NotEmpty(t, a.Text)
				assert.Equal(t, "no receiver", a.Note)
			}
		})
	}
}

func TestGlobalConditionsOncePerInterval(t *testing.T) {
	m, clk := newMonitor(t, func(c *config.Config) {
		c.GlobalMessageBlockedAlertThreshold = 1000
		c.NameOfMainQueueBlockedAlertThreshold = 500
		c.GlobalMessageBlockedAlarmInterval = 60
	})
	m.GlobalBacklog(999, 499)
	assert.Equal(t, 0, countKind(m, KindGlobalBacklog))
	assert.Equal(t, 0, countKind(m, KindMainBacklog))

	m.GlobalBacklog(1000, 0)
	assert.Equal(t, 1, countKind(m, KindGlobalBacklog))
	assert.Equal(t, 0, countKind(m, KindMainBacklog))
	m.GlobalBacklog(0, 500)
	assert.Equal(t, 1, countKind(m, KindMainBacklog))

	clk.Advance(59 * time.Second)
	for range 10 {
		m.GlobalBacklog(5000, 5000)
	}
	assert.Equal(t, 1, countKind(m, KindGlobalBacklog))
	assert.Equal(t, 1, countKind(m, KindMainBacklog))

	clk.Advance(time.Second)
	m.GlobalBacklog(5000, 5000)
	m.GlobalBacklog(5000, 5000)
	assert.Equal(t, 2, countKind(m, KindGlobalBacklog))
	assert.Equal(t, 2, countKind(m, KindMainBacklog))

	// Changed at run time: off, then a shorter interval.
	g := m.Globals()
	g.GlobalMessageBlockedAlertThreshold, g.NameOfMainQueueBlockedAlertThreshold = 0, 0
	require.NoError(t, m.SetGlobals(g))
	clk.Advance(time.Hour)
	m.GlobalBacklog(1<<30, 1<<30)
	assert.Equal(t, 2, countKind(m, KindGlobalBacklog), "threshold 0 = off")
	assert.Equal(t, 2, countKind(m, KindMainBacklog), "threshold 0 = off")

	g.GlobalMessageBlockedAlertThreshold, g.GlobalMessageBlockedAlarmInterval = 10, 1
	require.NoError(t, m.SetGlobals(g))
	m.GlobalBacklog(10, 0)
	clk.Advance(time.Second)
	m.GlobalBacklog(10, 0)
	assert.Equal(t, 4, countKind(m, KindGlobalBacklog))
	for _, a := range m.Recent(100) {
		assert.Zero(t, a.SubID)
		assert.Empty(t, a.Topic)
	}
}

func TestSetGlobalsValidates(t *testing.T) {
	m, _ := newMonitor(t, nil)
	before := m.Globals()
	for _, g := range []Globals{
		{GlobalMessageBlockedAlertThreshold: -1, GlobalMessageBlockedAlarmInterval: 1},
		{NameOfMainQueueBlockedAlertThreshold: -1, GlobalMessageBlockedAlarmInterval: 1},
		{GlobalMessageBlockedAlarmInterval: 0},
	} {
		err := m.SetGlobals(g)
		require.ErrorIs(t, err, ErrInvalid, "%+v", g)
	}
	assert.Equal(t, before, m.Globals(), "a refused change changes nothing")
	ok := Globals{DefaultAlarmReceiver: "ops", DefaultAlarmChan: "sms", GlobalMessageBlockedAlarmInterval: 1}
	require.NoError(t, m.SetGlobals(ok))
	assert.Equal(t, ok, m.Globals())
	assert.Equal(t, Globals{
		GlobalMessageBlockedAlertThreshold:   100000,
		NameOfMainQueueBlockedAlertThreshold: 100000,
		GlobalMessageBlockedAlarmInterval:    180,
	}, before, "globals start from the config")
}

func TestNoAlertForDisabledOrURLlessSubscriptions(t *testing.T) {
	loud := func(s *subs.Subscription) {
		s.AlertFailureThreshold, s.AlertRetryThreshold, s.AlertBacklogThreshold = 1, 1, 1
	}
	tests := []struct {
		name string
		env  string
		sub  func(tb testing.TB) *subs.Subscription
	}{
		{"alerts disabled", "", func(tb testing.TB) *subs.Subscription {
			return newSub(tb, 5, func(s *subs.Subscription) { loud(s); s.AlertEnabled = false })
		}},
		{"no URL for this environment", "", func(tb testing.TB) *subs.Subscription {
			return newSub(tb, 6, func(s *subs.Subscription) { loud(s); s.URL = "[T_ENV:prod]http://127.0.0.1:1/hook" })
		}},
		{"URLs of another environment only", "staging", func(tb testing.TB) *subs.Subscription {
			return newSub(tb, 7, func(s *subs.Subscription) { loud(s); s.URL = "[T_ENV:prod]http://127.0.0.1:1/hook" })
		}},
		{"not from a Set (no parsed URLs)", "", func(tb testing.TB) *subs.Subscription {
			s := &subs.Subscription{ID: 8, Topic: "t", URL: "http://127.0.0.1:1/", AlertEnabled: true}
			loud(s)
			return s
		}},
		{"nil", "", func(tb testing.TB) *subs.Subscription { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clk := newMonitor(t, func(c *config.Config) { c.ReceptionEnv = tt.env })
			s := tt.sub(t)
			for range 3 {
				for range 200 {
					m.PushFailed(s, 50)
				}
				m.ChannelBacklog(s, 1<<30)
				clk.Advance(time.Hour)
			}
			assert.Empty(t, m.Recent(100))
		})
	}

	// The same subscription with a URL for the environment does alert.
	m, _ := newMonitor(t, func(c *config.Config) { c.ReceptionEnv = "prod" })
	m.PushFailed(newSub(t, 9, func(s *subs.Subscription) { loud(s); s.URL = "[T_ENV:prod]http://127.0.0.1:1/hook" }), 1)
	assert.Equal(t, 1, countKind(m, KindSubFailures))
	assert.Equal(t, 1, countKind(m, KindMessageRetries))
}

func TestStateSurvivesSettingsChange(t *testing.T) {
	// A settings change replaces the *Subscription; the interval still holds.
	m, clk := newMonitor(t, nil)
	s1 := newSub(t, 4, func(s *subs.Subscription) { s.AlertBacklogThreshold = 10 })
	m.ChannelBacklog(s1, 10)
	s2 := newSub(t, 4, func(s *subs.Subscription) { s.AlertBacklogThreshold = 10; s.Concurrency = 3 })
	clk.Advance(time.Minute)
	m.ChannelBacklog(s2, 10)
	assert.Equal(t, 1, countKind(m, KindChannelBacklog))
	// A shorter interval applies at once.
	s3 := newSub(t, 4, func(s *subs.Subscription) { s.AlertBacklogThreshold = 10; s.AlertIntervalS = 30 })
	m.ChannelBacklog(s3, 10)
	assert.Equal(t, 2, countKind(m, KindChannelBacklog))
}

func TestConcurrentCallersRaiseOnce(t *testing.T) {
	m, clk := newMonitor(t, nil)
	s := newSub(t, 1, func(s *subs.Subscription) { s.AlertFailureThreshold = 50 })
	for round := 1; round <= 3; round++ {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 500 {
					m.PushFailed(s, 0)
					m.ChannelBacklog(s, 1<<20)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, round, countKind(m, KindSubFailures))
		assert.Equal(t, round, countKind(m, KindChannelBacklog))
		clk.Advance(180 * time.Second)
	}
}

func TestPruneForgetsIdleSubscriptions(t *testing.T) {
	m, clk := newMonitor(t, nil)
	s := newSub(t, 1, nil)
	m.PushFailed(s, 0)
	m.prune()
	require.Len(t, *m.states.Load(), 1, "recently seen: kept")
	clk.Advance(2 * time.Hour)
	m.prune()
	assert.Empty(t, *m.states.Load(), "idle for 2 h with 180 s interval and window: forgotten")
}

func TestWindowSum(t *testing.T) {
	var w window
	const width = int64(time.Second)
	w.reset(width)
	for i := range int64(24) { // one failure per second for 24 s
		w.add(i*width, width)
	}
	assert.Equal(t, nBuckets, w.sum(23*width, width), "the last 12 buckets")
	assert.Equal(t, 0, w.sum(100*width, width), "all old")
	w.reset(2 * width)
	assert.Equal(t, 0, w.sum(23*width, 2*width), "a new width starts afresh")
}

func TestProblemOncePerInterval(t *testing.T) {
	cfg := config.Default()
	cfg.GlobalMessageBlockedAlarmInterval = 3600
	m, err := New(cfg, nil)
	require.NoError(t, err)
	m.Problem(KindDataLog, "disk full")
	m.Problem(KindDataLog, "disk full again")
	m.Problem(KindNoSubscriptions, "no subscriptions")
	m.Problem("unknown", "ignored")
	var got []string
	for _, a := range m.Recent(10) {
		got = append(got, a.Kind)
	}
	require.ElementsMatch(t, []string{KindDataLog, KindNoSubscriptions}, got)
}

func TestSubscriptionInvalid(t *testing.T) {
	rec := &recorder{}
	opt, got := deliveries()
	m, clk := newMonitor(t, func(c *config.Config) { c.DefaultAlarmReceiver, c.AlarmInterval = "ops", 60 },
		opt, WithGateway(GatewayPlatform, rec))
	runMonitor(t, m)
	raised := newMonitorMetrics().raised[KindSubInvalid]
	before := raised.Get()

	err := &subs.ValidationError{ID: 5, Field: "concurrency", Value: -1, Allowed: "must be >= 0"}
	m.SubscriptionInvalid(5, true, err)
	m.SubscriptionInvalid(5, false, err) // within the interval
	require.NoError(t, next(t, got).err)
	a := m.Recent(1)[0]
	assert.Equal(t, KindSubInvalid, a.Kind)
	assert.Equal(t, int64(5), a.SubID)
	assert.Contains(t, a.Subject, "subscription 5 is invalid; its last good version stays in use")
	assert.Contains(t, a.Text, "concurrency = -1")
	msgs := rec.sent()
	require.Len(t, msgs, 1)
	assert.Equal(t, []string{"ops"}, msgs[0].To, "to the default receiver")

	m.SubscriptionInvalid(6, false, err) // another id: its own interval
	require.NoError(t, next(t, got).err)
	assert.Contains(t, m.Recent(1)[0].Subject, "subscription 6 is invalid and left out")

	clk.Advance(60 * time.Second)
	m.SubscriptionInvalid(5, true, err)
	require.NoError(t, next(t, got).err)
	assert.Equal(t, 3, countKind(m, KindSubInvalid))
	assert.Equal(t, before+3, raised.Get())
}
