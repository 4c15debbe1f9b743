package stages

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// daemon serves texts[i] as its /metrics on the i-th request, the last one
// from then on.
func daemon(t *testing.T, texts ...string) (url string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := min(int(hits.Add(1))-1, len(texts)-1)
		_, _ = io.WriteString(w, texts[i])
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics", hits
}

// Two daemons' snapshots add up, and the span is the difference between
// the sums.
func TestSpanSumsDaemons(t *testing.T) {
	a, hitsA := daemon(t, pushText(10, 10), pushText(60, 70))
	b, hitsB := daemon(t, pushText(0, 0), pushText(40, 40))
	ctx := context.Background()
	got, err := Begin(ctx, []string{a, b}).End(ctx)
	require.NoError(t, err)
	assert.Equal(t, []Latency{{Stage: "push", Count: 100, P50: 1, P99: Bound(math.Inf(1)), P999: Bound(math.Inf(1))}}, got)
	assert.Equal(t, int64(2), hitsA.Load())
	assert.Equal(t, int64(2), hitsB.Load())

	got, err = Begin(ctx, nil).End(ctx)
	assert.NoError(t, err)
	assert.Nil(t, got, "no URL, no stages and nothing to say")
}

// A daemon that does not answer, answers an error or answers without the
// histogram leaves the span without stages, and the error says which and
// why; so does a span no message passed.
func TestSpanWithoutFigures(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	bare, _ := daemon(t, "# HELP other\nother_metric 1\n")
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	ok, _ := daemon(t, pushText(10, 10))
	ctx := context.Background()
	for _, c := range []struct {
		urls []string
		want string
	}{
		{[]string{ok, gone.URL + "/metrics"}, "before the run: " + gone.URL + "/metrics did not answer"},
		{[]string{bare}, "before the run: " + bare + " holds no medispatcher_stage_seconds histogram"},
		{[]string{notFound.URL + "/metrics"}, "answered 404 Not Found"},
		{[]string{ok}, ErrNoneObserved.Error()},
	} {
		got, err := Begin(ctx, c.urls).End(ctx)
		require.Error(t, err, c.urls)
		assert.Contains(t, err.Error(), c.want)
		assert.Nil(t, got)
	}

	// The first snapshot answered, the second did not.
	var hits atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > 1 {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, pushText(1, 1))
	}))
	t.Cleanup(flaky.Close)
	got, err := Begin(ctx, []string{flaky.URL}).End(ctx)
	require.Error(t, err)
	assert.Equal(t, "after the run: "+flaky.URL+" answered 503 Service Unavailable", err.Error())
	assert.Nil(t, got)
}

// The reason a daemon did not answer names its URL once.
func TestScrapeErrorNamesURLOnce(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	_, err := Scrape(context.Background(), []string{gone.URL + "/metrics"})
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), gone.URL), err.Error())
	assert.Contains(t, err.Error(), "connection refused")
}
