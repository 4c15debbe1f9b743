package dispatch

import (
	"bytes"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/stage"
	"medispatcher/internal/testsrv"
)

// Every message is timed at every stage it passes, on either path, and
// /metrics carries the histograms.
func TestStageTimings(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	r := newRig(t, Options{}, sub(1, "st", s.URL))
	r.baseHandoffs(1)
	const n = 20
	for i := 0; i < n; i++ {
		r.produce("st", msgpackBody("i", i), "")
	}
	s.WaitFor(10*time.Second, "every message", func(h []testsrv.Hit) bool { return len(h) == n })
	var got [6]stage.Summary
	require.Eventually(t, func() bool {
		got = r.eng.Stages().Read()
		return got[stage.Total].Count == n
	}, 5*time.Second, 5*time.Millisecond, "the last push counted")
	for _, st := range []stage.Stage{stage.MainWait, stage.RedistQueue, stage.SlotWait, stage.Push, stage.Total} {
		assert.Equal(t, uint64(n), got[st].Count, st.String())
	}
	// The producer's timestamp is in the past (produce sets 2024-11-25):
	// main_wait and total count from it.
	assert.Greater(t, got[stage.Total].Mean, 24*time.Hour)
	assert.LessOrEqual(t, got[stage.Push].P99, 5*time.Second)
	// Only copies through a channel tube wait there.
	direct, spilled := r.handoffs(1)
	if cutThrough() {
		assert.Equal(t, spilled, got[stage.ChannelWait].Count, "direct %d, spilled %d", direct, spilled)
	} else {
		assert.Equal(t, uint64(n), got[stage.ChannelWait].Count)
	}

	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	assert.Contains(t, b.String(), `medispatcher_stage_seconds_count{stage="total"} 20`+"\n")
}
