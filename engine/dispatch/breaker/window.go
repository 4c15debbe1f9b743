package breaker

import (
	"sync/atomic"
	"time"
)

// window counts outcomes per second over the last len(buckets) seconds.
// Each bucket is one word: the low 24 bits of its second, then the
// outcomes and the failures of that second (20 bits each, saturating), so
// one compare-and-swap counts an outcome and starts a new second alike.
type window struct{ buckets []atomic.Uint64 }

const (
	secBits   = 24
	countBits = 20
	secMask   = 1<<secBits - 1
	countMask = 1<<countBits - 1
)

func newWindow(seconds int) window { return window{buckets: make([]atomic.Uint64, seconds)} }

// add counts one outcome at now (unix ns).
func (w *window) add(now int64, fail bool) {
	sec := uint64(now/int64(time.Second)) & secMask
	bk := &w.buckets[sec%uint64(len(w.buckets))]
	for {
		old := bk.Load()
		var total, fails uint64
		if old>>(2*countBits) == sec {
			total, fails = old>>countBits&countMask, old&countMask
		}
		if total < countMask {
			total++
			if fail {
				fails++
			}
		}
		if bk.CompareAndSwap(old, sec<<(2*countBits)|total<<countBits|fails) {
			return
		}
	}
}

// sum counts the outcomes and failures of the window that ends at now.
func (w *window) sum(now int64) (total, fails int) {
	sec := uint64(now/int64(time.Second)) & secMask
	n := uint64(len(w.buckets))
	for i := range w.buckets {
		v := w.buckets[i].Load()
		if age := (sec - v>>(2*countBits)) & secMask; age >= n || v == 0 {
			continue
		}
		total += int(v >> countBits & countMask)
		fails += int(v & countMask)
	}
	return total, fails
}

// clear forgets every outcome.
func (w *window) clear() {
	for i := range w.buckets {
		w.buckets[i].Store(0)
	}
}
