package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"medispatcher/internal/datalog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

const mainTube = "event_center_messages"

type hit = testsrv.Hit

// staticSource is an in-memory subscription source driven by the test.
type staticSource struct {
	sets chan *subs.Set
}

func newStaticSource() *staticSource { return &staticSource{sets: make(chan *subs.Set, 16)} }

func (s *staticSource) Run(ctx context.Context, apply func(*subs.Set)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case set := <-s.sets:
			apply(set)
		}
	}
}

func (s *staticSource) set(t *testing.T, list ...*subs.Subscription) {
	t.Helper()
	for _, sub := range list {
		require.NoError(t, sub.Validate(subs.Limits{MaxConcurrency: 64, MaxRetryConcurrency: 64, MaxTimeoutMS: 30000, ChannelPrefix: "sub-queue/"}))
	}
	s.sets <- subs.NewSet(list)
}

// recordingLog is the engine's DataLog: a real DATA log (w, in a test's
// temporary directory; nil: memory only) and, for assertions, the events
// it confirmed. An event is recorded only when the real line was durable,
// as the engine sees it.
type recordingLog struct {
	w *datalog.Writer
	// fail makes every durable line fail as a full disk would.
	fail   atomic.Bool
	mu     sync.Mutex
	events []string
	raws   map[string]int // raw bodies of confirmed DECODERR lines
}

func (l *recordingLog) add(err error, s string) error {
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
	return nil
}

func (l *recordingLog) failing() error {
	if l.fail.Load() {
		return fmt.Errorf("%w: test: disk full", datalog.ErrNotDurable)
	}
	return nil
}

func (l *recordingLog) DecodeErr(raw []byte, reason string) error {
	if err := l.failing(); err != nil {
		return err
	}
	if err := l.w.DecodeErr(raw, reason); err != nil {
		return err
	}
	l.mu.Lock()
	if l.raws == nil {
		l.raws = map[string]int{}
	}
	l.raws[string(raw)]++
	l.mu.Unlock()
	return l.add(nil, "DECODERR "+reason)
}
func (l *recordingLog) DecodeErrKept(raw []byte, reason string) error {
	return l.add(l.w.DecodeErrKept(raw, reason), "DECODERR(kept) "+reason)
}
func (l *recordingLog) RedistFail(topic string, subID int64, job []byte, reason string) error {
	if err := l.failing(); err != nil {
		return err
	}
	return l.add(l.w.RedistFail(topic, subID, job, reason), fmt.Sprintf("REDISTFAIL %s %d", topic, subID))
}
func (l *recordingLog) DelFail(server, tube string, id uint64, reason string) error {
	return l.add(l.w.DelFail(server, tube, id, reason), fmt.Sprintf("DELFAIL %d", id))
}
func (l *recordingLog) Sent(resent bool, topic []byte, subID int64, ok bool, code int, elapsed time.Duration, url string, body []byte) error {
	cat := "SENT"
	if resent {
		cat = "RESENT"
	}
	return l.add(l.w.Sent(resent, topic, subID, ok, code, elapsed, url, body), fmt.Sprintf("%s %s %d %v %s", cat, topic, subID, ok, body))
}
func (l *recordingLog) Drop(topic string, subID int64, job []byte, reason string) error {
	if err := l.failing(); err != nil {
		return err
	}
	return l.add(l.w.Drop(topic, subID, job, reason), fmt.Sprintf("DROP %s %d", topic, subID))
}

// decodeErrRaws returns how many DECODERR lines each raw body got.
func (l *recordingLog) decodeErrRaws() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.raws)
}

func (l *recordingLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if len(e) >= len(prefix) && e[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

// Rigs run with CutThrough, the daemon's default, unless DISPATCH_TWO_HOP
// is set: `make test` runs the package both ways. twoHop pins one test to
// the two-hop path.
func twoHop(t *testing.T) { t.Setenv("DISPATCH_TWO_HOP", "1") }

// cutThrough reports whether rigs made now run with CutThrough.
func cutThrough() bool { return os.Getenv("DISPATCH_TWO_HOP") == "" }

// rig is one engine under test with its real beanstalkd.
type rig struct {
	t    *testing.T
	bs   *testsrv.Server
	pool *connpool.Pool
	src  *staticSource
	data *recordingLog
	// dataDir holds the DATA log files of data.w.
	dataDir string
	eng     *Engine
	cancel  context.CancelFunc
	done    chan error
	bc      *beanstalk.Conn
	// handoffBase holds the direct and spilled counts at baseHandoffs, by
	// subscription id (cut-through tests).
	handoffBase map[int64][2]uint64
	// breakerBase holds the breaker transition counts at baseTransitions,
	// by subscription id (the counters outlive a rig within a process).
	breakerBase map[int64][4]uint64
}

func newRig(t *testing.T, opts Options, first ...*subs.Subscription) *rig {
	t.Helper()
	return newRigOn(t, testsrv.StartBeanstalkd(t), opts, nil, first...)
}

// recordsTo returns a failure store that hands every record to f (no Redis).
func recordsTo(f func(*failures.Record)) *failures.Store {
	return failures.New(nil, failures.Config{Fallback: func(rec *failures.Record, _ error) { f(rec) }})
}

func newRigOn(t *testing.T, bs *testsrv.Server, opts Options, store *failures.Store, first ...*subs.Subscription) *rig {
	t.Helper()
	return newRigWith(t, bs, opts, store, nil, first...)
}

func newRigWith(t *testing.T, bs *testsrv.Server, opts Options, store *failures.Store, obs Observer, first ...*subs.Subscription) *rig {
	t.Helper()
	ctx := context.Background()
	// The default OpTimeout: a shorter one drops links of a loaded machine
	// (the jobs reserved on them come back: duplicates a test counts).
	pool, err := connpool.New(ctx, connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	if opts.MainTube == "" {
		opts.MainTube = mainTube
	}
	if cutThrough() {
		opts.CutThrough = true
	}
	if opts.RetryCoe == 0 {
		opts.RetryCoe = 50 * time.Millisecond
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	dataDir := t.TempDir()
	w, err := datalog.Open(datalog.Config{Dir: dataDir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Close(context.Background())) }) // after r.stop
	r := &rig{t: t, bs: bs, pool: pool, src: newStaticSource(), data: &recordingLog{w: w}, dataDir: dataDir, done: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if store == nil {
		store = recordsTo(func(*failures.Record) {})
	}
	r.eng, err = New(opts, Deps{
		Pool: pool, Push: push.NewClient(push.Config{}), Source: r.src, Data: r.data, Log: log, Failures: store,
		Observer: obs,
	})
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() { r.done <- r.eng.Run(rctx) }()
	t.Cleanup(r.stop)
	r.src.set(t, first...)
	select {
	case <-r.eng.Applied():
	case <-time.After(5 * time.Second):
		t.Fatal("engine did not apply the first subscription set")
	}
	r.bc, err = beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.bc.Close() })
	return r
}

// stop ends the engine gracefully and returns Run's error.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		require.NoError(r.t, err)
	case <-time.After(20 * time.Second):
		r.t.Fatal("engine did not stop within 20 s")
	}
}

// produce puts a main-tube job as an old producer would.
func (r *rig) produce(topic string, body []byte, ctxHeader string) uint64 {
	r.t.Helper()
	m := message.Message{Topic: []byte(topic), Body: body, Sender: []byte("test"), Time: 1732500000.123456,
		Context: []byte(ctxHeader)}
	job := message.AppendMainJob(nil, &m)
	tube := beanstalk.NewTube(r.bc, mainTube)
	id, err := tube.Put(job, 1024, 0, 60*time.Second)
	require.NoError(r.t, err)
	return id
}

// tubeCounts returns ready, delayed, reserved and buried counts of a tube
// (zeros when it does not exist).
func (r *rig) tubeCounts(name string) (ready, delayed, reserved, buried int) {
	r.t.Helper()
	st, err := beanstalk.NewTube(r.bc, name).Stats()
	if err != nil {
		return 0, 0, 0, 0
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(st[k]); return n }
	return atoi("current-jobs-ready"), atoi("current-jobs-delayed"), atoi("current-jobs-reserved"), atoi("current-jobs-buried")
}

// msgpackMap encodes a small string→int map body.
func msgpackBody(kv ...any) []byte {
	b := []byte{0x80 | byte(len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		b = append(b, 0xa0|byte(len(k)))
		b = append(b, k...)
		switch v := kv[i+1].(type) {
		case int:
			b = append(b, 0xd3, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		case string:
			b = append(b, 0xd9, byte(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

func sub(id int64, topic, url string) *subs.Subscription {
	return &subs.Subscription{ID: id, Topic: topic, SubscriberID: 1, URL: url, AlertEnabled: true}
}
