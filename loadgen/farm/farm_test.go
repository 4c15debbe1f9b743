package farm

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

func TestScanSeqTS(t *testing.T) {
	cases := []struct {
		in      string
		seq     uint64
		ts      int64
		ok      bool
		comment string
	}{
		{`{"pad":"xxxx","seq":42,"topic":3,"ts":1732500000123456789}`, 42, 1732500000123456789, true, "sorted keys as encoding/json writes them"},
		{` { "ts" : 7 , "seq" : 0 } `, 0, 7, true, "spaces"},
		{`{"a":{"seq":1,"ts":2},"b":[1,"]}",{"x":"\"seq\":9"}],"seq":5,"ts":6}`, 5, 6, true, "nested members are skipped"},
		{`{"pad":"\"seq\":99,","seq":5,"ts":6,"z":null,"y":true,"f":-1.5e3}`, 5, 6, true, "escaped quotes in strings"},
		{`{"seq":5}`, 0, 0, false, "ts missing"},
		{`{"seq":1.5,"ts":2}`, 0, 0, false, "fraction"},
		{`{"seq":-1,"ts":2}`, 0, 0, false, "negative"},
		{`{"seq":"1","ts":2}`, 0, 0, false, "string"},
		{`[1,2]`, 0, 0, false, "not an object"},
		{`{"seq":1,"ts":2`, 0, 0, false, "truncated"},
		{``, 0, 0, false, "empty"},
		{`{"pad":"unterminated`, 0, 0, false, "unterminated string"},
	}
	for _, c := range cases {
		seq, ts, ok := ScanSeqTS([]byte(c.in))
		assert.Equal(t, c.ok, ok, c.comment)
		if c.ok {
			assert.Equal(t, c.seq, seq, c.comment)
			assert.Equal(t, c.ts, ts, c.comment)
		}
	}
}

func FuzzScanSeqTS(f *testing.F) {
	f.Add([]byte(`{"pad":"xx","seq":42,"topic":3,"ts":17}`))
	f.Add([]byte(`{"a":[{"b":"]"}],"seq":1,"ts":2}`))
	f.Fuzz(func(t *testing.T, b []byte) { ScanSeqTS(b) }) // must not panic
}

func TestScanAllocs(t *testing.T) {
	msg := []byte(`{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxx","seq":42,"topic":3,"ts":1732500000123456789}`)
	allocs := testing.AllocsPerRun(100, func() { ScanSeqTS(msg) })
	assert.Zero(t, allocs)
}

func TestParseDist(t *testing.T) {
	cases := []struct {
		in      string
		want    Dist
		wantErr bool
	}{
		{"", Dist{Kind: Fixed}, false},
		{"fixed:2ms", Dist{Kind: Fixed, A: 2 * time.Millisecond}, false},
		{"uniform:1ms:5ms", Dist{Kind: Uniform, A: time.Millisecond, B: 5 * time.Millisecond}, false},
		{"longtail:1ms:2s", Dist{Kind: LongTail, A: time.Millisecond, B: 2 * time.Second}, false},
		{"uniform:5ms:1ms", Dist{}, true},
		{"fixed", Dist{}, true},
		{"gauss:1ms:2ms", Dist{}, true},
		{"fixed:-1s", Dist{}, true},
	}
	for _, c := range cases {
		d, err := ParseDist(c.in)
		if c.wantErr {
			assert.Error(t, err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, d, c.in)
		back, err := ParseDist(d.String())
		require.NoError(t, err)
		assert.Equal(t, d, back, "String round-trips")
	}
}

func TestDistSample(t *testing.T) {
	u := Dist{Kind: Uniform, A: time.Millisecond, B: 3 * time.Millisecond}
	assert.Equal(t, time.Millisecond, u.Sample(0))
	assert.Equal(t, 2*time.Millisecond, u.Sample(0.5))
	lt := Dist{Kind: LongTail, A: time.Millisecond, B: time.Second}
	assert.Equal(t, time.Millisecond, lt.Sample(0))
	p99 := lt.Sample(0.99)
	assert.Greater(t, p99, 15*time.Millisecond, "a long tail")
	assert.Less(t, p99, 30*time.Millisecond)
	assert.Equal(t, time.Second, lt.Sample(0.9999999), "capped")
}

func TestProfileTOML(t *testing.T) {
	var doc struct {
		Profile []Profile `toml:"profile"`
	}
	_, err := toml.Decode(`
[[profile]]
name = "slow"
latency = "uniform:1ms:3ms"
error_ratio = 0.2
error_kind = "timeout"
hang = "250ms"
[[profile]]
name = "limited"
rate_limit = 50
`, &doc)
	require.NoError(t, err)
	require.Len(t, doc.Profile, 2)
	p := doc.Profile[0]
	require.NoError(t, p.Validate())
	assert.Equal(t, Dist{Kind: Uniform, A: time.Millisecond, B: 3 * time.Millisecond}, p.Latency)
	assert.Equal(t, ErrTimeout, p.ErrorKind)
	assert.Equal(t, 250*time.Millisecond, p.Hang.D())
	q := doc.Profile[1]
	require.NoError(t, q.Validate())
	assert.Equal(t, 1, q.Burst, "burst defaults to 1 with a rate limit")
	bad := Profile{Name: "x", ErrorKind: "boom"}
	assert.Error(t, bad.Validate())
}

type pusher struct {
	t *testing.T
	c fasthttp.Client
}

// push sends what medispatcher sends and returns status and body.
func (p *pusher) push(u string, seq uint64, ts int64, retry int) (int, string) {
	p.t.Helper()
	form := url.Values{}
	form.Set("jobid", "1.000000-1-1")
	form.Set("message", fmt.Sprintf(`{"pad":"xx","seq":%d,"topic":0,"ts":%d}`, seq, ts))
	form.Set("retry_times", fmt.Sprint(retry))
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(fmt.Sprintf("%s&jobid=1.000000-1-1&retry_times=%d", u, retry))
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString(form.Encode())
	err := p.c.DoTimeout(req, resp, 5*time.Second)
	if err != nil {
		return -1, err.Error()
	}
	return resp.StatusCode(), string(resp.Body())
}

func newFarm(t *testing.T, profiles ...Profile) *Farm {
	t.Helper()
	f, err := New(Config{Profiles: profiles, MaxSubs: 100})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, f.Close(ctx))
	})
	return f
}

func TestFarmRecordsDeliveriesOnce(t *testing.T) {
	f := newFarm(t, Profile{Name: "fast"}, Profile{Name: "failing", ErrorRatio: 1, ErrorKind: ErrStatus0})
	p := &pusher{t: t}
	now := time.Now().UnixNano()
	f.SetWindow(now-int64(time.Hour), now+int64(time.Hour))

	u1 := f.URL(1, 0, 0)
	for _, seq := range []uint64{0, 1, 2, 2, 5, 70} {
		code, body := p.push(u1, seq, now-int64(10*time.Millisecond), 0)
		assert.Equal(t, 200, code)
		assert.Equal(t, `{"status":1}`, body)
	}
	code, body := p.push(f.URL(2, 1, 1), 0, now, 0)
	assert.Equal(t, 200, code)
	assert.Equal(t, `{"status":0}`, body, "failing class answers status 0")
	code, _ = p.push(u1, 0, 0, 0) // ts 0: a probe
	assert.Equal(t, 200, code)
	code, _ = p.push(strings.Replace(u1, "/s/1?", "/s/1x?", 1), 9, now, 0)
	assert.Equal(t, 404, code, "unknown path")

	tot := f.Totals()
	assert.Equal(t, Totals{Arrivals: 9, Delivered: 5, Dups: 1, Failed: 1, Probes: 1, Malformed: 1}, tot)
	assert.True(t, f.Probed(1))
	assert.False(t, f.Probed(2))

	sc, ok := f.Count(1, 6, []uint64{5})
	require.True(t, ok)
	assert.Equal(t, int64(3), sc.InSet, "0,1,2 (5 is skipped: its put failed)")
	assert.Equal(t, int64(2), sc.Outside, "5 and 70")
	assert.Equal(t, int64(1), sc.Dups)
	sc2, ok := f.Count(2, 1, nil)
	require.True(t, ok)
	assert.Equal(t, int64(1), sc2.Failed)
	assert.Equal(t, 1, sc2.Class)
	assert.Equal(t, 1, sc2.Topic)
	assert.ElementsMatch(t, []int64{1, 2}, f.SubIDs())

	iv := f.Tick()
	assert.Equal(t, int64(5), iv.Timed)
	assert.GreaterOrEqual(t, iv.P50, 10*time.Millisecond, "latency counts from the scheduled time")
	assert.Equal(t, int64(5), f.ClassLatency(0).TotalCount())
	assert.Zero(t, f.ClassLatency(1).TotalCount())

	f.CloseGate()
	code, _ = p.push(u1, 3, now, 0)
	assert.Equal(t, 503, code)
	assert.Equal(t, int64(5), f.Totals().Delivered, "nothing counts after the gate closed")

	f.OpenGate()
	code, body = p.push(u1, 3, now, 0)
	assert.Equal(t, 200, code)
	assert.Equal(t, `{"status":1}`, body)
	assert.Equal(t, int64(6), f.Totals().Delivered, "the farm counts again once its gate is open")
}

func TestFarmWindowAndRetries(t *testing.T) {
	f := newFarm(t)
	p := &pusher{t: t}
	now := time.Now().UnixNano()
	f.SetWindow(now, now+int64(time.Second))
	p.push(f.URL(1, 0, 0), 0, now-1, 0)                    // warm-up: counted, not timed
	p.push(f.URL(1, 0, 0), 1, now+1, 2)                    // timed, a retry
	p.push(f.URL(1, 0, 0), 2, now+int64(2*time.Second), 0) // drain-phase message: not timed
	iv := f.Tick()
	assert.Equal(t, int64(3), iv.Delivered)
	assert.Equal(t, int64(1), iv.Timed)
	sc, _ := f.Count(1, 3, nil)
	assert.Equal(t, int64(1), sc.Retries)
}

func TestFarmDeadAndRateLimited(t *testing.T) {
	f := newFarm(t, Profile{Name: "ok"}, Profile{Name: "dead", Dead: true}, Profile{Name: "lim", RateLimit: 1, Burst: 2})
	p := &pusher{t: t}
	now := time.Now().UnixNano()
	code, _ := p.push(f.URL(3, 0, 1), 0, now, 0)
	assert.Equal(t, -1, code, "a dead subscriber refuses connections")

	for seq := range uint64(10) {
		p.push(f.URL(4, 0, 2), seq, now, 0)
	}
	sc, _ := f.Count(4, 10, nil)
	// burst 2 + 1 slack token; the rest arrive far faster than 1/s
	assert.Equal(t, int64(7), sc.OverLimit)
}

func TestFarmRejectsNonLoopback(t *testing.T) {
	_, err := New(Config{Addr: "0.0.0.0:0"})
	assert.Error(t, err)
}

func BenchmarkScanSeqTS(b *testing.B) {
	msg := []byte(`{"pad":"` + string(make([]byte, 0)) + `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","seq":42,"topic":3,"ts":1732500000123456789}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		ScanSeqTS(msg)
	}
}

// The push path must not allocate: the farm must never be what limits a
// benchmark.
func TestHandleAllocs(t *testing.T) {
	f := newFarm(t)
	ctx, push := handlePusher(f, "default")
	for range 10 { // create the subscription and grow its bitset
		push()
	}
	allocs := testing.AllocsPerRun(500, push)
	assert.Zero(t, allocs)
	assert.Equal(t, 200, ctx.Response.StatusCode())
	assert.Equal(t, int64(511), f.Totals().Delivered)
}

// handlePusher returns a request context and a function that has f handle
// a message push to subscription 1 of class in it, a new seq each time
// (up to 2000), the way fasthttp would but without a connection.
func handlePusher(f *Farm, class string) (*fasthttp.RequestCtx, func()) {
	now := time.Now().UnixNano()
	bodies := make([][]byte, 2000)
	for i := range bodies {
		bodies[i] = []byte(url.Values{"jobid": {"1.000000-1-1"}, "retry_times": {"0"},
			"message": {fmt.Sprintf(`{"pad":"xxxxxxxxxxxxxxxx","seq":%d,"topic":0,"ts":%d}`, i, now)}}.Encode())
	}
	uri := "/s/1?class=" + class + "&topic=0&jobid=1.000000-1-1&retry_times=0"
	ctx := &fasthttp.RequestCtx{}
	i := 0
	return ctx, func() {
		ctx.Request.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
		ctx.Request.SetRequestURI(uri)
		ctx.Request.SetBody(bodies[i%len(bodies)])
		ctx.Response.Reset()
		i++
		f.handle(ctx)
	}
}
