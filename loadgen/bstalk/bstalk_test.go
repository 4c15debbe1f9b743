package bstalk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

func TestPipelinedCycle(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	c, err := Dial(srv.Addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()

	// Puts to two tubes interleaved: the writer must insert the "use"s.
	reqs := make([]Request, 100)
	for i := range reqs {
		tube := "a"
		if i%3 == 0 {
			tube = "b"
		}
		reqs[i] = Request{Op: OpPut, Tube: tube, Body: []byte{'x', byte(i)}, Pri: 1024, TTR: 60}
		c.Send(&reqs[i])
	}
	for i := range reqs {
		require.NoError(t, reqs[i].Wait())
		assert.NotZero(t, reqs[i].ID)
	}
	sa, err := c.StatsTube("a")
	require.NoError(t, err)
	sb, err := c.StatsTube("b")
	require.NoError(t, err)
	assert.Equal(t, int64(66), sa.Ready)
	assert.Equal(t, int64(34), sb.Ready)
	_, err = c.StatsTube("nope")
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, c.Do(&Request{Op: OpWatch, Tube: "b"}))
	require.NoError(t, c.Do(&Request{Op: OpIgnore, Tube: "default"}))
	got := 0
	for {
		r := Request{Op: OpReserve, Timeout: 0}
		err := c.Do(&r)
		if err == ErrTimedOut {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, byte('x'), r.Body[0])
		assert.Zero(t, int(r.Body[1])%3)
		require.NoError(t, c.Do(&Request{Op: OpDelete, ID: r.ID}))
		got++
	}
	assert.Equal(t, 34, got)
	assert.ErrorIs(t, c.Do(&Request{Op: OpDelete, ID: 999999}), ErrNotFound)
}

func TestBrokenConnectionFailsPending(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	c, err := Dial(srv.Addr, 500*time.Millisecond)
	require.NoError(t, err)
	defer c.Close()
	srv.Kill()
	_, err = c.Put("t", []byte("x"))
	require.Error(t, err)
	_, err = c.Put("t", []byte("x"))
	require.Error(t, err, "a broken connection stays broken")
}
