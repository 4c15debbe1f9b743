package datalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Errors returned by the line helpers when a line does not reach the queue.
var (
	// ErrQueueFull: the queue stayed full (for important categories, for
	// Config.ImportantWait); the line was dropped and counted.
	ErrQueueFull = errors.New("datalog queue full")
	// ErrClosed: the Writer is closed; the line was dropped and counted.
	ErrClosed = errors.New("datalog closed")
	// ErrConfig wraps every invalid Config.
	ErrConfig = errors.New("invalid datalog config")
	// ErrNotDurable: a durable line was queued but its write or fsync
	// failed, or it was not confirmed within Config.DurableWait; the caller
	// must keep the message another way (the line may still appear later,
	// so keeping it can mean a duplicate, never a loss).
	ErrNotDurable = errors.New("datalog line not durable")
)

// Fsync policies (Config.Fsync).
const (
	FsyncNever    = "never"
	FsyncInterval = "interval"
	FsyncAlways   = "always"
)

// Defaults of Config.
const (
	DefaultBuffer        = 65536
	DefaultBufferBytes   = 64 << 20
	DefaultImportantWait = time.Second
	DefaultDurableWait   = 10 * time.Second
	DefaultPrefix        = "DATA"
)

// Config configures a Writer. Zero values take the defaults.
type Config struct {
	// Dir receives the files; created when missing.
	Dir string
	// Prefix starts every file name; default "DATA".
	Prefix string
	// Split: one file per local day, <Prefix>.2026-11-25.log (the old
	// SplitLog = true); false: one file per category, <Prefix>.<CATEGORY>.log.
	Split bool
	// Buffer is the queue length in lines; default 65536.
	Buffer int
	// BufferBytes bounds the bytes of the queued lines (a line can carry a
	// whole job); default 64 MiB. A line that does not fit counts as a full
	// queue.
	BufferBytes int
	// Fsync is "never", "interval" (every second, default) or "always".
	Fsync string
	// ImportantWait bounds how long a line of an important category waits
	// for room in a full queue; default 1 s.
	ImportantWait time.Duration
	// DurableWait bounds how long a durable line's caller waits for its
	// write (and fsync) once queued; default 10 s.
	DurableWait time.Duration
	// Logger receives write failures (rate-limited); default slog.Default().
	Logger *slog.Logger
	// Now is the clock of line timestamps and day files; default time.Now.
	Now func() time.Time

	// wrap, when set, puts a writer between the background goroutine and
	// each file it opens, so tests can make writes fail.
	wrap func(f *os.File) io.Writer
}

func (c *Config) withDefaults() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: empty Dir", ErrConfig)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	switch {
	case c.Buffer == 0:
		c.Buffer = DefaultBuffer
	case c.Buffer < 0:
		return fmt.Errorf("%w: Buffer %d", ErrConfig, c.Buffer)
	}
	switch c.Fsync {
	case "":
		c.Fsync = FsyncInterval
	case FsyncNever, FsyncInterval, FsyncAlways:
	default:
		return fmt.Errorf("%w: Fsync %q (want never, interval or always)", ErrConfig, c.Fsync)
	}
	switch {
	case c.BufferBytes == 0:
		c.BufferBytes = DefaultBufferBytes
	case c.BufferBytes < 0:
		return fmt.Errorf("%w: BufferBytes %d", ErrConfig, c.BufferBytes)
	}
	switch {
	case c.DurableWait == 0:
		c.DurableWait = DefaultDurableWait
	case c.DurableWait < 0:
		return fmt.Errorf("%w: DurableWait %v", ErrConfig, c.DurableWait)
	}
	switch {
	case c.ImportantWait == 0:
		c.ImportantWait = DefaultImportantWait
	case c.ImportantWait < 0:
		return fmt.Errorf("%w: ImportantWait %v", ErrConfig, c.ImportantWait)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Stats counts the lines of one Writer since Open.
type Stats struct {
	Lines          uint64 // offered by callers
	Written        uint64 // written to a file (not necessarily fsynced)
	Durable        uint64 // durable lines confirmed to their callers
	NotDurable     uint64 // durable lines whose callers were told ErrNotDurable
	LostQueueFull  uint64 // dropped: queue full
	LostWriteError uint64 // dropped: open or write failed
	LostClosed     uint64 // dropped: offered after Close, or Close gave up
}

// Writer writes DATA log lines. Its methods are safe for concurrent use, and
// a nil *Writer accepts and ignores every line.
type Writer struct {
	cfg     Config
	discard bool

	// mu orders senders against Close: senders hold it shared while they
	// may send, Close takes it exclusively to close the queue.
	mu     sync.RWMutex
	closed bool
	queue  chan *line

	// queuedBytes is the size of the lines in the queue; room is closed
	// (and replaced) by the background goroutine after each batch while
	// roomWaiters > 0, waking callers waiting for bytes to drain.
	queuedBytes atomic.Int64
	roomWaiters atomic.Int32
	room        atomic.Pointer[chan struct{}]

	stamp    atomic.Pointer[stamp] // the last second formatted
	done     chan struct{}
	abort    atomic.Bool // Close's context expired: stop writing
	closeErr error       // set by the background goroutine before done

	lines, written, durable, notDurable atomic.Uint64
	lostFull, lostWrite, lostAfterStop  atomic.Uint64
}

// line is one formatted line on its way to a file.
type line struct {
	b         []byte
	cat       Category
	day       int32
	important bool
	// ack, when not nil, receives the outcome once the line is written and
	// (unless Fsync is "never") fsynced: the caller waits for it.
	ack chan error
}

// ackPool recycles the channels durable callers wait on. A channel whose
// caller gave up waiting is not returned (its answer may still come).
var ackPool = sync.Pool{New: func() any { return make(chan error, 1) }}

// maxPooled keeps giant lines (big jobs) from pinning memory in the pool.
const maxPooled = 64 << 10

var linePool = sync.Pool{New: func() any { return &line{b: make([]byte, 0, 512)} }}

func putLine(l *line) {
	l.ack = nil
	if cap(l.b) > maxPooled {
		return
	}
	l.b = l.b[:0]
	linePool.Put(l)
}

// Open creates cfg.Dir if needed and starts the background writer.
func Open(cfg Config) (*Writer, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create datalog dir %s: %w", cfg.Dir, err)
	}
	// Fail at start, not at the first lost message, when Dir is unusable.
	probe, err := os.CreateTemp(cfg.Dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("write to datalog dir %s: %w", cfg.Dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	w := &Writer{
		cfg:   cfg,
		queue: make(chan *line, cfg.Buffer),
		done:  make(chan struct{}),
	}
	room := make(chan struct{})
	w.room.Store(&room)
	go w.run(newFiles(w))
	return w, nil
}

// Discard returns a Writer that writes nothing and only counts the lines
// offered (Stats().Lines), for tests and benchmarks of callers.
func Discard() *Writer {
	return &Writer{discard: true, closed: true}
}

// Stats returns the counters of w.
func (w *Writer) Stats() Stats {
	if w == nil {
		return Stats{}
	}
	return Stats{
		Lines:          w.lines.Load(),
		Written:        w.written.Load(),
		Durable:        w.durable.Load(),
		NotDurable:     w.notDurable.Load(),
		LostQueueFull:  w.lostFull.Load(),
		LostWriteError: w.lostWrite.Load(),
		LostClosed:     w.lostAfterStop.Load(),
	}
}

// Dropped returns how many lines were lost for any reason.
func (w *Writer) Dropped() uint64 {
	s := w.Stats()
	return s.LostQueueFull + s.LostWriteError + s.LostClosed
}

// Close stops accepting lines, writes and fsyncs what is queued and closes
// the files. When ctx ends first, the lines still queued are counted as lost
// (reason "closed") and Close returns ctx's error; the background goroutine
// then ends after its current write, and a later Close waits for that.
// Callers still waiting for room with an important line are let finish
// first (at most Config.ImportantWait).
func (w *Writer) Close(ctx context.Context) error {
	if w == nil || w.discard {
		return nil
	}
	w.mu.Lock()
	already := w.closed
	if !already {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		if already {
			return nil
		}
		return w.closeErr
	case <-ctx.Done():
		w.abort.Store(true)
		return fmt.Errorf("close datalog %s: %w", w.cfg.Dir, ctx.Err())
	}
}

// begin starts a line of category cat (known index idx): a pooled buffer
// holding the timestamp and category. It returns nil for a nil or discard
// Writer, after counting.
func (w *Writer) begin(idx int, cat Category) *line {
	if w == nil {
		return nil
	}
	w.lines.Add(1)
	if w.discard {
		return nil
	}
	countLine(idx, cat)
	t := w.cfg.Now()
	st := w.stamp.Load()
	if st == nil || st.sec != t.Unix() || st.loc != t.Location() {
		st = newStamp(t)
		w.stamp.Store(st)
	}
	l := linePool.Get().(*line)
	l.cat = cat
	l.important = cat.Important()
	l.day = st.day
	l.b = st.appendStamp(l.b[:0], t)
	l.b = append(l.b, ' ')
	l.b = append(l.b, cat...)
	return l
}

// send ends l with a newline and queues it, applying the loss policy.
func (w *Writer) send(l *line) error {
	if l == nil {
		return nil
	}
	l.b = append(l.b, '\n')
	return w.enqueue(l)
}

// sendDurable is send for a line that carries a message's only copy: it
// returns once the line is written and, unless Fsync is "never", fsynced
// (group commit: lines queued together share one fsync), or with the
// reason it is not. The caller deletes its message only on nil.
func (w *Writer) sendDurable(l *line) error {
	if l == nil {
		return nil
	}
	l.b = append(l.b, '\n')
	ack := ackPool.Get().(chan error)
	l.ack = ack
	if err := w.enqueue(l); err != nil {
		ackPool.Put(ack)
		w.notDurable.Add(1)
		notDurable.Inc()
		return err
	}
	t := time.NewTimer(w.cfg.DurableWait)
	defer t.Stop()
	select {
	case err := <-ack:
		ackPool.Put(ack)
		if err != nil {
			w.notDurable.Add(1)
			notDurable.Inc()
			return err
		}
		w.durable.Add(1)
		return nil
	case <-t.C:
		w.notDurable.Add(1)
		notDurable.Inc()
		return fmt.Errorf("%w: not confirmed within %v", ErrNotDurable, w.cfg.DurableWait)
	}
}

// enqueue hands l to the background goroutine, or loses (and counts) it.
func (w *Writer) enqueue(l *line) error {
	n := int64(len(l.b))
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.lose(l, &w.lostAfterStop, lostClosed)
		return ErrClosed
	}
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	wait := func() <-chan time.Time {
		if deadline == nil {
			deadline = time.NewTimer(w.cfg.ImportantWait)
		}
		return deadline.C
	}
	// The byte bound: an important line waits for the queue to drain; the
	// first line is always let in, so a line bigger than the bound is not
	// lost for its size alone.
	for w.queuedBytes.Load() > 0 && w.queuedBytes.Load()+n > int64(w.cfg.BufferBytes) {
		if !l.important {
			w.lose(l, &w.lostFull, lostQueueFull)
			return ErrQueueFull
		}
		w.roomWaiters.Add(1)
		room := *w.room.Load()
		if w.queuedBytes.Load()+n <= int64(w.cfg.BufferBytes) {
			w.roomWaiters.Add(-1)
			break
		}
		select {
		case <-room:
			w.roomWaiters.Add(-1)
		case <-wait():
			w.roomWaiters.Add(-1)
			w.lose(l, &w.lostFull, lostQueueFull)
			return ErrQueueFull
		}
	}
	w.queuedBytes.Add(n)
	select {
	case w.queue <- l:
		return nil
	default:
	}
	if l.important {
		select {
		case w.queue <- l:
			return nil
		case <-wait():
		}
	}
	w.queuedBytes.Add(-n)
	w.lose(l, &w.lostFull, lostQueueFull)
	return ErrQueueFull
}

// dequeued is called by the background goroutine for every line taken
// from the queue.
func (w *Writer) dequeued(l *line) {
	w.queuedBytes.Add(-int64(len(l.b)))
}

// signalRoom wakes callers waiting for queued bytes to drain.
func (w *Writer) signalRoom() {
	if w.roomWaiters.Load() == 0 {
		return
	}
	next := make(chan struct{})
	close(*w.room.Swap(&next))
}

func (w *Writer) lose(l *line, own *atomic.Uint64, metric *metrics.Counter) {
	own.Add(1)
	metric.Inc()
	putLine(l)
}

// settle answers a durable line's caller, if any.
func settle(ack chan error, err error) {
	if ack != nil {
		ack <- err
	}
}
