package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// recorder stands in for a test to see whether Start fails or skips it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartWithoutBrowser(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-chromium")
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			t.Setenv(EnvExecPath, missing)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(r)
			}()
			<-done
			if ci == "true" {
				assert.Contains(t, r.fatal, missing)
				assert.Empty(t, r.skip)
			} else {
				assert.Contains(t, r.skip, "install the chromium package")
				assert.Empty(t, r.fatal)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &fasthttp.Server{IdleTimeout: 50 * time.Millisecond, Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(`<!DOCTYPE html><title>t</title><p id="greeting">hello <b>there</b></p>` +
			`<script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late'; p.textContent = 'late'; document.body.append(p); }, 100)</script>`)
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown())
		require.NoError(t, <-done)
	})

	ctx := NewTab(t, Start(t))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")))

	text, err := Text(ctx, "#greeting")
	require.NoError(t, err)
	assert.Equal(t, "hello there", text)

	// Text waits for an element that appears later...
	text, err = Text(ctx, "#late")
	require.NoError(t, err)
	assert.Equal(t, "late", text)
	// ...and gives up with the context.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = Text(short, "#absent")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, WaitFor(ctx, `document.title === 't'`, time.Second))
	err = WaitFor(ctx, `document.title === 'never'`, 100*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "never")

	path := filepath.Join(t.TempDir(), "sub", "shot.png")
	require.NoError(t, Screenshot(ctx, path))
	png, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "PNG signature")
}
