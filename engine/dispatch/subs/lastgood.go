package subs

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// Options are a source's optional settings, given by SetOptions before Run.
type Options struct {
	// Env is the daemon's RECEPTION_ENV. A subscription with no URL for it
	// (see URLSet.Candidates) is logged at WARN once per version: its
	// messages cannot be pushed by this daemon.
	Env string
	// OnInvalid, when set, is called once per invalid version of an entry
	// (its id, 0 when the entry has none; held: whether the entry's last
	// good version stays in the set; err: the reason, naming the keys).
	// It is called from Run's goroutine and must not block.
	OnInvalid func(id int64, held bool, err error)
}

// InvalidFields names the keys an error of Validate, DecodeJSON or the
// subscriptions file's decoder is about, in order and without repeats;
// nil when it names none (a JSON syntax error).
func InvalidFields(err error) []string {
	var out []string
	add := func(f string) {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
			return
		case *ValidationError:
			add(e.Field)
		case *json.UnmarshalTypeError:
			add(e.Field)
		case *decodeKeyError:
			add(e.Key)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			walk(errors.Unwrap(err))
		}
	}
	walk(err)
	return out
}

// decodeKeyError is a subscriptions file table whose key Key has a value
// of the wrong type.
type decodeKeyError struct {
	Key string
	Err error
}

func (e *decodeKeyError) Error() string { return e.Err.Error() }
func (e *decodeKeyError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *decodeKeyError) Is(target error) bool { return target == ErrInvalid }

// invalidLog reports invalid entries, once per version of each: a file
// reloaded for another entry's sake, or a hash re-read after a reconnect,
// does not repeat the ERROR line nor the hook.
type invalidLog struct {
	opts Options
	log  *slog.Logger
	// seen maps an entry (a hash field, or a file table's id) to the
	// version last reported; round collects them during a full read,
	// which forgets the entries it did not report.
	seen, round map[string]string
}

func newInvalidLog(log *slog.Logger) *invalidLog {
	return &invalidLog{log: log, seen: make(map[string]string)}
}

// startRound begins a full read; endRound ends it.
func (l *invalidLog) startRound() { l.round = make(map[string]string) }

func (l *invalidLog) endRound() { l.seen, l.round = l.round, nil }

// forget is called when entry is valid again or gone (partial reads).
func (l *invalidLog) forget(entry string) { delete(l.seen, entry) }

// report logs entry's invalid version at ERROR and calls the hook, unless
// this very version was reported already.
func (l *invalidLog) report(entry string, id int64, version string, held bool, err error, attrs ...any) {
	last, known := l.seen[entry]
	if l.round != nil {
		l.round[entry] = version
	} else {
		l.seen[entry] = version
	}
	if known && last == version {
		return
	}
	msg := "subscription invalid; left out (no earlier good version)"
	if held {
		msg = "subscription invalid; keeping its last good version"
	}
	attrs = append(attrs, "sub", id, "fields", strings.Join(InvalidFields(err), ","), "err", err)
	l.log.Error(msg, attrs...)
	if l.opts.OnInvalid != nil {
		l.opts.OnInvalid(id, held, err)
	}
}

// warnNoURL logs the subscriptions of next that have no URL for env, each
// version once: those equal to their version in prev were seen before.
func warnNoURL(log *slog.Logger, env string, prev, next *Set) {
	for _, s := range next.All() {
		if p := prev.ByID(s.ID); p != nil && p.Equal(s) {
			continue
		}
		if len(s.URLs().Candidates(env)) == 0 {
			log.Warn("subscription has no URL for this daemon's RECEPTION_ENV; its messages cannot be pushed",
				"sub", s.ID, "topic", s.Topic, "env", env)
		}
	}
}

// idList formats ids for a log line.
func idList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}
