package daemon

import (
	"log/slog"
	"net"
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
	"medispatcher/internal/sdnotify"
	"medispatcher/internal/testsrv"
)

// fakeSystemd is the service manager's end of $NOTIFY_SOCKET: a unix
// datagram socket whose datagrams arrive on got, in order.
type fakeSystemd struct {
	path string
	got  chan string
}

func newFakeSystemd(t *testing.T) *fakeSystemd {
	t.Helper()
	// A short directory: a socket's path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "sd")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &fakeSystemd{path: filepath.Join(dir, "notify"), got: make(chan string, 4096)}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.got <- string(buf[:n])
		}
	}()
	return s
}

// waitFor waits up to limit for a datagram holding state ("READY=1") and
// returns it with the datagrams that came before it.
func (s *fakeSystemd) waitFor(t *testing.T, state string, limit time.Duration) (msg string, before []string) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		select {
		case m := <-s.got:
			if holds(m, state) {
				return m, before
			}
			before = append(before, m)
		case <-deadline.C:
			t.Fatalf("no %s within %v; got %q", state, limit, before)
		}
	}
}

// none requires no datagram holding state for d (a bounded wait for
// something that must not come); it returns the datagrams that came.
func (s *fakeSystemd) none(t *testing.T, state string, d time.Duration) (got []string) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case m := <-s.got:
			require.False(t, holds(m, state), "%s came early: %q after %q", state, m, got)
			got = append(got, m)
		case <-deadline.C:
			return got
		}
	}
}

// holds reports whether datagram m assigns state ("READY=1").
func holds(m, state string) bool {
	for _, line := range strings.Split(m, "\n") {
		if line == state {
			return true
		}
	}
	return false
}

// startNotified runs the daemon on cfg under a fake systemd: NOTIFY_SOCKET
// names sd's socket, WATCHDOG_USEC asks for a ping every half of watchdog.
func (w *world) startNotified(cfg string, sd *fakeSystemd, watchdog time.Duration) *daemon {
	w.t.Helper()
	cmd := exec.Command(binary, "-c", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sd.path,
		"WATCHDOG_USEC="+strconv.FormatInt(watchdog.Microseconds(), 10), "WATCHDOG_PID=")
	return w.startCmd(cmd, w.logs)
}

// Under systemd (Type=notify, WatchdogSec=1): READY=1 only once the daemon
// dispatches, which it cannot before its subscriptions file exists;
// WATCHDOG=1 pings while messages flow; RELOADING=1 then READY=1 around a
// SIGHUP; STOPPING=1 on SIGTERM, nothing after it, and exit status 0.
func TestSystemdNotifyReadyWatchdogReloadStopping(t *testing.T) {
	const watchdog = time.Second
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "sd", URL: "/sd", Concurrency: 4, AlertEnabled: true})
	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, time.Millisecond })
	cfg := w.configVariant("notify.toml", map[string]string{"SubscriptionSource": `"file:later.toml"`})
	sd := newFakeSystemd(t)
	d := w.startNotified(cfg, sd, watchdog)

	// The file is missing: the daemon runs, pings even, but is not ready.
	require.Eventually(t, func() bool { return strings.Contains(w.logs.String(), "does not exist") },
		20*time.Second, 10*time.Millisecond, "the daemon reports its missing file:\n%s", w.logs)
	early := sd.none(t, "READY=1", 2*time.Second)
	t.Logf("before the subscriptions file: %q", early)

	// The file appears (renamed into place, as a deployment does).
	require.NoError(t, os.Rename(filepath.Join(w.dir, "subscriptions.toml"), filepath.Join(w.dir, "later.toml")))
	ready, _ := sd.waitFor(t, "READY=1", 15*time.Second)
	assert.Contains(t, ready, "STATUS=dispatching event_center_messages: 1 subscriptions of 1 topics")

	// Pings keep coming while messages flow: counted between two deliveries.
	stop := newProducer(t, w.bs.Addr, 1732500000).paced("sd", 10*time.Millisecond)
	w.sub.WaitFor(10*time.Second, "deliveries under way", func(h []testsrv.Hit) bool { return len(h) >= 10 })
	pings, from := 0, len(w.sub.Hits())
	for pings < 4 {
		_, other := sd.waitFor(t, "WATCHDOG=1", 2*watchdog)
		require.Empty(t, other, "only pings while dispatching")
		pings++
	}
	flowed := len(w.sub.Hits()) - from
	put := stop()
	t.Logf("%d watchdog pings while %d messages were delivered", pings, flowed)
	require.Greater(t, flowed, 20, "messages flowed during the pings")
	w.sub.WaitFor(15*time.Second, "every message delivered", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == put
	})

	// SIGHUP re-reads the file: RELOADING=1 with the monotonic clock, then
	// READY=1.
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
	reloading, _ := sd.waitFor(t, "RELOADING=1", 5*time.Second)
	assert.Contains(t, reloading, "MONOTONIC_USEC=")
	sd.waitFor(t, "READY=1", 5*time.Second)

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	sd.waitFor(t, "STOPPING=1", 10*time.Second)
	select {
	case <-d.exited:
		require.NoError(t, d.err, "exit status after SIGTERM:\n%s", w.logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15 s of SIGTERM:\n%s", w.logs)
	}
	sd.none(t, "WATCHDOG=1", 100*time.Millisecond) // what the socket still held
	_, dups := distinct(w.sub.Hits())
	require.Zero(t, dups)
}

// A ping is withheld while the engine's heartbeat is older than the
// watchdog interval, and before the engine ran at all; it resumes with a
// fresh heartbeat, and nothing follows STOPPING=1.
func TestSystemdWatchdogFollowsHeartbeat(t *testing.T) {
	sd := newFakeSystemd(t)
	logs := &testsrv.LogBuffer{}
	s := &systemd{n: sdnotify.New(sd.path), log: slog.New(slog.NewTextHandler(logs, nil))}
	const interval = time.Second

	s.watchdog(time.Time{}, interval)
	s.watchdog(time.Now().Add(-2*interval), interval)
	sd.none(t, "WATCHDOG=1", 100*time.Millisecond)
	assert.Contains(t, logs.String(), "dispatch loop stalled")

	s.watchdog(time.Now(), interval)
	sd.waitFor(t, "WATCHDOG=1", time.Second)
	assert.Contains(t, logs.String(), "dispatch loop running again")

	s.markReady("up")
	m, _ := sd.waitFor(t, "READY=1", time.Second)
	assert.Equal(t, "READY=1\nSTATUS=up", m)
	s.stop()
	sd.waitFor(t, "STOPPING=1", time.Second)
	s.watchdog(time.Now(), interval)
	s.markReady("again")
	assert.False(t, s.reloading())
	require.Empty(t, sd.none(t, "STOPPING=1", 100*time.Millisecond), "nothing after STOPPING=1")
}
