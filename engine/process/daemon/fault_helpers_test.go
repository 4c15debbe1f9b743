package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/testsrv"
)

// longEnv selects the full-length variants of the fault tests (outages of
// 30 s, a subscriber failing for 60 s). Without it the same tests run with
// faults of a few seconds, so that `go test ./engine/process/daemon/` stays short.
const longEnv = "MEDISPATCHER_LONG"

// long reports whether the full-length variant runs, and says which one
// did in the test log: a short run must never pass for a long one.
func long(t *testing.T, short, full string) bool {
	t.Helper()
	if os.Getenv(longEnv) == "1" {
		t.Logf("long variant (%s=1): %s", longEnv, full)
		return true
	}
	t.Logf("short variant (set %s=1 for the long one): %s", longEnv, short)
	return false
}

// outage is how long a server stays down in the outage tests: 30 s in the
// long variant (the figure), 2 s otherwise; full says which.
func outage(t *testing.T) (d time.Duration, full bool) {
	t.Helper()
	if long(t, "outage of 2 s", "outage of 30 s") {
		return 30 * time.Second, true
	}
	return 2 * time.Second, false
}

// configVariant writes a copy of the world's config file next to it, named
// name, with the top-level keys of set replaced (or added); values are TOML
// literals (`"logs-b"`, `true`, `1`). It returns the new file's path.
func (w *world) configVariant(name string, set map[string]string) string {
	w.t.Helper()
	b, err := os.ReadFile(w.cfg)
	require.NoError(w.t, err)
	done := map[string]bool{}
	var out []string
	top := true
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "[") && top {
			top = false
			keys := make([]string, 0, len(set))
			for k := range set {
				if !done[k] {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				out = append(out, k+" = "+set[k])
			}
		}
		if k, _, ok := strings.Cut(line, "="); ok && top {
			k = strings.TrimSpace(k)
			if v, ok := set[k]; ok {
				line, done[k] = k+" = "+v, true
			}
		}
		out = append(out, line)
	}
	path := filepath.Join(w.dir, name)
	require.NoError(w.t, os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644))
	return path
}

// freeAddr returns a free loopback address for a daemon's endpoint.
func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := testsrv.FreePort()
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// scrape sums the series of metric name on a daemon's /metrics whose labels
// contain every one of labels (`result="ok"`); ok is false when the
// endpoint does not answer.
func scrape(addr, name string, labels ...string) (sum float64, ok bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err() == nil
}

// waitMetrics waits until a daemon's /metrics answers: its endpoint is up
// once the engine is built, the moment the daemon starts reserving. Only
// the port tells, so it is polled.
func waitMetrics(t *testing.T, addr string, logs *testsrv.LogBuffer) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, ok := scrape(addr, "medispatcher_redistributed_total")
		return ok
	}, 20*time.Second, 20*time.Millisecond, "metrics on %s:\n%s", addr, logs)
}

// producer puts main-tube jobs into one beanstalkd server as a producer
// does. Beanstalkd job ids repeat across servers, and the jobid a
// subscriber sees is "<time>-<job id>-<sub>": each server's producer uses a
// time of its own so that jobids stay distinct.
type producer struct {
	t     *testing.T
	conn  *beanstalk.Conn
	tube  *beanstalk.Tube
	stamp float64
	buf   []byte
}

func newProducer(t *testing.T, addr string, stamp float64) *producer {
	t.Helper()
	c, err := beanstalk.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &producer{t: t, conn: c, tube: beanstalk.NewTube(c, "event_center_messages"), stamp: stamp}
}

// put puts one message of topic, delayed by delay; only the test goroutine
// may call it (it fails the test on error), see try for others.
func (p *producer) put(topic string, i int, delay time.Duration) uint64 {
	p.t.Helper()
	id, err := p.try(topic, i, delay)
	require.NoError(p.t, err)
	return id
}

func (p *producer) try(topic string, i int, delay time.Duration) (uint64, error) {
	m := message.Message{Topic: []byte(topic), Body: []byte{0x81, 0xa1, 'i', 0xcd, byte(i >> 8), byte(i)}, Time: p.stamp}
	p.buf = message.AppendMainJob(p.buf[:0], &m)
	id, err := p.tube.Put(p.buf, 1024, delay, time.Minute)
	if err != nil {
		return 0, fmt.Errorf("put %s to main tube: %w", topic, err)
	}
	return id, nil
}

// paced puts one message of topic every gap until stop is called, from a
// goroutine of its own; stop returns how many it put. A put error ends it
// and fails the test from stop.
func (p *producer) paced(topic string, gap time.Duration) (stop func() int) {
	quit, done := make(chan struct{}), make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			if _, err = p.try(topic, n, 0); err != nil {
				return
			}
			n++
		}
	}()
	var once sync.Once
	return func() int {
		p.t.Helper()
		once.Do(func() { close(quit); <-done })
		require.NoError(p.t, err)
		return n
	}
}

// rate is the pushes per second among hits, received in [from, to), that
// match keep.
func rate(hits []testsrv.Hit, from, to time.Time, keep func(testsrv.Hit) bool) float64 {
	n := 0
	for _, h := range hits {
		if !h.At.Before(from) && h.At.Before(to) && keep(h) {
			n++
		}
	}
	return float64(n) / to.Sub(from).Seconds()
}

// tubesIdle reports whether no tube of the server at addr holds a job
// (ready, reserved, delayed or buried), wake tubes aside; what says which
// tube does not.
func tubesIdle(addr string) (idle bool, what string) {
	what = tubeHolding(addr, "current-jobs-ready", "current-jobs-reserved", "current-jobs-delayed", "current-jobs-buried")
	return what == "", what
}

// tubeHolding names a tube of the server at addr (wake tubes aside) whose
// stats-tube count of one of states ("current-jobs-reserved", …) is not
// zero, or returns "" when there is none.
func tubeHolding(addr string, states ...string) string {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	tubes, err := c.ListTubes()
	if err != nil {
		return err.Error()
	}
	for _, name := range tubes {
		if strings.HasPrefix(name, "medispatcher-wake") {
			continue
		}
		st, err := beanstalk.NewTube(c, name).Stats()
		if err != nil {
			continue // gone meanwhile
		}
		for _, k := range states {
			if st[k] != "0" {
				return fmt.Sprintf("%s on %s: %s=%s", name, addr, k, st[k])
			}
		}
	}
	return ""
}
