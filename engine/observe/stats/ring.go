package stats

import "sync/atomic"

// A cell packs a bucket tag and a count into one 64-bit word so that moving
// a slot on to a new bucket and counting into it need no lock: the tag says
// which bucket the count belongs to, and a stale tag means the count is from
// a bucket that has left the window and reads as zero.
//
// 36 bits of count hold 68 billion events per bucket (more than 100 million a
// second in the largest, 10-minute bucket); 28 bits of tag repeat only after
// 2^28 buckets (8.5 years of seconds), far longer than any slot stays
// untouched while still being read.
const (
	countBits = 36
	countMask = 1<<countBits - 1
	tagMask   = 1<<(64-countBits) - 1
)

func pack(bucket int64, n uint64) uint64 {
	return uint64(bucket)&tagMask<<countBits | n
}

// add counts one event into c for the given absolute bucket. When c still
// holds an older bucket, the first writer of the new bucket replaces it with
// a count of one; writers that lose that race retry and then add.
func (c *cell) add(bucket int64, n uint64) {
	want := uint64(bucket) & tagMask
	for {
		v := c.Load()
		if v>>countBits == want {
			// A writer stalled for a whole ring period between the Load and
			// the Add would count into a newer bucket; the event is still
			// counted once, only in a later bucket.
			c.Add(n)
			return
		}
		if c.CompareAndSwap(v, pack(bucket, n)) {
			return
		}
	}
}

// get returns the count c holds for bucket, zero when c holds another one.
func (c *cell) get(bucket int64) uint64 {
	v := c.Load()
	if v>>countBits != uint64(bucket)&tagMask {
		return 0
	}
	return v & countMask
}

type cell struct{ atomic.Uint64 }

// slot is one bucket of one ring: the three counts of a Window.
type slot struct {
	pushes, failures, retries cell
}

func (s *slot) add(bucket int64, ok, retry bool) {
	s.pushes.add(bucket, 1)
	if !ok {
		s.failures.add(bucket, 1)
	}
	if retry {
		s.retries.add(bucket, 1)
	}
}

// ring is a fixed array of buckets of width seconds each, indexed by the
// absolute bucket number modulo its length.
type ring struct {
	width int64 // seconds per bucket
	slots []slot
}

func (r *ring) add(unix int64, ok, retry bool) {
	b := floorDiv(unix, r.width)
	r.slots[r.index(b)].add(b, ok, retry)
}

// index maps an absolute bucket to its slot; buckets before 1970 (a test
// clock at the zero time) are negative and must still land in the ring.
func (r *ring) index(b int64) int64 {
	i := b % int64(len(r.slots))
	if i < 0 {
		i += int64(len(r.slots))
	}
	return i
}

// sum adds into w the counts of the n buckets ending with the one holding
// unix (the current, partial bucket and the n-1 before it).
func (r *ring) sum(unix int64, n int, w *Window) {
	cur := floorDiv(unix, r.width)
	for b := cur - int64(n) + 1; b <= cur; b++ {
		s := &r.slots[r.index(b)]
		w.Pushes += s.pushes.get(b)
		w.Failures += s.failures.get(b)
		w.Retries += s.retries.get(b)
	}
}

// merge adds into r the counts src holds for the n buckets ending with the
// one holding unix; both rings must have the same width and length.
func (r *ring) merge(src *ring, unix int64, n int) {
	cur := floorDiv(unix, r.width)
	for b := cur - int64(n) + 1; b <= cur; b++ {
		from, to := &src.slots[src.index(b)], &r.slots[r.index(b)]
		if v := from.pushes.get(b); v > 0 {
			to.pushes.add(b, v)
		}
		if v := from.failures.get(b); v > 0 {
			to.failures.add(b, v)
		}
		if v := from.retries.get(b); v > 0 {
			to.retries.add(b, v)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
