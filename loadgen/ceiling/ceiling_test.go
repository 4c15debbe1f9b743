package ceiling

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
	"medispatcher/loadgen/bstalk"
)

// assertTubesEmpty checks that the main tubes of pipelines and the
// channel tubes 0..tubes-1 hold no job (or no longer exist).
func assertTubesEmpty(t *testing.T, addr string, pipelines, tubes int) {
	t.Helper()
	c, err := bstalk.Dial(addr, time.Second)
	require.NoError(t, err)
	defer c.Close()
	var names []string
	for w := range pipelines {
		names = append(names, fmt.Sprintf("ceiling.main.%d", w))
	}
	for k := range tubes {
		names = append(names, fmt.Sprintf("ceiling.ch.%d", k))
	}
	for _, tube := range names {
		st, err := c.StatsTube(tube)
		if err == bstalk.ErrNotFound {
			continue
		}
		require.NoError(t, err)
		assert.Zero(t, st.InQueue(), "every cycle ends with its jobs deleted: %s", tube)
	}
}

func TestMeasureRunsAndLeavesNothing(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	res, err := Measure(context.Background(), Config{Beanstalkd: srv.Addr, Duration: 300 * time.Millisecond, Size: 128, Batch: 8, Pipelines: 2, HTTPConns: 4})
	require.NoError(t, err)
	assert.Greater(t, res.CycleRate, 0.0)
	assert.Greater(t, res.Cycle3Rate, 0.0)
	assert.Greater(t, res.HTTPRate, 0.0)
	require.Len(t, res.Cycles, 1, "one tube count by default")
	assert.Equal(t, 2, res.Cycles[0].Tubes, "a channel tube per pipeline by default")
	assert.Zero(t, res.Cycles[0].Six.CPUPer1k, "no CPU reader, no CPU figure")
	assertTubesEmpty(t, srv.Addr, 2, 2)
}

func TestCyclesAtTubeCounts(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	calls := 0.0
	cpu := func() (float64, error) { calls++; return calls, nil } // one CPU second per read
	res, err := Measure(context.Background(), Config{Beanstalkd: srv.Addr, Duration: 300 * time.Millisecond, Size: 128,
		Batch: 8, Pipelines: 2, HTTPConns: 2, Tubes: []int{1, 50}, CPU: cpu})
	require.NoError(t, err)
	require.Len(t, res.Cycles, 2)
	assert.Equal(t, 2, res.Cycles[0].Tubes, "at least one tube per pipeline")
	assert.Equal(t, 50, res.Cycles[1].Tubes)
	for _, c := range res.Cycles {
		for _, r := range []Rate{c.Six, c.Three} {
			assert.Greater(t, r.PerS, 0.0, "%d tubes", c.Tubes)
			assert.Greater(t, r.CPUPer1k, 0.0, "%d tubes: the CPU read before and after is quoted", c.Tubes)
		}
	}
	assert.Equal(t, res.Cycles[0].Six.PerS, res.CycleRate, "the top-level rates are the first tube count's")
	assert.Equal(t, res.Cycles[0].Three.PerS, res.Cycle3Rate)
	assertTubesEmpty(t, srv.Addr, 2, 50)

	assert.Equal(t, 50, res.At(500).Tubes)
	assert.Equal(t, 50, res.At(50).Tubes)
	assert.Equal(t, 2, res.At(1).Tubes)
	assert.Equal(t, 2, res.At(8).Tubes, "nearest by ratio: 8 is 4× of 2, 50 is 6×")
	old := Result{CycleRate: 1000, Cycle3Rate: 2000}
	assert.Equal(t, Cycles{Six: Rate{PerS: 1000}, Three: Rate{PerS: 2000}}, old.At(500), "a result without Cycles answers its top-level rates")
}

func TestChannelTubesShareOut(t *testing.T) {
	assert.Equal(t, []string{"ceiling.ch.1"}, channelTubes(1, 4, 4), "one per pipeline: today's names")
	assert.Equal(t, []string{"ceiling.ch.1", "ceiling.ch.5", "ceiling.ch.9"}, channelTubes(1, 4, 10))
	seen := map[string]bool{}
	for w := range 4 {
		for _, n := range channelTubes(w, 4, 500) {
			assert.False(t, seen[n], n)
			seen[n] = true
		}
	}
	assert.Len(t, seen, 500, "every tube in exactly one pipeline's share")
}
