package dispatch

import (
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
)

// A channel job is decoded once, into a recycled channelJob: taking one,
// decoding into it and recycling it allocates nothing, and a recycled one
// keeps nothing of its job.
func TestChannelJobRecycledWithoutAllocation(t *testing.T) {
	m := message.Message{Topic: []byte("orders"), Body: msgpackBody("id", 1), Time: 1700000000.5,
		OriginJobID: 7, SubscriptionID: 3}
	j := &connpool.Job{ID: 9, Body: message.AppendChannelJob(nil, &m)}

	c := newChannelJob(j)
	require.NoError(t, message.Decode(j.Body, &c.msg))
	require.Equal(t, int64(3), c.msg.SubscriptionID)
	require.Equal(t, "orders", string(c.msg.Topic))
	c.done()
	require.Nil(t, c.job)
	require.Equal(t, message.Message{}, c.msg)

	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		c := newChannelJob(j)
		if err := message.Decode(j.Body, &c.msg); err != nil {
			t.Fatal(err)
		}
		c.done()
	})
	require.Zero(t, allocs)
}
