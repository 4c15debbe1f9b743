package stage

import (
	"sync"
	"time"
)

// The recent window: the histograms count since the engine started, so a
// tail that began a few minutes ago drowns in a day of traffic. Snapshots
// of the cumulative counts, taken at least RecentStep apart, let a reader
// subtract the newest one at least RecentWindow old from the counts of now
// and see about the last minute alone. The snapshots are taken off the
// message path (Tick, ReadRecent): Observe stays a few atomic adds.
const (
	// RecentStep is the least time between two snapshots.
	RecentStep = 10 * time.Second
	// RecentWindow is the span the recent figures cover once the engine
	// has run that long; with snapshots RecentStep apart they cover up
	// to RecentWindow+RecentStep.
	RecentWindow = time.Minute
)

// numBuckets is len(bounds)+1, the buckets of a histogram with +Inf, as a
// constant so that snapshots are plain arrays.
const numBuckets = 21

// keep is the most snapshots the window needs: the newest one at least
// RecentWindow old, and the younger ones, at least RecentStep apart.
const keep = int(RecentWindow/RecentStep) + 1

// snapshot is every stage's cumulative bucket counts and sum (ns) at a
// time.
type snapshot struct {
	at     time.Time
	counts [numStages][numBuckets]uint64
	sums   [numStages]int64
}

// recent keeps the snapshots in a ring, oldest first. Its mutex is taken
// only by Tick and ReadRecent.
type recent struct {
	mu    sync.Mutex
	ring  [keep]snapshot
	first int      // index of the oldest
	n     int      // snapshots kept
	cur   snapshot // the latest reading of the histograms, reused
}

// take reads every histogram of t into s, taken at now.
func (t *Timings) take(s *snapshot, now time.Time) {
	s.at = now
	for i, h := range t.h {
		s.sums[i] = h.load(s.counts[i][:])
	}
}

// at is the i-th kept snapshot, 0 the oldest.
func (r *recent) at(i int) *snapshot { return &r.ring[(r.first+i)%keep] }

// due tells whether a snapshot taken at now is to be kept: the first one,
// or one at least RecentStep after the newest.
func (r *recent) due(now time.Time) bool {
	return r.n == 0 || now.Sub(r.at(r.n-1).at) >= RecentStep
}

// add keeps s as the newest snapshot, first dropping the ones that a
// reader will no longer need from now on: all older than the newest one
// at least RecentWindow old.
func (r *recent) add(s *snapshot) {
	for r.n >= 2 && s.at.Sub(r.at(1).at) >= RecentWindow {
		r.drop()
	}
	if r.n == keep { // not with snapshots RecentStep apart; kept bounded all the same
		r.drop()
	}
	*r.at(r.n) = *s
	r.n++
}

func (r *recent) drop() {
	r.first = (r.first + 1) % keep
	r.n--
}

// base is the snapshot a reading at now subtracts: the newest one at
// least RecentWindow old, or the oldest while none is (r.n > 0).
func (r *recent) base(now time.Time) *snapshot {
	for i := r.n - 1; i > 0; i-- {
		if s := r.at(i); now.Sub(s.at) >= RecentWindow {
			return s
		}
	}
	return r.at(0)
}

// Tick takes a snapshot of the histograms for the recent window when one
// is due: the first, then one at least RecentStep after the last. Call it
// regularly (ReadRecent calls it too); a nil *Timings does nothing.
func (t *Timings) Tick(now time.Time) {
	if t == nil {
		return
	}
	r := t.recent
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.due(now) {
		t.take(&r.cur, now)
		r.add(&r.cur)
	}
}

// ReadRecent takes a Summary of every stage over the recent window, in
// order, and the span it covers: what was counted since the newest
// snapshot at least RecentWindow old (or the oldest, while the engine is
// younger). It ticks first, so a reader alone keeps the window going. The
// first reading, with no earlier snapshot, covers 0 and is empty; so is a
// nil *Timings.
func (t *Timings) ReadRecent(now time.Time) ([numStages]Summary, time.Duration) {
	var out [numStages]Summary
	if t == nil {
		return out, 0
	}
	r := t.recent
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := &r.cur
	t.take(cur, now)
	if r.due(now) {
		r.add(cur)
	}
	base := r.base(now)
	var diff [numBuckets]uint64
	for i := range out {
		// The counts only grow, and base was read before cur: no
		// difference is negative.
		for j := range diff {
			diff[j] = cur.counts[i][j] - base.counts[i][j]
		}
		out[i] = summarize(diff[:], cur.sums[i]-base.sums[i])
	}
	return out, max(now.Sub(base.at), 0)
}
