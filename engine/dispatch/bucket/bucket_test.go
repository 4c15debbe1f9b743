package bucket

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is advanced by the test: the bucket's accuracy is checked on
// counts of a simulated timeline, never on wall time.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newFake(rate float64, burst int) (*Bucket, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := &Bucket{now: c.now}
	b.Set(rate, burst)
	b.tokens = b.burst
	return b, c
}

// run simulates callers that always want a token, each using it when the
// bucket says it is due; it returns how many tokens were used by `until`.
func run(b *Bucket, c *fakeClock, until time.Duration) int {
	start := c.t
	used := 0
	for {
		d := b.Reserve()
		at := c.t.Add(d)
		if at.Sub(start) > until {
			return used
		}
		c.t = at
		used++
	}
}

func TestRateAccuracy(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		burst int
		dur   time.Duration
	}{
		{200, 0, 10 * time.Second},
		{200, 50, 10 * time.Second},
		{1, 1, 60 * time.Second},
		{5000, 100, 2 * time.Second},
		{0.5, 1, 100 * time.Second},
	} {
		b, c := newFake(tc.rate, tc.burst)
		got := run(b, c, tc.dur)
		want := tc.rate * tc.dur.Seconds()
		require.InEpsilon(t, want, float64(got), 0.03, "rate %v burst %d over %v: %d tokens", tc.rate, tc.burst, tc.dur, got)
	}
}

func TestBurstIsAvailableAtOnce(t *testing.T) {
	b, _ := newFake(10, 25)
	for i := 0; i < 25; i++ {
		require.Zero(t, b.Reserve(), "token %d of the burst must be immediate", i)
	}
	require.Equal(t, 100*time.Millisecond, b.Reserve().Round(time.Millisecond))
}

func TestUnlimited(t *testing.T) {
	b, _ := newFake(0, 0)
	for i := 0; i < 1000; i++ {
		require.Zero(t, b.Reserve())
	}
}

func TestLiveRateChange(t *testing.T) {
	b, c := newFake(100, 1)
	first := run(b, c, 5*time.Second)
	b.Set(400, 1)
	second := run(b, c, 5*time.Second)
	require.InEpsilon(t, 500, float64(first), 0.03)
	require.InEpsilon(t, 2000, float64(second), 0.03)
	b.Set(0, 0)
	require.Zero(t, b.Reserve())
}

func TestWaitHonoursContextAndReturnsToken(t *testing.T) {
	b := New(1, 1)
	_, err := b.Wait(context.Background()) // the burst token
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	// the cancelled reservation was given back: the debt is one token, not two
	require.LessOrEqual(t, b.Reserve(), time.Second+10*time.Millisecond)
}

func TestWaitSleepsUntilDue(t *testing.T) {
	b := New(50, 1)
	_, err := b.Wait(context.Background())
	require.NoError(t, err)
	waited, err := b.Wait(context.Background())
	require.NoError(t, err)
	require.Greater(t, waited, time.Duration(0), "the second token of a 1-token bucket must be waited for")
}
