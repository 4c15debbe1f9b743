package dispatch

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// One topic, three filters: true for some messages, false for all, failing
// on all (delivered: fail open); and a topic whose one subscription filters
// everything out. Each subscriber gets what its filter says, the counters
// show the rest, and every main job is settled.
func TestContentFilters(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	big, none, failing, alone := sub(71, "order_paid", s.URL+"/big"), sub(72, "order_paid", s.URL+"/none"),
		sub(73, "order_paid", s.URL+"/failing"), sub(74, "quiet_topic", s.URL+"/alone")
	big.Filter = `body.amount > 100 && sender == "test"`
	none.Filter = `body.status == "void"`
	failing.Filter = `body.missing > 1`
	alone.Filter = `sender == "nobody"`
	r := newRig(t, Options{}, big, none, failing, alone)

	const n = 10
	for i := range n {
		r.produce("order_paid", msgpackBody("amount", i*30, "status", "paid"), "")
	}
	for range 5 {
		r.produce("quiet_topic", msgpackBody("amount", 500), "")
	}
	hits := s.WaitFor(20*time.Second, "6 + 10 pushes", func(h []testsrv.Hit) bool { return len(h) >= 6+n })
	require.Eventually(t, func() bool {
		c, _ := r.eng.Filters(74)
		return c.Filtered == 5
	}, 10*time.Second, 10*time.Millisecond, "the quiet topic's messages filtered out")
	r.stop()

	perPath := map[string]int{}
	for _, h := range s.Hits() {
		perPath[h.Path]++
	}
	assert.Equal(t, map[string]int{"/big": 6, "/failing": n}, perPath, "%d hits", len(hits))
	for id, want := range map[int64]FilterCounts{
		71: {Filtered: 4}, 72: {Filtered: n}, 73: {Errors: n}, 74: {Filtered: 5},
	} {
		got, ok := r.eng.Filters(id)
		require.True(t, ok)
		assert.Equal(t, want, got, "sub %d", id)
	}
	for _, tube := range []string{mainTube, "order_paid/sub-queue/71", "order_paid/sub-queue/72", "order_paid/sub-queue/73", "quiet_topic/sub-queue/74"} {
		ready, delayed, reserved, buried := r.tubeCounts(tube)
		require.Zero(t, ready+delayed+reserved+buried, "tube %s not empty", tube)
	}
}

// The per-subscription series carry the subscription's labels.
func TestContentFilterMetrics(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	f := sub(75, "metric_topic", s.URL+"/f")
	f.Filter = `body.amount > 100`
	r := newRig(t, Options{}, f)
	r.produce("metric_topic", msgpackBody("amount", 5), "")
	r.produce("metric_topic", msgpackBody("other", 5), "")
	r.produce("metric_topic", msgpackBody("amount", 500), "")
	s.WaitFor(10*time.Second, "the one message through", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	require.Eventually(t, func() bool {
		var b bytes.Buffer
		metrics.WritePrometheus(&b, false)
		out := b.String()
		return strings.Contains(out, `medispatcher_filtered_messages_total{sub="75",topic="metric_topic"} 1`) &&
			strings.Contains(out, `medispatcher_filter_errors_total{sub="75",topic="metric_topic"} 1`)
	}, 10*time.Second, 10*time.Millisecond)
}
