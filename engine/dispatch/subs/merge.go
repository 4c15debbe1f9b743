package subs

import (
	"log/slog"
	"strconv"
)

// Invalid is an entry of a source's full read that failed to decode or
// validate.
type Invalid struct {
	ID int64 // the entry's subscription id, > 0
	// Version identifies what was read: the entry is reported once per
	// version, not once per read.
	Version string
	Err     error // the reason, naming the entry and the keys at fault
}

// LastGood gives a source outside this package the rules the file and
// Redis sources follow for invalid entries: an invalid entry keeps its
// version in the set applied last, if it has one, and each invalid
// version is logged at ERROR and handed to Options.OnInvalid once.
type LastGood struct {
	log     *slog.Logger
	env     string
	invalid *invalidLog
}

// NewLastGood returns the last-good bookkeeping of one source, logging to
// log (slog.Default when nil) and calling o's hooks.
func NewLastGood(log *slog.Logger, o Options) *LastGood {
	if log == nil {
		log = slog.Default()
	}
	l := newInvalidLog(log)
	l.opts = o
	return &LastGood{log: log, env: o.Env, invalid: l}
}

// Merge builds the set of one full read: valid, plus for each bad entry
// whose id has no valid entry its version in cur (the set applied last,
// nil before the first), if any. held lists the ids kept that way. Every
// bad entry is reported (once per version); entries no longer bad are
// forgotten, so a later bad version of theirs is reported again.
func (g *LastGood) Merge(valid []*Subscription, bad []Invalid, cur *Set) (set *Set, held []int64) {
	tables := make([]badTable, len(bad))
	for i, b := range bad {
		tables[i] = badTable{id: b.ID, version: b.Version, err: b.Err}
	}
	g.invalid.startRound()
	defer g.invalid.endRound()
	return mergeLastGood(valid, tables, cur, func(b badTable, held bool) {
		g.invalid.report(strconv.FormatInt(b.id, 10), b.id, b.version, held, b.err)
	})
}

// WarnNoURL logs, at WARN and once per version, the subscriptions of next
// that have no URL for the daemon's RECEPTION_ENV; prev is the set
// applied before next.
func (g *LastGood) WarnNoURL(prev, next *Set) { warnNoURL(g.log, g.env, prev, next) }

// IDList formats ids for a log line ("3,7,12").
func IDList(ids []int64) string { return idList(ids) }
