package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
)

// untouched asserts, for the whole of d, that the main tube keeps its n
// ready jobs and the subscriber gets nothing: the daemon reserves nothing.
// Nothing happening has no signal to wait for: the test watches a window.
func (w *world) untouched(d time.Duration, n int) {
	w.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		c := w.counts("event_center_messages")
		require.Equal(w.t, n, c["current-jobs-ready"], "main tube: %v\n%s", c, w.logs)
		require.Zero(w.t, c["current-jobs-reserved"]+c["current-jobs-delayed"]+c["current-jobs-buried"], "%v", c)
		require.Empty(w.t, w.sub.Hits())
		time.Sleep(100 * time.Millisecond)
	}
}

// A typo in SubscriptionSource (a file that does not exist) is not an
// empty set: the main tube stays untouched, the daemon says why at ERROR
// and in /metrics, and once the file appears everything is delivered.
func TestTypoedSubscriptionFileLeavesMainTube(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "ty", URL: "/a", AlertEnabled: true})
	metricsAddr := freeAddr(t)
	cfg := w.configVariant("typo.toml", map[string]string{
		"SubscriptionSource": `"file:subscriptionz.toml"`,
		"PrometheusApiAddr":  strconv.Quote(metricsAddr),
	})
	w.produce("ty", 5)
	d := w.start2(cfg)
	waitMetrics(t, metricsAddr, w.logs)
	paused, _ := scrape(metricsAddr, "medispatcher_main_tube_paused")
	require.Equal(t, 1.0, paused, "medispatcher_main_tube_paused")
	w.untouched(10*time.Second, 5)
	require.Contains(t, w.logs.String(), "subscriptionz.toml does not exist", "the ERROR names the file")
	require.Contains(t, w.logs.String(), "level=ERROR")

	require.NoError(t, os.Rename(filepath.Join(w.dir, "subscriptions.toml"), filepath.Join(w.dir, "subscriptionz.toml")))
	w.sub.WaitFor(20*time.Second, "the 5 waiting messages", func(h []testsrv.Hit) bool { return len(h) == 5 })
	require.Eventually(t, func() bool {
		v, _ := scrape(metricsAddr, "medispatcher_main_tube_paused")
		return v == 0
	}, 10*time.Second, 20*time.Millisecond)
	w.stop(d)
}

// An empty Redis hash (a wrong KeyPrefix, a flushed database) deletes
// nothing either; the first subscription written starts dispatching.
func TestEmptyRedisHashLeavesMainTube(t *testing.T) {
	w := newWorld(t)
	cfg := w.configVariant("redis.toml", map[string]string{"SubscriptionSource": `"redis"`})
	w.produce("rh", 5)
	d := w.start2(cfg)
	require.Eventually(t, func() bool {
		return bytes.Contains([]byte(w.logs.String()), []byte("is empty or missing"))
	}, 20*time.Second, 20*time.Millisecond, "the daemon names the empty hash:\n%s", w.logs)
	w.untouched(3*time.Second, 5)

	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{w.redisAddr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	s := &subs.Subscription{ID: 4, Topic: "rh", URL: w.sub.URL + "/r", AlertEnabled: true}
	require.NoError(t, subs.RedisPut(context.Background(), c, "", s))
	w.sub.WaitFor(20*time.Second, "the 5 waiting messages", func(h []testsrv.Hit) bool { return len(h) == 5 })
	w.stop(d)
}

// The DATA log's disk is full while the lines that are a message's only
// copy are being written: REDISTFAIL (beanstalkd refuses every channel put
// while draining) and DECODERR (malformed jobs). No job is deleted before
// its line is on disk: while the disk is full every message stays in the
// main tube; once there is room each has exactly one line on disk and the
// tube is empty. Every message is counted in one of the two places. The
// channel puts are the two-hop path's (CutThrough = false): with
// cut-through the good messages need no put and are pushed.
func TestDiskFullOnlyCopyLinesKeepJobs(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "oc", URL: "/a", AlertEnabled: true})
	logDir := filepath.Join(w.dir, "logs")
	mountTiny(t, logDir)
	filler := fill(t, logDir)
	metricsAddr := freeAddr(t)
	cfg := w.configVariant("onlycopy.toml", map[string]string{"PrometheusApiAddr": strconv.Quote(metricsAddr), "CutThrough": "false"})

	const good, bad = 40, 40
	w.produce("oc", good)
	malformed := map[string]bool{}
	mainTube := beanstalk.NewTube(w.bc, "event_center_messages")
	for i := 0; i < bad; i++ {
		job := []byte("not msgpack #" + strconv.Itoa(i))
		malformed[string(job)] = true
		_, err := mainTube.Put(job, 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	w.bs.Drain() // from now on every put (the channel puts) is refused
	d := w.start2(cfg)
	waitMetrics(t, metricsAddr, w.logs)
	require.Eventually(t, func() bool {
		v, _ := scrape(metricsAddr, "medispatcher_jobs_kept_total")
		return v >= good+bad
	}, 30*time.Second, 20*time.Millisecond, "every job kept once:\n%s", w.logs)
	c := w.counts("event_center_messages")
	require.Equal(t, good+bad, c["current-jobs-ready"]+c["current-jobs-delayed"]+c["current-jobs-reserved"],
		"disk full: every message is still in the main tube: %v\n%s", c, w.logs)
	require.Empty(t, w.sub.Hits())

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool {
		c := w.counts("event_center_messages")
		return c["current-jobs-ready"]+c["current-jobs-delayed"]+c["current-jobs-reserved"]+c["current-jobs-buried"] == 0
	}, 60*time.Second, 50*time.Millisecond, "the kept jobs are logged and deleted once there is room:\n%s", w.logs)
	kept, _ := scrape(metricsAddr, "medispatcher_jobs_kept_total")
	w.stop(d)

	// Read the lines back: one per message.
	redist, decodeErr := map[int]int{}, map[string]int{}
	files, err := filepath.Glob(filepath.Join(logDir, "DATA.*.log"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			e, err := datalog.ParseLine(line)
			require.NoError(t, err, "line %q", line)
			switch e.Category {
			case datalog.RedistFail:
				var m message.Message
				require.NoError(t, message.Decode(e.Raw, &m))
				redist[int(m.Body[4])<<8|int(m.Body[5])]++
			case datalog.DecodeErr:
				require.True(t, malformed[string(e.Raw)], "DECODERR of a job that was put")
				decodeErr[string(e.Raw)]++
			}
		}
	}
	assert.Len(t, redist, good, "a REDISTFAIL line per good message")
	assert.Len(t, decodeErr, bad, "a DECODERR line per malformed job")
	for i, n := range redist {
		assert.Equal(t, 1, n, "message %d logged once", i)
	}
	for _, n := range decodeErr {
		assert.Equal(t, 1, n, "malformed job logged once")
	}
	t.Logf("disk full: %d messages kept in the main tube (%.0f keeps), then %d REDISTFAIL + %d DECODERR lines on disk, main tube empty",
		good+bad, kept, len(redist), len(decodeErr))
}

// start2 starts a daemon on cfg with the world's log buffer.
func (w *world) start2(cfg string) *daemon {
	w.t.Helper()
	return w.startWith(cfg, w.logs)
}

// stop sends SIGTERM and requires a clean exit.
func (w *world) stop(d *daemon) {
	w.t.Helper()
	w.stopWithin(d, 20*time.Second)
}
