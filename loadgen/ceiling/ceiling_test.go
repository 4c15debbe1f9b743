package ceiling

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
	"medispatcher/loadgen/bstalk"
)

func TestMeasureRunsAndLeavesNothing(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	res, err := Measure(context.Background(), Config{Beanstalkd: srv.Addr, Duration: 300 * time.Millisecond, Size: 128, Batch: 8, Pipelines: 2, HTTPConns: 4})
	require.NoError(t, err)
	assert.Greater(t, res.CycleRate, 0.0)
	assert.Greater(t, res.HTTPRate, 0.0)
	c, err := bstalk.Dial(srv.Addr, time.Second)
	require.NoError(t, err)
	defer c.Close()
	for _, tube := range []string{"ceiling.main.0", "ceiling.ch.0", "ceiling.main.1", "ceiling.ch.1"} {
		st, err := c.StatsTube(tube)
		if err == bstalk.ErrNotFound {
			continue
		}
		require.NoError(t, err)
		assert.Zero(t, st.InQueue(), "every cycle ends with its jobs deleted: %s", tube)
	}
}
