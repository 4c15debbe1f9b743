package admin_test

import (
	"context"
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/browsertest"
	"medispatcher/internal/testsrv"
)

var screenshot = flag.String("screenshot", "", "save a PNG of the status page of the test daemon to this path (docs/status-page.png)")

// TestStatusPageShowsTheDaemonsNumbers loads the status page from a
// running daemon under known traffic in headless Chromium, gives it the
// token it asks for, and reads the numbers it shows.
func TestStatusPageShowsTheDaemonsNumbers(t *testing.T) {
	browser := browsertest.Start(t)
	r := start(t, "")
	r.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if h.Path == "/refuses" {
			return 500, "no", 0
		}
		return 200, `{"status":1}`, 0
	})
	r.create(21, "orders", "/accepts", nil)
	r.create(22, "invoices", "/refuses", nil)
	r.produce("orders", 50)
	r.produce("invoices", 4)
	// 50 good pushes; 4 bad messages fail their push and their one retry.
	r.sub.WaitFor(15*time.Second, "58 pushes", func(h []testsrv.Hit) bool { return len(h) >= 58 })

	ctx := browsertest.NewTab(t, browser)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx,
		chromedp.Navigate(r.api+"/?interval=200"),
		chromedp.WaitVisible(chromedp.ID("token-form")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("token-submit")),
	))
	// The given-up count settles last (after the retry's failure record).
	require.NoError(t, browsertest.WaitFor(ctx,
		`document.getElementById('total-given-up').textContent === '4' && document.querySelector('tr[data-sub="22"] .failures-1m') !== null`,
		20*time.Second))
	text := func(sel string) string {
		s, err := browsertest.Text(tctx, sel)
		require.NoError(t, err, sel)
		return s
	}
	assert.Equal(t, "58", text("#total-pushes"))
	assert.Equal(t, "50", text("#total-successes"))
	assert.Equal(t, "8", text("#total-failures"))
	assert.Equal(t, "4", text("#total-retries"))
	assert.Equal(t, "4", text("#total-given-up"))
	assert.Equal(t, "50", text(`tr[data-sub="21"] .pushes-1m`))
	assert.Equal(t, "0", text(`tr[data-sub="21"] .failures-1m`))
	assert.Equal(t, "8", text(`tr[data-sub="22"] .pushes-1m`))
	assert.Equal(t, "8", text(`tr[data-sub="22"] .failures-1m`))
	assert.Contains(t, text("#version"), "dev")
	// Cut-through is on by default and took some of the 50 copies of
	// "orders" straight from the main tube: its direct % is a number above 0.
	assert.Equal(t, "on", text("#cut-through"))
	direct := text(`tr[data-sub="21"] .direct`)
	require.Regexp(t, `^\d+\.\d$`, direct)
	share, err := strconv.ParseFloat(direct, 64)
	require.NoError(t, err)
	assert.Positive(t, share)
	assert.LessOrEqual(t, share, 100.0)
	assert.Regexp(t, `^\d+\.\d$`, text(`tr[data-sub="22"] .direct`))
	// Circuit breakers are off by default.
	assert.Equal(t, "off", text(`tr[data-sub="22"] .breaker`))
	// Adaptive push windows are off by default: the window is the
	// concurrency, shown as off, with the numbers in its tooltip.
	assert.Equal(t, "off", text(`tr[data-sub="22"] .window`))
	// No content filter: nothing filtered out.
	assert.Equal(t, "0", text(`tr[data-sub="22"] .filtered`))
	// Latency by stage: a row per stage with numbers; the stages every
	// message or push passes counted them all.
	number := `^\d+(\.\d+)?$`
	for _, st := range []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"} {
		for _, cls := range []string{"count", "p50", "p99"} {
			assert.Regexp(t, number, text(`#stages tr[data-stage="`+st+`"] td.`+cls), st+" "+cls)
		}
	}
	assert.Equal(t, "54", text(`#stages tr[data-stage="main_wait"] td.count`))
	assert.Equal(t, "58", text(`#stages tr[data-stage="push"] td.count`))
	assert.Equal(t, "50", text(`#stages tr[data-stage="total"] td.count`))
	p50, err := strconv.ParseFloat(text(`#stages tr[data-stage="push"] td.p50`), 64)
	require.NoError(t, err)
	assert.Positive(t, p50)

	if *screenshot != "" {
		// A little steady traffic so the charts have something to draw.
		for i := 0; i < 20; i++ {
			r.produce("orders", 25)
			time.Sleep(250 * time.Millisecond) // paces the demo traffic; nothing waits on it
		}
		require.NoError(t, browsertest.WaitFor(ctx, `+document.getElementById('total-successes').textContent >= 550`, 20*time.Second))
		require.NoError(t, browsertest.Screenshot(ctx, *screenshot))
		t.Logf("screenshot saved to %s", *screenshot)
	}
}
