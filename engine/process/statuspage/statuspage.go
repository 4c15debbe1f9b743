// Package statuspage serves the operator's status page: one self-contained
// HTML document (inline CSS and JavaScript, no build step, no external
// fonts, scripts or CDN, so it works offline and behind any firewall) that
// polls GET /api/v1/overview on its own origin and shows totals, the
// delivery rate, backlogs, subscriptions (with the share of their copies
// handed over directly, whether cut-through is on, their push windows and
// their circuit breakers' states), the latency by
// stage (p50 and p99 of each stage as bars on a log scale, with its
// count) over the last minute or, at a click, since start, alerts and
// small charts.
//
// The page only reads: it must never change the daemon's state, and it
// holds the admin token in sessionStorage only (gone with the tab).
package statuspage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"strings"

	"github.com/valyala/fasthttp"
)

//go:embed index.html
var page []byte

// Handler serves the status page on GET and HEAD (any path: the caller
// routes). The Content-Security-Policy allows the page's own inline script
// and style by hash and network access to its own origin only.
func Handler() fasthttp.RequestHandler {
	csp := policy(string(page))
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsGet() && !ctx.IsHead() {
			ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
			ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, HEAD")
			return
		}
		h := &ctx.Response.Header
		h.SetContentType("text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set(fasthttp.HeaderCacheControl, "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		ctx.SetBody(page)
	}
}

// policy builds the Content-Security-Policy of doc: every inline <script>
// and <style> block is allowed by its SHA-256, nothing else inline, no eval.
func policy(doc string) string {
	scripts := hashes(doc, "<script>", "</script>")
	styles := hashes(doc, "<style>", "</style>")
	return "default-src 'none'; " +
		"script-src " + scripts + "; " +
		"style-src " + styles + "; " +
		"connect-src 'self'; img-src 'self' data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// hashes returns the CSP source list of the blocks between open and close,
// or 'none' when there are none.
func hashes(doc, open, close string) string {
	var srcs []string
	for {
		i := strings.Index(doc, open)
		if i < 0 {
			break
		}
		doc = doc[i+len(open):]
		j := strings.Index(doc, close)
		if j < 0 {
			break
		}
		sum := sha256.Sum256([]byte(doc[:j]))
		srcs = append(srcs, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		doc = doc[j+len(close):]
	}
	if len(srcs) == 0 {
		return "'none'"
	}
	return strings.Join(srcs, " ")
}
