package alert

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// TestHotPathAllocs keeps PushFailed and ChannelBacklog free of garbage
// when no alert is raised: below the thresholds, and above them within
// the interval after an alert.
func TestHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m, _ := newMonitor(t, func(c *config.Config) { c.GlobalMessageBlockedAlertThreshold = 10 })
	s := newSub(t, 1, nil)
	m.PushFailed(s, 0) // creates the state
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		m.PushFailed(s, 0)
		m.ChannelBacklog(s, 10)
		m.GlobalBacklog(1, 1)
	}), "below thresholds")

	for range 200 {
		m.PushFailed(s, 9)
	}
	m.ChannelBacklog(s, 1<<20)
	m.GlobalBacklog(1<<20, 0)
	assert.Equal(t, 4, len(m.Recent(10)), "every kind raised once")
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		m.PushFailed(s, 9)
		m.ChannelBacklog(s, 1<<20)
		m.GlobalBacklog(1<<20, 0)
	}), "above thresholds, within the interval")
	assert.Equal(t, 4, len(m.Recent(10)))
}

// BenchmarkPushFailed is the push workers' cost of reporting a failure,
// on the real clock; "subs" spreads the calls over subscriptions.
func BenchmarkPushFailed(b *testing.B) {
	for _, bc := range []struct {
		name    string
		subs    int
		retries int
	}{
		{"1sub", 1, 0},
		{"1sub-retry-over-threshold", 1, 9},
		{"1000subs", 1000, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := config.Default()
			m, err := New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			all := make([]*subs.Subscription, bc.subs)
			for i := range all {
				all[i] = &subs.Subscription{ID: int64(i + 1), Topic: "t", URL: "http://127.0.0.1:1/", AlertEnabled: true}
			}
			set := subs.NewSet(all)
			for i := range all {
				all[i] = set.ByID(int64(i + 1))
				m.PushFailed(all[i], bc.retries)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					m.PushFailed(all[i%len(all)], bc.retries)
					i++
				}
			})
		})
	}
}

// BenchmarkPushFailedSerial is one worker's cost, without contention.
func BenchmarkPushFailedSerial(b *testing.B) {
	m, err := New(config.Default(), nil)
	if err != nil {
		b.Fatal(err)
	}
	s := subs.NewSet([]*subs.Subscription{{ID: 1, Topic: "t", URL: "http://127.0.0.1:1/", AlertEnabled: true}}).ByID(1)
	m.PushFailed(s, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.PushFailed(s, 0)
	}
}
