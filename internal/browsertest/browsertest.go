// Package browsertest drives a headless Chromium from tests (through
// chromedp) to check pages such as the status page as a user's browser
// renders them.
//
// It is for tests only: it never starts a browser outside a test, and it
// fails (under CI=true) or skips (elsewhere) a test when no Chromium is
// installed, never passes it silently.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvExecPath names the environment variable that overrides the browser
// binary.
const EnvExecPath = "MEDISPATCHER_CHROMIUM"

// DefaultExecPath is where Debian's chromium package installs the browser.
const DefaultExecPath = "/usr/bin/chromium"

// ErrNoBrowser reports that no Chromium binary was found.
var ErrNoBrowser = errors.New("no chromium binary")

// ExecPath returns the browser binary: $MEDISPATCHER_CHROMIUM, else
// /usr/bin/chromium, else chromium or chromium-browser on PATH.
func ExecPath() (string, error) {
	if p := os.Getenv(EnvExecPath); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvExecPath, p, ErrNoBrowser)
		}
		return p, nil
	}
	if _, err := os.Stat(DefaultExecPath); err == nil {
		return DefaultExecPath, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("looked for %s and chromium on PATH: %w", DefaultExecPath, ErrNoBrowser)
}

// Start launches a headless Chromium for the test (headless, no sandbox, as
// root in containers needs, no GPU) and returns the context of its first
// tab. The browser is stopped when the test ends. Without a browser the test
// fails when CI=true and is skipped otherwise.
//
// The returned context has no deadline (a deadline on it would stop the
// browser); derive one per step with context.WithTimeout.
func Start(t testing.TB) context.Context {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser test needs Chromium: %v (install the chromium package or set %s)", err, EnvExecPath)
		}
		t.Skipf("browser test skipped: %v (install the chromium package, e.g. apt-get install chromium, or set %s)", err, EnvExecPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; run it now so that a browser
	// that cannot start fails here, with its cause, and not in a later step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// NewTab opens another tab in the browser of ctx (as returned by Start),
// closed when the test ends. Tabs share cookies but not sessionStorage.
func NewTab(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// Text waits (up to 30 s, or ctx's deadline) until an element matches the
// CSS selector and returns its text content. The lookup and the read are one
// evaluation in the page, so a page that re-renders between them cannot make
// it fail.
func Text(ctx context.Context, selector string) (string, error) {
	v, err := chromedp.Run(ctx, chromedp.PollFunction[struct {
		Text string `json:"text"`
	}](`(sel) => { const e = document.querySelector(sel); return e ? {text: e.textContent} : null; }`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingArgs(selector)))
	if err != nil {
		return "", fmt.Errorf("text of %s: %w", selector, err)
	}
	return v.Text, nil
}

// WaitFor waits until the JavaScript expression is truthy in the page, up to
// timeout, checking it every 20 ms (chromedp.Poll).
func WaitFor(ctx context.Context, expr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		return fmt.Errorf("wait for %s: %w", expr, err)
	}
	return nil
}

// Screenshot saves a PNG of the whole page (beyond the viewport) to path,
// creating its directory.
func Screenshot(ctx context.Context, path string) error {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("screenshot dir for %s: %w", path, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("write screenshot %s: %w", path, err)
	}
	return nil
}
