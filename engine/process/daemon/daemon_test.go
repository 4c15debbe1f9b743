package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
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
	if binary, err = testsrv.BuildBinary(dir, "medispatcher/cmd/medispatcher"); err != nil {
		fmt.Fprintln(os.Stderr, err)
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
	logs      *testsrv.LogBuffer
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
	w := &world{t: t, bs: servers[0], sub: testsrv.NewSubscriber(t), logs: &testsrv.LogBuffer{}}
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

// daemon is a running medispatcher process.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

func (w *world) start() *daemon {
	w.t.Helper()
	return w.startWith(w.cfg, w.logs)
}

// startWith runs a daemon on the config file cfg, its output going to logs
// (a fleet runs several daemons in one world).
func (w *world) startWith(cfg string, logs *testsrv.LogBuffer) *daemon {
	w.t.Helper()
	return w.startCmd(exec.Command(binary, "-c", cfg), logs)
}

// startCmd runs cmd, a daemon's command line (its binary, environment and
// arguments), its output going to logs; the test's end kills it.
func (w *world) startCmd(cmd *exec.Cmd, logs *testsrv.LogBuffer) *daemon {
	w.t.Helper()
	cmd.Stdout, cmd.Stderr = logs, logs
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

// A daemon killed with SIGKILL under load, then restarted, delivers every
// message at least once, on both paths. The duplicates are the messages in
// flight at the kill: with cut-through the main jobs held while their
// copies were pushed, two-hop the channel jobs pushed and not yet deleted.
func TestKill9UnderLoadThenRestartDeliversEverything(t *testing.T) {
	for _, path := range dispatchPaths {
		t.Run(path.name, func(t *testing.T) { kill9UnderLoad(t, path.cutThrough) })
	}
}

func kill9UnderLoad(t *testing.T, cutThrough string) {
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "k9", URL: "/one", Concurrency: 4, AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "k9", URL: "/two", Concurrency: 4, AlertEnabled: true},
	)
	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 2 * time.Millisecond })
	const n = 600
	cfg := w.configVariant("k9.toml", map[string]string{"CutThrough": cutThrough})
	d := w.startWith(cfg, w.logs)
	w.produce("k9", n)
	w.sub.WaitFor(30*time.Second, "some deliveries", func(h []testsrv.Hit) bool { return len(h) >= 100 })
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGKILL))
	<-d.exited
	before := len(w.sub.Hits())
	require.Less(t, before, 2*n, "the kill came under load:\n%s", w.logs)

	d = w.startWith(cfg, w.logs)
	w.sub.WaitFor(60*time.Second, "every message delivered at least once", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == 2*n
	})
	_, dups := distinct(w.sub.Hits())
	t.Logf("CutThrough = %s: kill -9 after %d pushes: %d messages delivered, %d duplicates (pushed before the kill, their main or channel job not yet deleted)", cutThrough, before, 2*n, dups)
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

// newInProcess builds a daemon in the test process (so that the race
// detector sees it) on a variant of the world's config (configVariant);
// it logs at INFO to the buffer returned.
func (w *world) newInProcess(name string, set map[string]string) (*Daemon, *testsrv.LogBuffer, error) {
	w.t.Helper()
	cfg, _, err := config.Load(w.configVariant(name, set))
	require.NoError(w.t, err)
	logs := &testsrv.LogBuffer{}
	d, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	return d, logs, err
}

// TestDaemonLifecycle: New, then Run until Close is called from another
// goroutine, which drains and stops; the start line names what is served
// at the address bound, and only that.
func TestDaemonLifecycle(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "life", URL: "/hook", AlertEnabled: true})
	d, logs, err := w.newInProcess("life.toml", map[string]string{
		"DebugAddr": `"127.0.0.1:0"`, "StatisticApiAddr": `"192.0.2.1:5606"`,
	})
	require.NoError(t, err)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(context.Background()) }()

	w.produce("life", 3)
	w.sub.WaitFor(20*time.Second, "3 pushes", func(h []testsrv.Hit) bool { return len(h) >= 3 })
	started := regexp.MustCompile(`msg="medispatcher started" .*`).FindString(logs.String())
	require.NotEmpty(t, started, logs.String())
	debug := regexp.MustCompile(` debug=(127\.0\.0\.1:\d+) `).FindStringSubmatch(started)
	require.NotNil(t, debug, started)
	assert.NotEqual(t, "127.0.0.1:0", debug[1], "the bound port, not the configured 0")
	status, _ := get(t, "http://"+debug[1]+"/metrics")
	assert.Equal(t, 200, status)
	assert.NotContains(t, started, "statistics=", "a refused address is not served, so not logged")
	assert.NotContains(t, started, "admin=")

	d.Close()
	select {
	case err := <-ran:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return after Close:\n%s", logs)
	}
	assert.Contains(t, logs.String(), `msg="medispatcher stopped"`)
	d.Close() // a second Close does nothing
	assert.Error(t, d.Run(context.Background()), "Run after Close")
	_, err = net.DialTimeout("tcp", debug[1], time.Second)
	assert.Error(t, err, "DebugAddr closed")
}

// TestNewFailsBeforeAnythingRuns: an address that cannot be listened on
// fails New, which closes what it had built (the port it did bind among
// them) and starts nothing.
func TestNewFailsBeforeAnythingRuns(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "nostart", URL: "/hook", AlertEnabled: true})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	prom := freeAddr(t)
	d, logs, err := w.newInProcess("taken.toml", map[string]string{
		"PrometheusApiAddr": `"` + prom + `"`, "StatisticApiAddr": `"` + taken.Addr().String() + `"`,
	})
	require.Error(t, err)
	assert.Nil(t, d)
	assert.Contains(t, err.Error(), "listen on StatisticApiAddr "+taken.Addr().String())
	w.produce("nostart", 1)
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, w.sub.Hits(), "nothing dispatched")
	assert.NotContains(t, logs.String(), "medispatcher started")
	ln, err := net.Listen("tcp", prom)
	require.NoError(t, err, "PrometheusApiAddr, bound before the failure, was closed")
	_ = ln.Close()
}
