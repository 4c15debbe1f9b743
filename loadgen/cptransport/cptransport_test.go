package cptransport

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
	"medispatcher/loadgen/bstalk"
)

func TestPutsLandOnTheServers(t *testing.T) {
	a, b := testsrv.StartBeanstalkd(t), testsrv.StartBeanstalkd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := New(ctx, []string{a.Addr, b.Addr})
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, p.Put(ctx, i%2, "main", []byte("job")))
	}
	require.NoError(t, p.Close())
	total := int64(0)
	for _, s := range []string{a.Addr, b.Addr} {
		c, err := bstalk.Dial(s, time.Second)
		require.NoError(t, err)
		st, err := c.StatsTube("main")
		require.NoError(t, err)
		assert.Positive(t, st.Ready, "puts are spread over both servers")
		total += st.Ready
		c.Close()
	}
	assert.Equal(t, int64(10), total)
}
