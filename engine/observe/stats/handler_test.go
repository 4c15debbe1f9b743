package stats

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// serve runs h on a free loopback port for the test and returns its base URL.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &fasthttp.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown())
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, method, url string) (int, []byte, *fasthttp.ResponseHeader) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	require.NoError(t, fasthttp.DoTimeout(req, resp, 5*time.Second))
	var h fasthttp.ResponseHeader
	resp.Header.CopyTo(&h)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), &h
}

func fixture() *Stats {
	clk := newClock(t0.Add(1500 * time.Millisecond))
	s := New(WithClock(clk.now))
	a1, a2, b := s.Sub(1, "orders"), s.Sub(2, "orders"), s.Sub(3, "users")
	a1.Push(true, false)
	a1.Push(false, true)
	a2.Push(true, false)
	for range 3 {
		b.Push(false, false)
	}
	clk.advance(250 * time.Millisecond)
	return s
}

func TestHandlerJSONShape(t *testing.T) {
	base := serve(t, fixture().Handler())
	status, body, h := get(t, fasthttp.MethodGet, base+"/")
	require.Equal(t, fasthttp.StatusOK, status, string(body))
	assert.Equal(t, "application/json", string(h.ContentType()))
	assert.Equal(t, "no-store", string(h.Peek(fasthttp.HeaderCacheControl)))

	var doc map[string]any
	require.NoError(t, json.Unmarshal(body, &doc))
	keys := func(m any) []string {
		var ks []string
		for k := range m.(map[string]any) {
			ks = append(ks, k)
		}
		return ks
	}
	windowKeys := []string{"pushes", "failures", "retries", "failure_ratio", "seconds"}
	windowsKeys := []string{"1s", "10s", "1m", "1h", "1d"}
	assert.ElementsMatch(t, []string{"time", "totals", "total", "topics", "subscriptions"}, keys(doc))
	assert.ElementsMatch(t, windowsKeys, keys(doc["totals"]))
	assert.ElementsMatch(t, windowKeys, keys(doc["total"]))
	assert.Equal(t, "2026-11-25T10:00:01.75Z", doc["time"])

	sub := doc["subscriptions"].([]any)[0]
	assert.ElementsMatch(t, []string{"id", "topic", "windows", "total"}, keys(sub))
	assert.ElementsMatch(t, windowsKeys, keys(sub.(map[string]any)["windows"]))
	assert.ElementsMatch(t, windowKeys, keys(sub.(map[string]any)["windows"].(map[string]any)["1m"]))
	topic := doc["topics"].([]any)[0]
	assert.ElementsMatch(t, []string{"topic", "subscriptions", "windows", "total"}, keys(topic))

	// The values, through the typed form.
	var snap Snapshot
	require.NoError(t, json.Unmarshal(body, &snap))
	assert.Equal(t, Window{Pushes: 6, Failures: 4, Retries: 1, FailureRatio: 4.0 / 6, Seconds: 0.25}, snap.Totals.S1)
	assert.Equal(t, Window{Pushes: 2, Failures: 1, Retries: 1, FailureRatio: 0.5, Seconds: 0.25}, snap.Subscriptions[0].Total)
	assert.Equal(t, []int64{1, 2}, snap.Topics[0].Subscriptions)
}

func TestHandlerFilters(t *testing.T) {
	base := serve(t, fixture().Handler())
	tests := []struct {
		name, method, query string
		status              int
		subs                []int64
		topics              []string
		totalPushes         uint64
	}{
		{"all", "GET", "", 200, []int64{1, 2, 3}, []string{"orders", "users"}, 6},
		{"head", "HEAD", "", 200, nil, nil, 0},
		{"topic", "GET", "?topic=orders", 200, []int64{1, 2}, []string{"orders"}, 3},
		{"sub", "GET", "?sub=3", 200, []int64{3}, []string{"users"}, 3},
		{"topic and sub", "GET", "?topic=orders&sub=2", 200, []int64{2}, []string{"orders"}, 1},
		{"sub of another topic", "GET", "?topic=orders&sub=3", 404, nil, nil, 0},
		{"unknown topic", "GET", "?topic=nope", 404, nil, nil, 0},
		{"unknown sub", "GET", "?sub=42", 404, nil, nil, 0},
		{"bad sub", "GET", "?sub=x", 400, nil, nil, 0},
		{"post", "POST", "", 405, nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, h := get(t, tt.method, base+"/stats"+tt.query)
			require.Equal(t, tt.status, status, string(body))
			if tt.method == "HEAD" {
				assert.Empty(t, body)
				return
			}
			if status != 200 {
				var e struct{ Error string }
				require.NoError(t, json.Unmarshal(body, &e))
				assert.NotEmpty(t, e.Error)
				if status == 405 {
					assert.Equal(t, "GET, HEAD", string(h.Peek(fasthttp.HeaderAllow)))
				}
				return
			}
			var snap Snapshot
			require.NoError(t, json.Unmarshal(body, &snap))
			var subs []int64
			for _, s := range snap.Subscriptions {
				subs = append(subs, s.ID)
			}
			var topics []string
			for _, tp := range snap.Topics {
				topics = append(topics, tp.Topic)
			}
			assert.Equal(t, tt.subs, subs)
			assert.Equal(t, tt.topics, topics)
			assert.Equal(t, tt.totalPushes, snap.Total.Pushes)
			assert.Equal(t, tt.totalPushes, snap.Totals.M1.Pushes)
		})
	}
}
