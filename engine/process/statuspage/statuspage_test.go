package statuspage

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/browsertest"
)

var screenshot = flag.String("screenshot", "", "save a PNG of the status page with sample data to this path (e.g. docs/status-page.png)")

var started = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// sample is the overview of the n-th answer (n from 0): the totals grow by
// 30 pushes per 2 s of server time, so the page must show 15.0 msgs/s.
func sample(n int) adminapi.Overview {
	k, u := int64(n), uint64(n)
	return adminapi.Overview{
		Version: "1.2.3 (abc123)", Started: started,
		UptimeS: 93784.5, // 1d 2h 3m 4s
		NowMS:   started.UnixMilli() + 2000*k,
		Totals: adminapi.Totals{Pushes: 1000 + 30*u, Successes: 990 + 29*u, Failures: 10 + u,
			Retries: 5 + u, GivenUp: 2, Redistributed: 2000 + 40*u, DecodeErrors: 1},
		Main:             adminapi.Counts{Ready: 7 + k, Delayed: 1, Reserved: 3},
		CutThrough:       true,
		BacklogSampledMS: started.UnixMilli() + 2000*k - 1000,
		Subscriptions: []adminapi.SubOverview{
			{ID: 1, Topic: "orders", SubscriberID: 3, URL: "http://127.0.0.1:8080/x", Concurrency: 5, RetryConcurrency: 2,
				Rate10s: 5.5, Pushes1m: 330, Failures1m: 0, Direct: 300, Spilled: 30, Ready: 9, RetryReady: 0, RetryDelayed: 0},
			{ID: 2, Topic: "billing", SubscriberID: 4, URL: "http://127.0.0.1:8080/y", Concurrency: 5, RetryConcurrency: 2,
				Rate10s: 12, Pushes1m: 720, Failures1m: 3, FailureRatio1m: 3.0 / 720, Ready: 4, RetryReady: 2, RetryDelayed: 3},
			{ID: 3, Topic: "users", SubscriberID: 5, URL: "http://127.0.0.1:8080/z", Concurrency: 1, RetryConcurrency: 1,
				Rate10s: 0.5, Pushes1m: 30, Failures1m: 1, FailureRatio1m: 1.0 / 30, Spilled: 30, Ready: 0, RetryReady: 1, RetryDelayed: 0},
		},
		Stages:        sampleStages(u),
		StagesRecent:  sampleRecentStages(u),
		StagesRecentS: 64.2,
		Alerts: []adminapi.Alert{
			{Time: started.Add(5 * time.Second), Kind: "channel_backlog", SubID: 2, Topic: "billing", Subject: "backlog of billing", Text: "4 ready"},
			{Time: started.Add(9 * time.Second), Kind: "failure_ratio", SubID: 3, Topic: "users", Subject: "failures of users <b>", Text: "3%"},
		},
	}
}

// sampleStages is the latency by stage of the n-th answer: the counts grow
// with the pushes, the quantiles stay.
func sampleStages(n uint64) []adminapi.Stage {
	return []adminapi.Stage{
		{Stage: "main_wait", Count: 2000 + 40*n, MeanMS: 0.8, P50MS: 0.5, P90MS: 1, P99MS: 5, P999MS: 20},
		{Stage: "redist_queue", Count: 2000 + 40*n, MeanMS: 0.03, P50MS: 0.05, P90MS: 0.05, P99MS: 0.1, P999MS: 0.5},
		{Stage: "channel_wait", Count: 100, MeanMS: 40, P50MS: 20, P90MS: 100, P99MS: 500, P999MS: 1000},
		{Stage: "slot_wait", Count: 1000 + 30*n, MeanMS: 0.4, P50MS: 0.2, P90MS: 1, P99MS: 2, P999MS: 10},
		{Stage: "push", Count: 1000 + 30*n, MeanMS: 3.1, P50MS: 2, P90MS: 5, P99MS: 20, P999MS: 50},
		{Stage: "total", Count: 990 + 29*n, MeanMS: 6.5, P50MS: 5, P90MS: 10, P99MS: 50, P999MS: 200},
	}
}

// sampleRecentStages is the latency by stage of the n-th answer over the
// last minute: a push tail that the counts since start hide.
func sampleRecentStages(n uint64) []adminapi.Stage {
	return []adminapi.Stage{
		{Stage: "main_wait", Count: 600 + n, MeanMS: 0.9, P50MS: 0.5, P90MS: 1, P99MS: 5, P999MS: 20},
		{Stage: "redist_queue", Count: 600 + n, MeanMS: 0.03, P50MS: 0.05, P90MS: 0.05, P99MS: 0.1, P999MS: 0.5},
		{Stage: "channel_wait", Count: 0},
		{Stage: "slot_wait", Count: 450 + n, MeanMS: 0.5, P50MS: 0.2, P90MS: 1, P99MS: 2, P999MS: 10},
		{Stage: "push", Count: 450 + n, MeanMS: 30, P50MS: 2, P90MS: 50, P99MS: 200, P999MS: 500},
		{Stage: "total", Count: 440 + n, MeanMS: 33, P50MS: 5, P90MS: 100, P99MS: 500, P999MS: 1000},
	}
}

// stub serves the page and a fake overview on a free loopback port.
type stub struct {
	URL string

	mu     sync.Mutex
	status int    // answer with this status instead of data when not 0
	token  string // required as "Bearer <token>" when not empty
	gen    func(n int) adminapi.Overview
	served int      // overviews answered with data
	auth   []string // Authorization header of every overview request
}

func startStub(t *testing.T, gen func(int) adminapi.Overview) *stub {
	t.Helper()
	s := &stub{gen: gen}
	page := Handler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// The browser keeps connections open after its tab closes; a short
	// idle timeout lets Shutdown finish at once instead of waiting for them.
	srv := &fasthttp.Server{IdleTimeout: 50 * time.Millisecond, Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/api/v1/overview" {
			s.overview(ctx)
			return
		}
		page(ctx)
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown())
		require.NoError(t, <-done)
	})
	s.URL = "http://" + ln.Addr().String()
	return s
}

func (s *stub) overview(ctx *fasthttp.RequestCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	s.auth = append(s.auth, auth)
	if s.token != "" && auth != "Bearer "+s.token {
		ctx.Error(`{"error":"unauthorized"}`, fasthttp.StatusUnauthorized)
		return
	}
	if s.status != 0 {
		ctx.Error(`{"error":"boom"}`, s.status)
		return
	}
	b, err := json.Marshal(s.gen(s.served))
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	s.served++
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (s *stub) set(f func(s *stub)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *stub) stats() (served int, auth []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, append([]string(nil), s.auth...)
}

const wait = 10 * time.Second

// hooks reads the text of every hooked element in one evaluation, so all
// values come from the same poll.
func hooks(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		const o = {};
		for (const id of ['total-pushes','total-successes','total-failures','total-retries','total-given-up',
			'total-redistributed','rate','main-ready','version','uptime','cut-through','last-update','error'])
			o[id] = document.getElementById(id).textContent;
		o['last-update-ms'] = document.getElementById('last-update').dataset.value || '';
		return o;
	})()`))
	require.NoError(t, err)
	return m
}

func rowOrder(t *testing.T, ctx context.Context) []string {
	t.Helper()
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#subs tbody tr')].map(tr => tr.dataset.sub)`))
	require.NoError(t, err)
	return ids
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(url)))
}

func TestStatusPage(t *testing.T) {
	browser := browsertest.Start(t)

	t.Run("numbers match the overview and the rate comes from two polls", func(t *testing.T) {
		s := startStub(t, sample)
		ctx := browsertest.NewTab(t, browser)
		navigate(t, ctx, s.URL+"/?interval=100")
		// The rate needs two polls; wait for one more so the numbers have
		// changed under the page at least once.
		require.NoError(t, browsertest.WaitFor(ctx,
			`document.getElementById('rate').dataset.value !== '' && +document.getElementById('total-pushes').textContent >= 1060`, wait))

		h := hooks(t, ctx)
		pushes, err := strconv.ParseInt(h["total-pushes"], 10, 64)
		require.NoError(t, err, h["total-pushes"])
		n := int((pushes - 1000) / 30)
		served, _ := s.stats()
		require.GreaterOrEqual(t, n, 2)
		require.Less(t, n, served)
		want := sample(n)
		itoa := func(v uint64) string { return strconv.FormatUint(v, 10) }
		itoa64 := func(v int64) string { return strconv.FormatInt(v, 10) }
		assert.Equal(t, map[string]string{
			"total-pushes":        itoa(want.Totals.Pushes),
			"total-successes":     itoa(want.Totals.Successes),
			"total-failures":      itoa(want.Totals.Failures),
			"total-retries":       itoa(want.Totals.Retries),
			"total-given-up":      itoa(want.Totals.GivenUp),
			"total-redistributed": itoa(want.Totals.Redistributed),
			"rate":                "15.0",
			"main-ready":          itoa64(want.Main.Ready),
			"version":             "1.2.3 (abc123)",
			"uptime":              "1d 2h 3m 4s",
			"cut-through":         "on",
			"error":               "",
			"last-update-ms":      itoa64(want.NowMS),
		}, without(h, "last-update"))
		assert.NotEqual(t, "never", h["last-update"])

		// One row per subscription with the overview's values.
		row := func(sub, cls string) string {
			s, err := browsertest.Text(ctx, fmt.Sprintf(`tr[data-sub="%s"] td.%s`, sub, cls))
			require.NoError(t, err)
			return s
		}
		assert.Equal(t, []string{"1", "2", "3"}, rowOrder(t, ctx), "sorted by id at first")
		for _, c := range []struct{ sub, cls, want string }{
			{"2", "rate", "12.0"}, {"2", "pushes-1m", "720"}, {"2", "failures-1m", "3"},
			{"2", "ratio", "0.42%"}, {"2", "ready", "4"}, {"2", "retry", "5"},
			{"1", "rate", "5.5"}, {"1", "ratio", "0.00%"}, {"3", "ratio", "3.33%"}, {"3", "topic", "users"},
			// direct %: 300 of 330 copies; none yet; none of 30.
			{"1", "direct", "90.9"}, {"2", "direct", "–"}, {"3", "direct", "0.0"},
		} {
			assert.Equal(t, c.want, row(c.sub, c.cls), "sub %s %s", c.sub, c.cls)
		}

		// One row per stage, in the overview's order, with its count and
		// its p50 and p99 in ms, drawn as two bars: over the last minute
		// at first, its span on its button, and since start at a click.
		// The rows are read with the time of their poll, which tells the
		// answer they show.
		type stagesShown struct {
			NowMS   int64      `json:"now_ms"`
			View    string     `json:"view"`
			Pressed []string   `json:"pressed"`
			Stages  [][]string `json:"stages"`
		}
		readStages := func() stagesShown {
			shown, err := chromedp.Run(ctx, chromedp.Evaluate[stagesShown](`({
				now_ms: +document.getElementById('last-update').dataset.value,
				view: document.getElementById('stages').dataset.view,
				pressed: [...document.querySelectorAll('.toggle button')].map(b => b.textContent + ':' + b.getAttribute('aria-pressed')),
				stages: [...document.querySelectorAll('#stages tbody tr')].map(tr => [tr.dataset.stage,
					...['count','p50','p99'].map(c => tr.querySelector('td.'+c).textContent)]),
			})`))
			require.NoError(t, err)
			return shown
		}
		shown := readStages()
		k := uint64(shown.NowMS-started.UnixMilli()) / 2000
		assert.Equal(t, "recent", shown.View)
		assert.Equal(t, []string{"last 64 s:true", "since start:false"}, shown.Pressed)
		assert.Equal(t, [][]string{
			{"main_wait", itoa(600 + k), "0.50", "5.0"},
			{"redist_queue", itoa(600 + k), "0.05", "0.10"},
			{"channel_wait", "0", "0.00", "0.00"},
			{"slot_wait", itoa(450 + k), "0.20", "2.0"},
			{"push", itoa(450 + k), "2.0", "200"},
			{"total", itoa(440 + k), "5.0", "500"},
		}, shown.Stages)

		cctx, cancel := context.WithTimeout(ctx, wait)
		require.NoError(t, chromedp.Do(cctx, chromedp.Click(chromedp.CSS(`#stages-total`))))
		cancel()
		shown = readStages()
		k = uint64(shown.NowMS-started.UnixMilli()) / 2000
		assert.Equal(t, "total", shown.View)
		assert.Equal(t, []string{"last 64 s:false", "since start:true"}, shown.Pressed)
		assert.Equal(t, [][]string{
			{"main_wait", itoa(2000 + 40*k), "0.50", "5.0"},
			{"redist_queue", itoa(2000 + 40*k), "0.05", "0.10"},
			{"channel_wait", "100", "20.0", "500"},
			{"slot_wait", itoa(1000 + 30*k), "0.20", "2.0"},
			{"push", itoa(1000 + 30*k), "2.0", "20.0"},
			{"total", itoa(990 + 29*k), "5.0", "50.0"},
		}, shown.Stages)
		bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
			const tr = document.querySelector('#stages tr[data-stage="total"]');
			return ['.p50-bar', '.p99-bar'].map(c => +tr.querySelector(c).getAttribute('width'));
		})()`))
		require.NoError(t, err)
		require.Len(t, bars, 2)
		assert.Positive(t, bars[0])
		assert.Greater(t, bars[1], bars[0], "p99 longer than p50")

		// And back to the last minute, which later polls keep showing.
		cctx, cancel = context.WithTimeout(ctx, wait)
		require.NoError(t, chromedp.Do(cctx, chromedp.Click(chromedp.CSS(`#stages-recent`))))
		cancel()
		served0, _ := s.stats()
		require.NoError(t, browsertest.WaitFor(ctx, fmt.Sprintf(
			`+document.getElementById('last-update').dataset.value >= %d`, started.UnixMilli()+2000*int64(served0)), wait))
		shown = readStages()
		assert.Equal(t, "recent", shown.View)
		assert.Equal(t, []string{"last 64 s:true", "since start:false"}, shown.Pressed)
		assert.Equal(t, []string{"push", itoa(450 + uint64(shown.NowMS-started.UnixMilli())/2000), "2.0", "200"}, shown.Stages[4])

		// Alerts, newest first, with their text kept as text.
		alerts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('#alerts li .subject')].map(e => e.textContent)`))
		require.NoError(t, err)
		assert.Equal(t, []string{"failures of users <b>", "backlog of billing"}, alerts)

		// Charts: the rate line and one sparkline per row, and the style
		// block applied under the Content-Security-Policy.
		drawn, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]bool](`({
			rate: !!document.querySelector('#chart-rate polyline'),
			failures: !!document.querySelector('#chart-failures polyline'),
			sparks: document.querySelectorAll('#subs tbody td.spark polyline').length === 3,
			styled: getComputedStyle(document.querySelector('header')).display === 'flex',
			errorHidden: document.getElementById('error').hidden,
		})`))
		require.NoError(t, err)
		assert.Equal(t, map[string]bool{"rate": true, "failures": true, "sparks": true, "styled": true, "errorHidden": true}, drawn)
	})

	t.Run("sorting by clicking a header", func(t *testing.T) {
		s := startStub(t, sample)
		ctx := browsertest.NewTab(t, browser)
		navigate(t, ctx, s.URL+"/?interval=100")
		require.NoError(t, browsertest.WaitFor(ctx, `document.querySelectorAll('#subs tbody tr').length === 3`, wait))

		click := func(key string) {
			tctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`th[data-key="`+key+`"]`))))
		}
		click("rate")
		assert.Equal(t, []string{"3", "1", "2"}, rowOrder(t, ctx), "rate ascending")
		click("rate")
		assert.Equal(t, []string{"2", "1", "3"}, rowOrder(t, ctx), "rate descending")
		click("topic")
		assert.Equal(t, []string{"2", "1", "3"}, rowOrder(t, ctx), "topic ascending: billing, orders, users")
		click("direct")
		assert.Equal(t, []string{"2", "3", "1"}, rowOrder(t, ctx), "direct ascending: none, 0.0, 90.9")
		click("retry")
		click("retry")
		assert.Equal(t, []string{"2", "3", "1"}, rowOrder(t, ctx), "retry descending")

		// The order survives the next polls.
		last := hooks(t, ctx)["last-update-ms"]
		require.NoError(t, browsertest.WaitFor(ctx,
			`document.getElementById('last-update').dataset.value !== '`+last+`'`, wait))
		assert.Equal(t, []string{"2", "3", "1"}, rowOrder(t, ctx))
		sorted, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`document.querySelector('th[aria-sort]').dataset.key + ' ' + document.querySelector('th[aria-sort]').getAttribute('aria-sort')`))
		require.NoError(t, err)
		assert.Equal(t, "retry descending", sorted)
	})

	t.Run("asks for the token on 401 and sends it", func(t *testing.T) {
		s := startStub(t, sample)
		s.set(func(s *stub) { s.token = "s3cret" })
		ctx := browsertest.NewTab(t, browser)
		navigate(t, ctx, s.URL+"/?interval=100")

		tctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		// A wrong token is refused and the form comes back saying so.
		require.NoError(t, chromedp.Do(tctx,
			chromedp.WaitVisible(chromedp.ID("token-form")),
			chromedp.SendKeys(chromedp.ID("token"), "wrong"),
			chromedp.Click(chromedp.ID("token-submit")),
		))
		require.NoError(t, browsertest.WaitFor(ctx, `document.getElementById('auth-msg').textContent !== ''`, wait))
		require.NoError(t, chromedp.Do(tctx,
			chromedp.WaitVisible(chromedp.ID("token-form")),
			chromedp.SendKeys(chromedp.ID("token"), "s3cret"),
			chromedp.Click(chromedp.ID("token-submit")),
		))
		require.NoError(t, browsertest.WaitFor(ctx, `document.getElementById('total-pushes').dataset.value`, wait))
		require.NoError(t, chromedp.Do(tctx, chromedp.WaitNotVisible(chromedp.ID("token-form"))))

		h := hooks(t, ctx)
		assert.Regexp(t, `^\d+$`, h["total-pushes"])
		served, auth := s.stats()
		assert.Positive(t, served)
		require.GreaterOrEqual(t, len(auth), 3)
		assert.Equal(t, "", auth[0], "first request without a token")
		assert.Equal(t, "Bearer wrong", auth[1])
		for i, a := range auth[2:] {
			assert.Equal(t, "Bearer s3cret", a, "request %d", i+2)
		}
		stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('medispatcher.token')`))
		require.NoError(t, err)
		assert.Equal(t, "s3cret", stored)
	})

	t.Run("error banner while polls fail", func(t *testing.T) {
		s := startStub(t, sample)
		ctx := browsertest.NewTab(t, browser)
		navigate(t, ctx, s.URL+"/?interval=100")
		require.NoError(t, browsertest.WaitFor(ctx, `document.getElementById('total-pushes').dataset.value`, wait))

		tctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		s.set(func(s *stub) { s.status = fasthttp.StatusInternalServerError })
		require.NoError(t, chromedp.Do(tctx, chromedp.WaitVisible(chromedp.ID("error"))))
		msg, err := browsertest.Text(ctx, "#error")
		require.NoError(t, err)
		assert.Contains(t, msg, "HTTP 500")
		// The last numbers stay on screen.
		assert.Regexp(t, `^\d+$`, hooks(t, ctx)["total-pushes"])

		s.set(func(s *stub) { s.status = 0 })
		require.NoError(t, chromedp.Do(tctx, chromedp.WaitNotVisible(chromedp.ID("error"))))
	})

	if *screenshot != "" {
		t.Run("screenshot", func(t *testing.T) {
			s := startStub(t, demo)
			ctx := browsertest.NewTab(t, browser)
			navigate(t, ctx, s.URL+"/?interval=50")
			// 20 polls of 30 s of server time fill the 10-minute charts.
			require.NoError(t, browsertest.WaitFor(ctx, `+document.getElementById('last-update').dataset.value >= `+
				strconv.FormatInt(demo(21).NowMS, 10), wait))
			require.NoError(t, browsertest.Screenshot(ctx, *screenshot))
			t.Logf("screenshot saved to %s", *screenshot)
		})
	}
}

// demo is sample data with a varying load, for the screenshot. It stops
// changing after 21 polls so the picture is stable.
func demo(n int) adminapi.Overview {
	n = min(n, 21)
	o := sample(0)
	o.NowMS = started.UnixMilli() + 30000*int64(n)
	var pushes, fails float64
	for i := 1; i <= n; i++ {
		pushes += 30 * (420 + 160*math.Sin(float64(i)/3))
		fails += 30 * math.Max(0, 6*math.Sin(float64(i)/2.5)-2)
	}
	o.Totals = adminapi.Totals{Pushes: 1_250_000 + uint64(pushes), Failures: 812 + uint64(fails), Retries: 1_901 + uint64(fails),
		GivenUp: 3, Redistributed: 640_000 + uint64(pushes/2), DecodeErrors: 0}
	o.Totals.Successes = o.Totals.Pushes - o.Totals.Failures
	o.Main = adminapi.Counts{Ready: 12, Delayed: 0, Reserved: 2}
	o.BacklogSampledMS = o.NowMS - 1500
	for i := range o.Subscriptions {
		sub := &o.Subscriptions[i]
		sub.Rate10s = math.Round((float64(60*(i+1))+25*math.Sin(float64(n+i)/3))*10) / 10
		sub.Pushes1m = uint64(sub.Rate10s * 60)
		if sub.Pushes1m > 0 {
			sub.FailureRatio1m = float64(sub.Failures1m) / float64(sub.Pushes1m)
		}
	}
	return o
}

func without(m map[string]string, key string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			c[k] = v
		}
	}
	return c
}

func TestHandlerHeaders(t *testing.T) {
	s := startStub(t, sample)
	tests := []struct {
		method string
		status int
	}{
		{fasthttp.MethodGet, 200},
		{fasthttp.MethodHead, 200},
		{fasthttp.MethodPost, 405},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(tt.method)
			req.SetRequestURI(s.URL + "/")
			if tt.method == fasthttp.MethodHead {
				resp.SkipBody = true
			}
			require.NoError(t, fasthttp.DoTimeout(req, resp, 5*time.Second))
			require.Equal(t, tt.status, resp.StatusCode())
			if tt.status != 200 {
				assert.Equal(t, "GET, HEAD", string(resp.Header.Peek(fasthttp.HeaderAllow)))
				return
			}
			assert.Equal(t, "text/html; charset=utf-8", string(resp.Header.ContentType()))
			assert.Equal(t, "no-store", string(resp.Header.Peek(fasthttp.HeaderCacheControl)))
			assert.Equal(t, "nosniff", string(resp.Header.Peek("X-Content-Type-Options")))
			csp := string(resp.Header.Peek("Content-Security-Policy"))
			assert.Contains(t, csp, "default-src 'none'")
			assert.Contains(t, csp, "connect-src 'self'")
			assert.Regexp(t, `script-src 'sha256-[A-Za-z0-9+/]{43}='; `, csp)
			assert.Regexp(t, `style-src 'sha256-[A-Za-z0-9+/]{43}='; `, csp)
			assert.NotContains(t, csp, "unsafe")
			if tt.method == fasthttp.MethodGet {
				assert.Equal(t, page, resp.Body())
			}
		})
	}
}

// TestPageSelfContained guards the offline promise: nothing is loaded from
// another origin and no build step is hidden in the page.
func TestPageSelfContained(t *testing.T) {
	doc := string(page)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script[^>]+src=`),
		regexp.MustCompile(`<link[^>]+stylesheet`),
		regexp.MustCompile(`@import`),
		regexp.MustCompile(`(src|href)="(https?:)?//`),
		regexp.MustCompile(`url\(`),
	} {
		assert.NotRegexp(t, bad, doc)
	}
	// The only absolute URL is the SVG namespace.
	for _, u := range regexp.MustCompile(`https?://[^'"\s)]+`).FindAllString(doc, -1) {
		assert.Equal(t, "http://www.w3.org/2000/svg", u)
	}
	// Every hooked id the tests and the daemon-level test rely on exists.
	for _, id := range []string{"total-pushes", "total-successes", "total-failures", "total-retries",
		"total-given-up", "total-redistributed", "rate", "main-ready", "version", "uptime", "last-update", "error", "alerts", "stages"} {
		assert.Contains(t, doc, `id="`+id+`"`)
	}
	assert.Equal(t, 1, strings.Count(doc, "<script>"))
	assert.Equal(t, 1, strings.Count(doc, "<style>"))
}

func TestPolicyHashes(t *testing.T) {
	// sha256("a") and sha256("b"), base64: two blocks, two hashes.
	got := policy("<style>a</style><script>a</script><script>b</script>")
	assert.Contains(t, got, "script-src 'sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=' 'sha256-PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0=';")
	assert.Contains(t, got, "style-src 'sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=';")
	assert.Contains(t, policy("<p>no blocks</p>"), "script-src 'none';")
}
