package subs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/BurntSushi/toml"
	"golang.org/x/sys/unix"
)

// fileDebounce coalesces the burst of inotify events one save makes (an
// editor's create, write, close, rename) into one reload.
const fileDebounce = 100 * time.Millisecond

// fileWatchMask selects the directory events that may change the file:
// in-place writes (close after write), rename-replace (moved to), creation,
// and removal or rename away.
const fileWatchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_MOVED_FROM

// FileSource reads subscriptions from a TOML file of [[subscription]]
// tables and reloads it when it changes (inotify on its directory) or when
// Reload is called.
//
// When the file is missing or unreadable at start nothing is applied (an
// ERROR says why, Problem reports it, and the file is read again when it
// appears and every fileRetry): a missing file is not an empty one. When it
// disappears later, the last set is kept (with a warning): an accidental rm
// must not unsubscribe every topic; an empty file removes every
// subscription.
//
// Only events on the file's own name in its directory are seen: when path
// is a symlink into another directory, a change of the target needs Reload.
type FileSource struct {
	path    string
	lim     Limits
	log     *slog.Logger
	reload  chan struct{}
	invalid *invalidLog
	problem atomic.Pointer[string]
}

// fileRetry is how often a file that could not be read is tried again
// (besides its inotify events): a permission fixed with chmod makes none.
const fileRetry = 5 * time.Second

// Problem implements Problemer: why the last read failed, or "".
func (f *FileSource) Problem() string {
	if p := f.problem.Load(); p != nil {
		return *p
	}
	return ""
}

func (f *FileSource) setProblem(p string) { f.problem.Store(&p) }

// NewFileSource returns a source reading path. Nothing is read before Run.
func NewFileSource(path string, lim Limits, log *slog.Logger) *FileSource {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("path", path)
	return &FileSource{
		path:    path,
		lim:     lim,
		log:     log,
		reload:  make(chan struct{}, 1),
		invalid: newInvalidLog(log),
	}
}

// SetOptions sets the optional settings; call it before Run.
func (f *FileSource) SetOptions(o Options) { f.invalid.opts = o }

// Reload asks Run to re-read the file now (the daemon calls it on SIGHUP).
// It never blocks; requests made while one is pending are merged.
func (f *FileSource) Reload() {
	select {
	case f.reload <- struct{}{}:
	default:
	}
}

// Run implements Source. It returns an error only when the directory
// cannot be watched.
func (f *FileSource) Run(ctx context.Context, apply func(*Set)) error {
	dir, name := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify init for %s: %w", f.path, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, fileWatchMask); err != nil {
		_ = unix.Close(fd)
		return fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	// A non-blocking descriptor makes the os.File pollable: Read parks in
	// the runtime's poller and Close wakes it, so the reader can be stopped.
	watch := os.NewFile(uintptr(fd), "inotify:"+dir)
	changed := make(chan struct{}, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		f.readEvents(watch, name, changed)
	}()
	defer func() {
		_ = watch.Close()
		<-readerDone
	}()

	// The watch is set before the first read, so a write racing with it
	// is not missed.
	var cur *Set
	load := func() {
		next, ok := f.load(cur)
		if !ok || (cur != nil && next.Equal(cur)) {
			return
		}
		warnNoURL(f.log, f.invalid.opts.Env, cur, next)
		cur = next
		apply(cur)
	}
	load()

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	retry := time.NewTicker(fileRetry)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			debounce.Reset(fileDebounce)
		case <-debounce.C:
			load()
		case <-f.reload:
			load()
		case <-retry.C:
			if f.Problem() != "" {
				load()
			}
		}
	}
}

// readEvents signals changed for every event about name until watch is
// closed.
func (f *FileSource) readEvents(watch *os.File, name string, changed chan<- struct{}) {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := watch.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				f.log.Error("inotify read failed; changes are seen only on Reload", "err", err)
			}
			return
		}
		hit := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break // the kernel returns whole events; never read past them
			}
			nameBytes := buf[off+unix.SizeofInotifyEvent : end]
			off = end
			switch {
			case ev.Mask&unix.IN_IGNORED != 0:
				f.log.Warn("the directory is no longer watched (removed?); changes are seen only on Reload")
			case ev.Mask&unix.IN_Q_OVERFLOW != 0, string(bytes.TrimRight(nameBytes, "\x00")) == name:
				hit = true
			}
		}
		if hit {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// load reads and validates the file. ok is false when the previous set
// must be kept. An entry that fails validation keeps its version in cur,
// the set applied last (nil before the first), when it has one there.
func (f *FileSource) load(cur *Set) (set *Set, ok bool) {
	first := cur == nil
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.setProblem("subscriptions file " + f.path + " does not exist")
		if first {
			f.log.Error("subscriptions file does not exist: nothing is dispatched until it appears (check SubscriptionSource)")
			return nil, false
		}
		f.log.Warn("subscriptions file disappeared; keeping the previous subscriptions")
		return nil, false
	}
	if err != nil {
		f.setProblem("cannot read subscriptions file: " + err.Error())
		f.log.Error("cannot read subscriptions file; keeping the previous subscriptions", "err", err)
		return nil, false
	}
	subs, bad, err := decodeFile(data, f.lim, f.log)
	if err != nil {
		f.setProblem("subscriptions file " + f.path + " cannot be decoded: " + err.Error())
		var pe toml.ParseError
		if errors.As(err, &pe) {
			f.log.Error("subscriptions file is not valid TOML; keeping the previous subscriptions",
				"line", pe.Position.Line, "col", pe.Position.Col, "err", pe.Message)
		} else {
			f.log.Error("cannot decode subscriptions file; keeping the previous subscriptions", "err", err)
		}
		return nil, false
	}
	f.invalid.startRound()
	set, held := mergeLastGood(subs, bad, cur, func(b badTable, held bool) {
		entry := strconv.FormatInt(b.id, 10)
		if b.id <= 0 {
			entry = "table " + strconv.Itoa(b.table)
		}
		f.invalid.report(entry, b.id, b.version, held, b.err, "table", b.table)
	})
	f.invalid.endRound()
	f.setProblem("")
	if set.Len() == 0 {
		f.setProblem("subscriptions file " + f.path + " holds no valid subscription")
	}
	f.log.Info("subscriptions loaded", "count", set.Len(), "held_at_last_good", idList(held), "left_out", len(bad)-len(held))
	return set, true
}

// mergeLastGood builds the set of the valid tables and, for each bad table
// whose id has no valid table, that id's version in cur (the set applied
// last), if any; held lists those ids. report hears of every bad table.
func mergeLastGood(valid []*Subscription, bad []badTable, cur *Set, report func(b badTable, held bool)) (*Set, []int64) {
	ids := make(map[int64]bool, len(valid))
	for _, s := range valid {
		ids[s.ID] = true
	}
	var held []int64
	for _, b := range bad {
		last := cur.ByID(b.id)
		keep := b.id > 0 && last != nil && !ids[b.id]
		if keep {
			valid = append(valid, last)
			ids[b.id] = true
			held = append(held, b.id)
		}
		report(b, keep)
	}
	return NewSet(valid), held
}

// fileDoc is the file's shape. Tables stay Primitive so that one table of
// the wrong type is left out alone, and so that each decodes onto a
// subscription carrying the defaults of absent keys.
type fileDoc struct {
	Subscription []toml.Primitive `toml:"subscription"`
}

// badTable is a table of a subscriptions file that failed to decode or
// validate.
type badTable struct {
	table   int   // 1-based
	id      int64 // 0 when the table has none (or not an integer)
	version string
	err     error
}

// decodeFile decodes and validates the tables of a subscriptions file. It
// fails only when the file is not TOML; tables that fail to decode or
// validate are returned in bad, duplicates of an id are logged and skipped.
func decodeFile(data []byte, lim Limits, log *slog.Logger) (valid []*Subscription, bad []badTable, err error) {
	var doc fileDoc
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	if err != nil {
		return nil, nil, fmt.Errorf("decode subscriptions TOML: %w", err)
	}
	out := make([]*Subscription, 0, len(doc.Subscription))
	seen := make(map[int64]int, len(doc.Subscription))
	for i, p := range doc.Subscription {
		// The id first, so that a table failing on another key is still
		// named by it.
		var key struct {
			ID int64 `toml:"id"`
		}
		_ = md.PrimitiveDecode(p, &key)
		s := newDecoded()
		if err := md.PrimitiveDecode(p, s); err != nil {
			err = &decodeKeyError{Key: tomlKey(err), Err: fmt.Errorf("subscription %d: %w", key.ID, err)}
			bad = append(bad, badTable{table: i + 1, id: key.ID, version: fmt.Sprintf("%v %+v", err, *s), err: err})
			continue
		}
		if err := s.Validate(lim); err != nil {
			bad = append(bad, badTable{table: i + 1, id: s.ID, version: fmt.Sprintf("%v %+v", err, *s), err: err})
			continue
		}
		if first, dup := seen[s.ID]; dup {
			log.Error("subscription left out: id already used", "table", i+1, "sub", s.ID, "first_table", first)
			continue
		}
		seen[s.ID] = i + 1
		out = append(out, s)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		// Keys of array tables carry no index: one name per misspelling.
		names := make([]string, 0, len(keys))
		for _, k := range keys {
			if n := k.String(); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		log.Warn("subscriptions file has unknown keys; ignored", "keys", strings.Join(names, ","))
	}
	return out, bad, nil
}

// tomlKey is the key a table's decoding error names: the TOML decoder says
// `(last key "subscription.KEY")`, KEY spelt as in the file (it matches
// keys without regard to case); "" when it names none of ours.
func tomlKey(err error) string {
	const mark = `last key "subscription.`
	msg := err.Error()
	i := strings.Index(msg, mark)
	if i < 0 {
		return ""
	}
	k, _, ok := strings.Cut(msg[i+len(mark):], `"`)
	if !ok {
		return ""
	}
	k, _, _ = strings.Cut(k, ".")
	for key := range jsonKeys {
		if strings.EqualFold(key, k) {
			return key
		}
	}
	return ""
}

// WriteFile writes subs to path in the subscriptions file format,
// atomically: a temporary file in the same directory, synced, then renamed
// over path, so a reader never sees half a file.
func WriteFile(path string, subs []*Subscription) error {
	data, err := encodeFile(subs)
	if err != nil {
		return fmt.Errorf("encode subscriptions for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write subscriptions %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write subscriptions %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return nil
}

// encodeFile is the subscriptions file holding subs.
func encodeFile(subs []*Subscription) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# medispatcher subscriptions: one [[subscription]] table each.\n\n")
	doc := struct {
		Subscription []*Subscription `toml:"subscription"`
	}{subs}
	if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
