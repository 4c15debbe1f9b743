package farm

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCapacityProfile(t *testing.T) {
	var doc struct {
		Profile []Profile `toml:"profile"`
	}
	_, err := toml.Decode(`
[[profile]]
name = "overloaded"
latency = "fixed:20ms"
overload_at = 4
slow_at = 2
slow_latency = "50ms"
`, &doc)
	require.NoError(t, err)
	p := doc.Profile[0]
	require.NoError(t, p.Validate())
	assert.Equal(t, 4, p.OverloadAt)
	assert.Equal(t, 2, p.SlowAt)
	assert.Equal(t, 50*time.Millisecond, p.SlowLatency.D())
	assert.True(t, p.HasCapacity())

	for _, bad := range []Profile{
		{Name: "negative", OverloadAt: -1},
		{Name: "slow-without-latency", SlowAt: 2},
		{Name: "latency-without-slow", SlowLatency: Duration(time.Millisecond)},
		{Name: "slow-beyond-overload", OverloadAt: 2, SlowAt: 2, SlowLatency: Duration(time.Millisecond)},
		{Name: "dead", Dead: true, OverloadAt: 4},
	} {
		assert.Error(t, bad.Validate(), bad.Name)
	}
	only := Profile{Name: "only-overload", OverloadAt: 1}
	require.NoError(t, only.Validate())
	plain := Profile{Name: "plain"}
	require.NoError(t, plain.Validate())
	assert.False(t, plain.HasCapacity())
}

// answer is what a client saw of one push.
type answer struct {
	code       int
	body       string
	retryAfter string
	took       time.Duration
}

// pushAll sends one message push per seq to u, all at once, each on a
// connection of its own, and returns the answers in seq order.
func pushAll(t *testing.T, u string, seqs []uint64) []answer {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	out := make([]answer, len(seqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, seq := range seqs {
		wg.Go(func() {
			form := url.Values{"jobid": {"1.000000-1-1"}, "retry_times": {"0"},
				"message": {fmt.Sprintf(`{"seq":%d,"topic":0,"ts":%d}`, seq, time.Now().UnixNano())}}
			<-start
			t0 := time.Now()
			resp, err := client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			out[i] = answer{code: resp.StatusCode, body: string(body), retryAfter: resp.Header.Get("Retry-After"), took: time.Since(t0)}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// Beyond overload_at pushes in flight, a subscriber answers 503 at once,
// without Retry-After; the pushes it admitted are answered as usual, and
// once they are, it admits again.
func TestFarmOverload(t *testing.T) {
	f := newFarm(t, Profile{Name: "fast"}, Profile{Name: "overloaded", Latency: Dist{Kind: Fixed, A: 400 * time.Millisecond}, OverloadAt: 2})
	u := f.URL(1, 0, 1)
	answers := pushAll(t, u, []uint64{0, 1, 2, 3, 4})
	var ok, turned int
	for _, a := range answers {
		switch a.code {
		case 200:
			ok++
			assert.Equal(t, `{"status":1}`, a.body)
			assert.GreaterOrEqual(t, a.took, 400*time.Millisecond)
		case 503:
			turned++
			assert.Empty(t, a.retryAfter, "no Retry-After")
			assert.Less(t, a.took, 300*time.Millisecond, "answered at once")
		default:
			t.Errorf("status %d", a.code)
		}
	}
	assert.Equal(t, 2, ok, "overload_at pushes are admitted")
	assert.Equal(t, 3, turned)

	sc, found := f.Count(1, 5, nil)
	require.True(t, found)
	assert.Equal(t, int64(3), sc.Overloaded)
	assert.Equal(t, int64(3), sc.Failed, "a 503 is a failure the farm answers on purpose")
	assert.Equal(t, int64(2), sc.Delivered)
	assert.Equal(t, int64(3), f.Totals().Failed)

	again := pushAll(t, u, []uint64{5, 6})
	assert.Equal(t, 200, again[0].code, "admitted again once the earlier pushes are answered")
	assert.Equal(t, 200, again[1].code)
	fast := pushAll(t, f.URL(2, 1, 0), []uint64{0, 1, 2, 3, 4})
	for _, a := range fast {
		assert.Equal(t, 200, a.code, "a class without a capacity admits every push")
	}
}

// Beyond slow_at pushes in flight, each answer takes slow_latency longer;
// the capacity is each subscription's own.
func TestFarmSlowsBeyondSlowAt(t *testing.T) {
	f := newFarm(t, Profile{Name: "slowing", Latency: Dist{Kind: Fixed, A: 100 * time.Millisecond},
		SlowAt: 1, SlowLatency: Duration(400 * time.Millisecond)})
	answers := pushAll(t, f.URL(1, 0, 0), []uint64{0, 1})
	took := []time.Duration{answers[0].took, answers[1].took}
	slices.Sort(took)
	assert.Less(t, took[0], 400*time.Millisecond, "the first in flight is not slowed")
	assert.GreaterOrEqual(t, took[1], 500*time.Millisecond, "the second is slowed")
	for _, a := range answers {
		assert.Equal(t, 200, a.code)
	}

	var wg sync.WaitGroup
	var other []answer
	wg.Go(func() { other = pushAll(t, f.URL(2, 1, 0), []uint64{0}) })
	mine := pushAll(t, f.URL(1, 0, 0), []uint64{2})
	wg.Wait()
	assert.Less(t, mine[0].took, 400*time.Millisecond, "another subscription's pushes do not count")
	assert.Less(t, other[0].took, 400*time.Millisecond)
}

// A probe is answered at once even when the subscription is full.
func TestFarmOverloadSparesProbes(t *testing.T) {
	f := newFarm(t, Profile{Name: "overloaded", Latency: Dist{Kind: Fixed, A: 400 * time.Millisecond}, OverloadAt: 1})
	u := f.URL(1, 0, 0)
	var wg sync.WaitGroup
	wg.Go(func() { pushAll(t, u, []uint64{0}) })
	time.Sleep(100 * time.Millisecond)
	p := &pusher{t: t}
	code, body := p.push(u, 0, 0, 0)
	wg.Wait()
	assert.Equal(t, 200, code)
	assert.Equal(t, `{"status":1}`, body)
	assert.True(t, f.Probed(1))
	sc, _ := f.Count(1, 1, nil)
	assert.Zero(t, sc.Overloaded)
}

// The capacity's paths, turning away and slowing, allocate nothing either.
func TestHandleAllocsWithCapacity(t *testing.T) {
	f := newFarm(t, Profile{Name: "overloaded", OverloadAt: 3, SlowAt: 1, SlowLatency: Duration(time.Microsecond)})
	ctx, push := handlePusher(f, "overloaded")
	for range 10 { // create the subscription and grow its bitset
		push()
	}
	st := f.subs[1].Load()
	require.NotNil(t, st)

	st.inflight.Store(1) // every push finds 2 in flight: slowed
	assert.Zero(t, testing.AllocsPerRun(200, push))
	assert.Equal(t, 200, ctx.Response.StatusCode())

	st.inflight.Store(5) // every push finds 6 in flight: turned away
	assert.Zero(t, testing.AllocsPerRun(200, push))
	assert.Equal(t, 503, ctx.Response.StatusCode())
	assert.Equal(t, int64(5), st.inflight.Load(), "each push leaves the count as it found it")
	sc, _ := f.Count(1, 0, nil)
	assert.Equal(t, int64(201), sc.Overloaded, "AllocsPerRun's warm-up run and its 200")
}
