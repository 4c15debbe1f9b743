package datalog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Tuning of the background writer.
const (
	flushSize     = 64 << 10         // write a file buffer once it holds this much
	maxBatch      = 4096             // lines taken from the queue between flushes
	syncEvery     = time.Second      // Fsync "interval", and closing of past day files
	errLogEvery   = 10 * time.Second // at most one write-failure log per period
	reopenBackoff = time.Second      // after a failed open, lines are lost without retrying for this long
)

// fileKey names one output file: the category (per-category files) or the
// day (per-day files).
type fileKey struct {
	cat Category
	day int32
}

// outFile is one open file and the lines buffered for it.
type outFile struct {
	name    string
	f       *os.File  // nil while opening fails
	w       io.Writer // f, or the test hook around it
	buf     []byte
	pending int // lines in buf
	// acks are the durable lines' callers: waiting for buf to be written,
	// then (in synced) for the fsync after it.
	acks    []chan error
	synced  []chan error
	dirty   bool      // written since the last fsync
	retryAt time.Time // next open attempt when f is nil
}

// files is the state of the background goroutine; only it touches it.
type files struct {
	w       *Writer
	cfg     *Config
	log     *slog.Logger
	byKey   map[fileKey]*outFile
	lastKey fileKey
	last    *outFile

	// syncq hands files to the syncer goroutine ("interval" fsync, closing
	// past days' files), so a slow fsync never stalls the draining of the
	// queue. Capacity 1: while a round is still running, the next waits.
	syncq      chan []syncJob
	syncerDone chan struct{}

	// Write-failure reporting, rate-limited to one log per errLogEvery.
	errLoggedAt  time.Time
	lostUnlogged uint64
	failing      bool // a failure was logged and no write succeeded since
}

// syncJob is one file for the syncer: fsync it, then close it when asked.
type syncJob struct {
	f     *os.File
	sync  bool
	close bool
}

func newFiles(w *Writer) *files {
	return &files{
		w: w, cfg: &w.cfg, log: w.cfg.Logger, byKey: make(map[fileKey]*outFile),
		syncq: make(chan []syncJob, 1), syncerDone: make(chan struct{}),
	}
}

// syncer fsyncs (and closes) the files handed to it until syncq is closed.
// os.File keeps a descriptor alive while a Sync on it runs, so the writer
// goroutine may go on writing to the same files meanwhile.
func (fs *files) syncer() {
	defer close(fs.syncerDone)
	var loggedAt time.Time
	for jobs := range fs.syncq {
		for _, j := range jobs {
			var err error
			if j.sync {
				err = j.f.Sync()
			}
			if j.close {
				err = errors.Join(err, j.f.Close())
			}
			if err != nil && (loggedAt.IsZero() || time.Since(loggedAt) >= errLogEvery) {
				loggedAt = time.Now()
				fs.log.Error("datalog fsync failed", "file", j.f.Name(), "err", err)
			}
		}
	}
}

// run is the background goroutine: it owns the files until the queue is
// closed and drained.
func (w *Writer) run(fs *files) {
	defer close(w.done)
	go fs.syncer()
	var tick <-chan time.Time
	if w.cfg.Fsync == FsyncInterval || w.cfg.Split {
		t := time.NewTicker(syncEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case l, ok := <-w.queue:
			if !ok {
				w.closeErr = fs.finish()
				return
			}
			fs.add(l)
			if !fs.drain() {
				w.closeErr = fs.finish()
				return
			}
			fs.flushAll()
			if w.cfg.Fsync == FsyncAlways {
				fs.syncAll()
			}
			fs.confirm()
			w.signalRoom()
		case <-tick:
			fs.tick()
		}
	}
}

// drain takes what else is queued, up to maxBatch lines, so that a burst is
// written with few syscalls. It returns false when the queue is closed.
func (fs *files) drain() bool {
	for range maxBatch {
		select {
		case l, ok := <-fs.w.queue:
			if !ok {
				return false
			}
			fs.add(l)
		default:
			return true
		}
	}
	return true
}

func (fs *files) add(l *line) {
	defer putLine(l)
	fs.w.dequeued(l)
	if fs.w.abort.Load() {
		fs.w.lostAfterStop.Add(1)
		lostClosed.Inc()
		settle(l.ack, fmt.Errorf("%w: %w", ErrNotDurable, ErrClosed))
		return
	}
	of := fs.file(l)
	if of.f == nil {
		fs.w.lostWrite.Add(1)
		lostWriteError.Inc()
		fs.lostUnlogged++
		settle(l.ack, fmt.Errorf("%w: %s cannot be opened", ErrNotDurable, of.name))
		return
	}
	of.buf = append(of.buf, l.b...)
	of.pending++
	if l.ack != nil {
		of.acks = append(of.acks, l.ack)
	}
	if len(of.buf) >= flushSize {
		fs.flush(of)
	}
}

// file returns the output file of l, opening it when needed.
func (fs *files) file(l *line) *outFile {
	key := fileKey{day: l.day}
	if !fs.cfg.Split {
		key = fileKey{cat: l.cat}
	}
	if fs.last != nil && key == fs.lastKey {
		if fs.last.f == nil {
			fs.open(fs.last)
		}
		return fs.last
	}
	of := fs.byKey[key]
	if of == nil {
		of = &outFile{name: fs.name(key)}
		fs.byKey[key] = of
	}
	if of.f == nil {
		fs.open(of)
	}
	fs.lastKey, fs.last = key, of
	return of
}

func (fs *files) name(k fileKey) string {
	if fs.cfg.Split {
		return fmt.Sprintf("%s/%s.%04d-%02d-%02d.log", fs.cfg.Dir, fs.cfg.Prefix, k.day/10000, k.day/100%100, k.day%100)
	}
	return fmt.Sprintf("%s/%s.%s.log", fs.cfg.Dir, fs.cfg.Prefix, k.cat)
}

func (fs *files) open(of *outFile) {
	now := time.Now()
	if now.Before(of.retryAt) {
		return
	}
	f, err := os.OpenFile(of.name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		of.retryAt = now.Add(reopenBackoff)
		fs.failed("open", of.name, err, 0)
		return
	}
	of.f, of.w = f, io.Writer(f)
	if fs.cfg.wrap != nil {
		of.w = fs.cfg.wrap(f)
	}
}

// flush writes the buffer of of. On failure its lines are lost, and what
// part of them reached the file is cut off again so that the file holds
// whole lines only.
func (fs *files) flush(of *outFile) {
	if len(of.buf) == 0 {
		return
	}
	n, err := of.w.Write(of.buf)
	lines := uint64(of.pending)
	of.buf, of.pending = of.buf[:0], 0
	acks := of.acks
	of.acks = of.acks[:0]
	if err == nil {
		of.dirty = true
		of.synced = append(of.synced, acks...)
		fs.w.written.Add(lines)
		fs.recovered(of.name)
		return
	}
	// Counted before the callers hear of it: one that reads Stats after
	// its error sees its line among the lost.
	fs.w.lostWrite.Add(lines)
	lostWriteError.Add(int(lines))
	for _, a := range acks {
		settle(a, fmt.Errorf("%w: write %s: %w", ErrNotDurable, of.name, err))
	}
	if n > 0 {
		// With O_APPEND the offset is the end of what this write added.
		if end, serr := of.f.Seek(0, io.SeekCurrent); serr == nil && end >= int64(n) {
			if terr := of.f.Truncate(end - int64(n)); terr != nil {
				err = errors.Join(err, fmt.Errorf("cut partial line: %w", terr))
			}
		}
	}
	fs.failed("write", of.name, err, lines)
}

func (fs *files) flushAll() {
	for _, of := range fs.byKey {
		fs.flush(of)
	}
}

// confirm answers the durable lines written by the last flushes: after one
// fsync per file (group commit), unless Fsync is "never".
func (fs *files) confirm() {
	for _, of := range fs.byKey {
		if len(of.synced) == 0 {
			continue
		}
		var err error
		if fs.cfg.Fsync != FsyncNever && of.f != nil {
			if err = of.f.Sync(); err != nil {
				fs.failed("fsync", of.name, err, 0)
				err = fmt.Errorf("%w: fsync %s: %w", ErrNotDurable, of.name, err)
			} else {
				of.dirty = false
			}
		}
		for _, a := range of.synced {
			settle(a, err)
		}
		of.synced = of.synced[:0]
	}
}

func (fs *files) syncAll() {
	for _, of := range fs.byKey {
		if of.f != nil && of.dirty {
			of.dirty = false
			if err := of.f.Sync(); err != nil {
				fs.failed("fsync", of.name, err, 0)
			}
		}
	}
}

// tick runs once per second: hand the files written since the last round
// to the syncer ("interval") and, with per-day files, the files of past days
// to be closed (a late line reopens its day's file).
func (fs *files) tick() {
	today := int32(0)
	if fs.cfg.Split {
		today = dayKey(fs.cfg.Now())
	}
	var jobs []syncJob
	for k, of := range fs.byKey {
		past := fs.cfg.Split && k.day < today
		if past {
			fs.flush(of) // empty: every batch is flushed and confirmed
			delete(fs.byKey, k)
			if of == fs.last {
				fs.last = nil
			}
		}
		if of.f == nil {
			continue
		}
		j := syncJob{f: of.f, sync: of.dirty && fs.cfg.Fsync == FsyncInterval, close: past}
		if j.sync || j.close {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return
	}
	select {
	case fs.syncq <- jobs:
		for _, of := range fs.byKey {
			of.dirty = false
		}
	default:
		// The last round is still running: sync next time. Files of past
		// days are out of byKey already and must still be closed, so wait.
		for _, j := range jobs {
			if j.close {
				fs.syncq <- jobs
				break
			}
		}
	}
}

func (fs *files) closeFile(of *outFile) error {
	if of.f == nil {
		return nil
	}
	var err error
	if of.dirty {
		err = of.f.Sync()
	}
	if cerr := of.f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	of.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", of.name, err)
	}
	return nil
}

// finish writes what is buffered, fsyncs and closes every file. After an
// aborted Close it drops the buffers instead of writing them.
func (fs *files) finish() error {
	close(fs.syncq)
	<-fs.syncerDone
	aborted := fs.w.abort.Load()
	var errs []error
	for _, of := range fs.byKey {
		if aborted {
			fs.w.lostAfterStop.Add(uint64(of.pending))
			lostClosed.Add(of.pending)
			of.buf, of.pending = of.buf[:0], 0
			for _, a := range of.acks {
				settle(a, fmt.Errorf("%w: %w", ErrNotDurable, ErrClosed))
			}
			of.acks = nil
		} else {
			fs.flush(of)
		}
		err := fs.closeFile(of)
		if err != nil {
			errs = append(errs, err)
			err = fmt.Errorf("%w: %w", ErrNotDurable, err)
		}
		for _, a := range of.synced {
			settle(a, err)
		}
		of.synced = nil
	}
	if fs.lostUnlogged > 0 {
		fs.log.Warn("datalog lost lines at close", "dir", fs.cfg.Dir, "lost", fs.lostUnlogged)
	}
	return errors.Join(errs...)
}

// failed counts a failure for the log and logs at most once per errLogEvery.
func (fs *files) failed(op, name string, err error, lost uint64) {
	fs.lostUnlogged += lost
	now := time.Now()
	if !fs.errLoggedAt.IsZero() && now.Sub(fs.errLoggedAt) < errLogEvery {
		return
	}
	fs.errLoggedAt = now
	fs.failing = true
	fs.log.Error("datalog write failed, lines are being lost",
		"op", op, "file", name, "err", err, "lost", fs.lostUnlogged)
	fs.lostUnlogged = 0
}

// recovered logs the first successful write after a logged failure.
func (fs *files) recovered(name string) {
	if !fs.failing {
		return
	}
	fs.failing = false
	fs.log.Info("datalog writes recovered", "file", name, "lost_since_last_log", fs.lostUnlogged)
	fs.lostUnlogged = 0
}
