package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/message"
	"medispatcher/engine/subs"
	"medispatcher/engine/testsrv"
)

// binary is the medispatcher daemon built once for this package's tests:
// they run it as operators do, as a process to signal and kill.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medispatcher-daemon-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "medispatcher")
	out, err := exec.Command("go", "build", "-o", binary, "medispatcher/cmd/medispatcher").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build daemon: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// world is a daemon's surroundings: beanstalkd, Redis, a subscriber, a
// config file and its subscriptions.
type world struct {
	t         *testing.T
	bs        *testsrv.Server
	sub       *testsrv.Subscriber
	cfg       string
	bc        *beanstalk.Conn
	logs      *lockedBuffer
	redisAddr string
	redis     *testsrv.Server
	dir       string
	bs2       *testsrv.Server // second beanstalkd, when asked for
}

func newWorld(t *testing.T, subscriptions ...*subs.Subscription) *world {
	t.Helper()
	return newWorldOn(t, []*testsrv.Server{testsrv.StartBeanstalkd(t)}, subscriptions...)
}

func newWorldOn(t *testing.T, servers []*testsrv.Server, subscriptions ...*subs.Subscription) *world {
	t.Helper()
	w := &world{t: t, bs: servers[0], sub: testsrv.NewSubscriber(t), logs: &lockedBuffer{}}
	addrs := servers[0].Addr
	if len(servers) > 1 {
		w.bs2 = servers[1]
		addrs += "," + servers[1].Addr
	}
	rd := testsrv.StartRedis(t)
	w.redisAddr, w.redis = rd.Addr, rd
	dir := t.TempDir()
	w.dir = dir
	for _, s := range subscriptions {
		s.URL = w.sub.URL + s.URL
	}
	require.NoError(t, subs.WriteFile(filepath.Join(dir, "subscriptions.toml"), subscriptions))
	w.cfg = filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(w.cfg, []byte(fmt.Sprintf(`
QueueServerAddr = %q
NameOfMainQueue = "event_center_messages"
SubscriptionSource = "file:subscriptions.toml"
LOG_DIR = "logs"
ListenAddr = ""
DebugAddr = ""
StatisticApiAddr = ""
PrometheusApiAddr = ""
MaxMessageProcessTime = 2000
DefaultMaxMessageProcessTime = 2000
EnableMsgSentLog = false
LogLevel = "warn"
[Redis]
Addr = %q
`, addrs, rd.Addr)), 0o644))
	var err error
	w.bc, err = beanstalk.Dial("tcp", w.bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.bc.Close() })
	return w
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon is a running medispatcher process.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

func (w *world) start() *daemon {
	w.t.Helper()
	cmd := exec.Command(binary, "-c", w.cfg)
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(w.t, cmd.Start())
	d := &daemon{cmd: cmd, exited: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	w.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.exited
	})
	return d
}

// produce puts n messages of topic into the main tube as a producer does;
// it returns their main-tube job ids.
func (w *world) produce(topic string, n int) []uint64 {
	w.t.Helper()
	tube := beanstalk.NewTube(w.bc, "event_center_messages")
	ids := make([]uint64, 0, n)
	var buf []byte
	for i := 0; i < n; i++ {
		m := message.Message{Topic: []byte(topic), Body: []byte{0x81, 0xa1, 'i', 0xcd, byte(i >> 8), byte(i)}, Time: 1732500000}
		buf = message.AppendMainJob(buf[:0], &m)
		id, err := tube.Put(buf, 1024, 0, time.Minute)
		require.NoError(w.t, err)
		ids = append(ids, id)
	}
	return ids
}

func (w *world) counts(tube string) map[string]int {
	st, err := beanstalk.NewTube(w.bc, tube).Stats()
	out := map[string]int{}
	if err != nil {
		return out
	}
	for _, k := range []string{"current-jobs-ready", "current-jobs-reserved", "current-jobs-delayed", "current-jobs-buried"} {
		out[k], _ = strconv.Atoi(st[k])
	}
	return out
}

func distinct(hits []testsrv.Hit) (map[string]int, int) {
	seen := map[string]int{}
	dups := 0
	for _, h := range hits {
		seen[h.JobID]++
		if seen[h.JobID] > 1 {
			dups++
		}
	}
	return seen, dups
}

func TestKill9UnderLoadThenRestartDeliversEverything(t *testing.T) {
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "k9", URL: "/one", Concurrency: 4, AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "k9", URL: "/two", Concurrency: 4, AlertEnabled: true},
	)
	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 2 * time.Millisecond })
	const n = 600
	d := w.start()
	w.produce("k9", n)
	w.sub.WaitFor(30*time.Second, "some deliveries", func(h []testsrv.Hit) bool { return len(h) >= 100 })
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGKILL))
	<-d.exited
	before := len(w.sub.Hits())
	require.Less(t, before, 2*n, "the kill came under load:\n%s", w.logs)

	d = w.start()
	w.sub.WaitFor(60*time.Second, "every message delivered at least once", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == 2*n
	})
	_, dups := distinct(w.sub.Hits())
	t.Logf("kill -9 after %d pushes: %d messages delivered, %d duplicates (pushed before the kill, delete not yet done)", before, 2*n, dups)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.exited:
		require.NoError(t, d.err, "exit status after SIGTERM:\n%s", w.logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15 s of SIGTERM:\n%s", w.logs)
	}
}

func TestSIGTERMUnderLoadExitsZeroAndLosesNothing(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 5, Topic: "term", URL: "/hook", Concurrency: 2, AlertEnabled: true})
	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 5 * time.Millisecond })
	const n = 800
	d := w.start()
	w.produce("term", n)
	w.sub.WaitFor(30*time.Second, "some deliveries", func(h []testsrv.Hit) bool { return len(h) >= 50 })
	sent := time.Now()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.exited:
		require.NoError(t, d.err, "exit status after SIGTERM:\n%s", w.logs)
	case <-time.After(2*time.Second + 5*time.Second + 3*time.Second):
		t.Fatalf("no exit within max process timeout + 5 s of SIGTERM:\n%s", w.logs)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	seen, dups := distinct(w.sub.Hits())
	require.Zero(t, dups, "a graceful stop pushes nothing twice")
	main, ch := w.counts("event_center_messages"), w.counts("term/sub-queue/5")
	for _, c := range []map[string]int{main, ch} {
		require.Zero(t, c["current-jobs-reserved"]+c["current-jobs-buried"]+c["current-jobs-delayed"], "%v", c)
	}
	require.Less(t, len(seen), n, "the stop came under load")
	require.Equal(t, n, len(seen)+main["current-jobs-ready"]+ch["current-jobs-ready"],
		"every message is delivered or ready in its tube")

	// A restarted daemon delivers the rest.
	d = w.start()
	w.sub.WaitFor(30*time.Second, "the rest delivered", func(h []testsrv.Hit) bool {
		s, _ := distinct(h)
		return len(s) == n
	})
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}

// A producer that could not reach beanstalkd pushed its job onto a recover
// list in Redis: the daemon puts it into the main tube and it is delivered.
func TestRecoverListEntriesAreDelivered(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 3, Topic: "rec", URL: "/hook", AlertEnabled: true})
	d := w.start()
	m := message.Message{Topic: []byte("rec"), Body: []byte{0xa2, 'h', 'i'}, Time: 1732500000}
	job := message.AppendMainJob(nil, &m)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{w.redisAddr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < 3; i++ {
		require.NoError(t, c.Do(context.Background(),
			c.B().Lpush().Key("event_center_message_in_failure_log:web-1").Element(string(job)).Build()).Error())
	}
	hits := w.sub.WaitFor(30*time.Second, "3 recovered messages", func(h []testsrv.Hit) bool { return len(h) == 3 })
	require.Equal(t, `"hi"`, hits[0].Message)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}

// Redis down: pushes go on, a failure record that cannot be written is in
// the DATA log (FAILREC), and recover-list entries pushed after Redis is
// back are delivered.
func TestRedisDownPushesGoOn(t *testing.T) {
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
	d := w.start()
	w.produce("ok", 5)
	w.sub.WaitFor(20*time.Second, "5 pushes with Redis up", func(h []testsrv.Hit) bool { return len(h) >= 5 })

	w.redis.Kill()
	w.produce("ok", 5)
	w.produce("fails", 1)
	w.sub.WaitFor(20*time.Second, "pushes with Redis down", func(h []testsrv.Hit) bool {
		n := 0
		for _, x := range h {
			if x.Path == "/ok" {
				n++
			}
		}
		return n >= 10
	})
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
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}

// One of two beanstalkd servers dies: the other's messages keep flowing;
// the dead one's (kept in its binlog) are delivered once it is back.
func TestOneOfTwoServersDownOthersFlow(t *testing.T) {
	a, b := testsrv.StartBeanstalkd(t, testsrv.WithBinlog()), testsrv.StartBeanstalkd(t, testsrv.WithBinlog())
	w := newWorldOn(t, []*testsrv.Server{a, b}, &subs.Subscription{ID: 1, Topic: "two", URL: "/hook", AlertEnabled: true})
	bcB, err := beanstalk.Dial("tcp", b.Addr)
	require.NoError(t, err)
	putB := func(n int) {
		for i := 0; i < n; i++ {
			m := message.Message{Topic: []byte("two"), Body: []byte{0xa1, 'b'}, Time: 2}
			_, err := beanstalk.NewTube(bcB, "event_center_messages").Put(message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
			require.NoError(t, err)
		}
	}
	// Messages waiting on b before the daemon starts, and b dies at once.
	putB(20)
	_ = bcB.Close()
	b.Kill()
	d := w.start()
	w.produce("two", 50) // to a
	w.sub.WaitFor(30*time.Second, "a's 50 messages while b is down", func(h []testsrv.Hit) bool { return len(h) >= 50 })
	b.Restart(t)
	w.sub.WaitFor(60*time.Second, "b's 20 messages after it returned", func(h []testsrv.Hit) bool { return len(h) >= 70 })
	seen, dups := distinct(w.sub.Hits())
	require.Len(t, seen, 70)
	require.Zero(t, dups)
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}
