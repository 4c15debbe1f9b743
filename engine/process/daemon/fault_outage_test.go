package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// Redis down for the outage (2 s, or 30 s in the long variant): pushes go
// on throughout, a failure record that cannot be written is in the DATA
// log (FAILREC), and recover-list entries pushed after Redis is back are
// delivered.
func TestRedisDownPushesGoOn(t *testing.T) {
	down, _ := outage(t)
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "ok", URL: "/ok", AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "fails", URL: "/fails", AlertEnabled: true},
	)
	w.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if h.Path == "/fails" {
			return 500, "down", 0
		}
		return 200, `{"status":1}`, 0
	})
	onOK := func(h []testsrv.Hit) (n int) {
		for _, x := range h {
			if x.Path == "/ok" {
				n++
			}
		}
		return n
	}
	d := w.start()
	w.produce("ok", 5)
	w.sub.WaitFor(20*time.Second, "5 pushes with Redis up", func(h []testsrv.Hit) bool { return len(h) >= 5 })

	w.redis.Kill()
	killed := time.Now()
	w.produce("ok", 5)
	w.produce("fails", 1)
	sent := 10
	w.sub.WaitFor(20*time.Second, "pushes with Redis down", func(h []testsrv.Hit) bool { return onOK(h) >= sent })
	// The failure record of /fails could not reach Redis: it is in the DATA log.
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(w.dir, "logs", "DATA.*.log"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(" FAILREC ")) {
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "a FAILREC line in the DATA log:\n%s", w.logs)

	// Traffic for the rest of the outage, every message delivered before
	// Redis comes back.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for time.Since(killed) < down {
		<-tick.C
		w.produce("ok", 1)
		sent++
	}
	w.sub.WaitFor(20*time.Second, "every push while Redis is down", func(h []testsrv.Hit) bool { return onOK(h) >= sent })
	t.Logf("Redis down for %v: %d messages delivered meanwhile", time.Since(killed).Round(time.Millisecond), sent-5)

	w.redis.Restart(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{w.redisAddr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	m := message.Message{Topic: []byte("ok"), Body: []byte{0xa3, 'r', 'e', 'c'}, Time: 1}
	require.NoError(t, c.Do(context.Background(),
		c.B().Lpush().Key("event_center_message_in_failure_log:x").Element(string(message.AppendMainJob(nil, &m))).Build()).Error())
	w.sub.WaitFor(30*time.Second, "the recover-list entry after Redis came back", func(h []testsrv.Hit) bool {
		for _, x := range h {
			if x.Message == `"rec"` {
				return true
			}
		}
		return false
	})
	var ok []testsrv.Hit
	for _, h := range w.sub.Hits() {
		if h.Path == "/ok" {
			ok = append(ok, h)
		}
	}
	seen, dups := distinct(ok)
	require.Len(t, seen, sent+1)
	require.Zero(t, dups)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}

// One of two beanstalkd servers is down: the other's messages keep flowing
// at their normal rate, the dead one's (kept in its binlog) are delivered
// once it is back, none twice. Two outages: b is down when the daemon
// starts (a few seconds), then dies under traffic for the outage (2 s, or
// 30 s in the long variant). The delivered rate of a's messages is measured
// before and during the second outage; the long variant requires it within
// 2× of normal, the short one only logs it (2 s are too short a window).
func TestOneOfTwoServersDownOthersFlow(t *testing.T) {
	down, full := outage(t)
	window := 2 * time.Second // of the normal rate
	if full {
		window = 10 * time.Second
	}
	a, b := testsrv.StartBeanstalkd(t, testsrv.WithBinlog()), testsrv.StartBeanstalkd(t, testsrv.WithBinlog())
	w := newWorldOn(t, []*testsrv.Server{a, b}, &subs.Subscription{ID: 1, Topic: "two", URL: "/hook", AlertEnabled: true})
	// b's jobids start with its producer's time.
	pa, pb := newProducer(t, a.Addr, 1732500000), newProducer(t, b.Addr, 2)
	ofA := func(h testsrv.Hit) bool { return !strings.HasPrefix(h.JobID, "2.000000-") }

	// Messages waiting on b before the daemon starts, and b dies at once.
	for i := 0; i < 20; i++ {
		pb.put("two", i, 0)
	}
	b.Kill()
	d := w.start()
	for i := 0; i < 50; i++ {
		pa.put("two", i, 0)
	}
	w.sub.WaitFor(30*time.Second, "a's 50 messages while b is down", func(h []testsrv.Hit) bool { return len(h) >= 50 })
	b.Restart(t)
	w.sub.WaitFor(60*time.Second, "b's 20 messages after it returned", func(h []testsrv.Hit) bool { return len(h) >= 70 })

	// Steady traffic on a: its normal delivered rate, then b dies under it.
	stopA := pa.paced("two", 10*time.Millisecond)
	w.sub.WaitFor(10*time.Second, "a's steady traffic", func(h []testsrv.Hit) bool { return len(h) >= 80 })
	from := time.Now()
	<-time.After(window)
	normal := rate(w.sub.Hits(), from, time.Now(), ofA)

	// b's messages of this outage are delayed, so that none is in flight
	// (pushed, not yet deleted) when b dies: they wait in its binlog.
	pb = newProducer(t, b.Addr, 2)
	for i := 0; i < 20; i++ {
		pb.put("two", i, 3*time.Second)
	}
	b.Kill()
	killed := time.Now()
	<-time.After(down)
	during := rate(w.sub.Hits(), killed, time.Now(), ofA)
	b.Restart(t)
	nA := stopA()

	total := 50 + 20 + nA + 20
	w.sub.WaitFor(60*time.Second, "every message of a and b", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == total
	})
	seen, dups := distinct(w.sub.Hits())
	require.Len(t, seen, total)
	require.Zero(t, dups)
	ratio := during / normal
	t.Logf("a's delivered rate: %.1f/s normal, %.1f/s while b was down for %v: ratio %.2f; %d messages in all, none twice",
		normal, during, down, ratio, total)
	if full {
		require.Positive(t, normal)
		require.True(t, ratio >= 0.5 && ratio <= 2, "a's rate while b is down (%.1f/s) within 2× of normal (%.1f/s)", during, normal)
	}
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}
