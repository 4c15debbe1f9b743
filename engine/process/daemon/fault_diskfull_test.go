package daemon

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// mountTiny mounts a tmpfs of 64 KiB on dir (created if needed) until the
// test ends: a disk that fills for real, ENOSPC from the kernel. Mounting
// needs root: without it the test fails under CI and is skipped elsewhere.
func mountTiny(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := "cannot mount a tmpfs to fill (needs root): " + err.Error() + ": " + strings.TrimSpace(string(out))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Registered before the daemon starts, so it runs after the daemon is
	// killed (cleanups run last first) and the mount is no longer busy.
	t.Cleanup(func() {
		if err := exec.Command("umount", dir).Run(); err != nil {
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
}

// fill writes a file into dir until the disk is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for i := 0; ; i++ {
		require.Less(t, i, 1<<10, "a 64 KiB tmpfs must fill up")
		if _, err := f.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling %s: %v", dir, err)
			return name
		}
	}
}

// sentLines counts the SENT lines in the DATA log files of dir.
func sentLines(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "DATA.*.log"))
	n := 0
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			n += bytes.Count(b, []byte(" SENT "))
		}
	}
	return n
}

// The DATA log's disk fills up under the running daemon with a SENT line
// per push: every message is still delivered (once), the lost lines are
// counted in /metrics and reported in the process log, and the log is
// written again once there is room.
func TestDiskFullDaemonKeepsDelivering(t *testing.T) {
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "df", URL: "/a", Concurrency: 4, AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "df", URL: "/b", Concurrency: 4, AlertEnabled: true},
	)
	logDir := filepath.Join(w.dir, "logs")
	mountTiny(t, logDir)
	metricsAddr := freeAddr(t)
	cfg := w.configVariant("diskfull.toml", map[string]string{
		"EnableMsgSentLog":  "true",
		"PrometheusApiAddr": strconv.Quote(metricsAddr),
	})
	d := w.startWith(cfg, w.logs)
	waitMetrics(t, metricsAddr, w.logs)
	delivered := func(n int, what string) {
		t.Helper()
		w.sub.WaitFor(60*time.Second, what, func(h []testsrv.Hit) bool {
			seen, _ := distinct(h)
			return len(seen) == n
		})
	}

	// Room on the disk: SENT lines are written.
	w.produce("df", 20)
	delivered(40, "40 pushes with room on the disk")
	require.Eventually(t, func() bool { return sentLines(logDir) == 40 }, 10*time.Second, 20*time.Millisecond,
		"a SENT line per push in the DATA log:\n%s", w.logs)

	filler := fill(t, logDir)
	const n = 300
	w.produce("df", n)
	delivered(40+2*n, "every push with the disk full")
	_, dups := distinct(w.sub.Hits())
	require.Zero(t, dups, "a full disk makes no message pushed twice")

	var lost float64
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, ok := scrape(metricsAddr, "medispatcher_datalog_lost_lines_total", `reason="write_error"`)
		lost = v
		assert.True(c, ok, "metrics answer")
		assert.Positive(c, v, `medispatcher_datalog_lost_lines_total{reason="write_error"}`)
	}, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, w.logs.String(), "datalog write failed, lines are being lost",
		"the process log tells about the lost DATA-log lines")
	full := sentLines(logDir)
	t.Logf("disk full: %d pushes delivered once each, %.0f DATA-log lines lost (write_error), %d SENT lines on disk",
		2*n, lost, full)

	// Room again: the log is written again (the first lines may still be
	// lost while the writer waits to reopen its file).
	require.NoError(t, os.Remove(filler))
	for i := 0; sentLines(logDir) <= full; i++ {
		require.Less(t, i, 20, "SENT lines written again after the disk has room:\n%s", w.logs)
		w.produce("df", 1)
		delivered(40+2*n+2*(i+1), "a push after the disk has room")
		time.Sleep(500 * time.Millisecond) // the writer's reopen backoff (1 s) has to pass; no signal exists
	}
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}
