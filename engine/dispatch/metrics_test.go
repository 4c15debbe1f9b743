package dispatch

import (
	"bytes"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"

	"medispatcher/engine/dispatch/push"
)

// TestSubMetricsRelease: a cancelled subscription's series disappear from
// /metrics; another subscription's stay, and the same id can start again
// from zero.
func TestSubMetricsRelease(t *testing.T) {
	scrape := func() string {
		var b bytes.Buffer
		metrics.WritePrometheus(&b, false)
		return b.String()
	}
	gone := newSubMetrics(990001, "release_test")
	kept := newSubMetrics(990002, "release_test")
	for _, m := range []*subMetrics{gone, kept} {
		m.observe(&push.Result{Kind: push.Timeout, Elapsed: time.Millisecond}, false)
		m.retried.Inc()
	}
	out := scrape()
	assert.Contains(t, out, `medispatcher_pushes_total{sub="990001",topic="release_test",lane="channel",result="fail"} 1`)
	assert.Contains(t, out, `medispatcher_push_duration_seconds_bucket{sub="990001"`)
	assert.Len(t, gone.names, 1+4+11+int(push.Canceled-push.HTTPStatus+1), "every series is named for release")

	gone.release()
	gone.pushFail.Inc() // a worker's last push after the stop: harmless
	out = scrape()
	assert.NotContains(t, out, `sub="990001"`)
	assert.Contains(t, out, `medispatcher_retries_scheduled_total{sub="990002",topic="release_test"} 1`)
	assert.Contains(t, out, `medispatcher_push_duration_seconds_bucket{sub="990002"`)

	again := newSubMetrics(990001, "release_test")
	assert.Zero(t, again.pushFail.Get(), "a subscription added again starts from zero")
	kept.release()
	again.release()
	assert.NotContains(t, scrape(), `topic="release_test"`)
}
