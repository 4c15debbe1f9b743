package stage

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestNumBuckets(t *testing.T) {
	require.Len(t, bounds, numBuckets-1, "snapshots hold every bucket and +Inf")
	require.Equal(t, 7, keep)
}

// Timing off: nothing kept, nothing read.
func TestNilTimingsHaveNoRecentWindow(t *testing.T) {
	var tm *Timings
	tm.Tick(t0)
	sums, span := tm.ReadRecent(t0)
	assert.Equal(t, [numStages]Summary{}, sums)
	assert.Zero(t, span)
}

// The first reading is the first snapshot: it covers nothing yet, even
// after observations, which the next readings then leave out.
func TestFirstReadingIsEmpty(t *testing.T) {
	tm := New()
	tm.Observe(Push, time.Millisecond)
	sums, span := tm.ReadRecent(t0)
	assert.Equal(t, [numStages]Summary{}, sums)
	assert.Zero(t, span)

	tm.Observe(Push, 2*time.Millisecond)
	sums, span = tm.ReadRecent(at(4))
	assert.Equal(t, 4*time.Second, span)
	assert.Equal(t, Summary{Count: 1, Mean: 2 * time.Millisecond, P50: 2 * time.Millisecond,
		P90: 2 * time.Millisecond, P99: 2 * time.Millisecond, P999: 2 * time.Millisecond}, sums[Push])
	assert.Equal(t, uint64(2), tm.Read()[Push].Count, "since start: both")
}

// The recent figures forget an old tail: quantiles and mean of what
// happened in the window alone.
func TestRecentQuantilesForgetTheOldTail(t *testing.T) {
	tm := New()
	tm.Tick(t0)
	for range 1000 {
		tm.Observe(Total, 90*time.Millisecond) // ≤ 100 ms, an hour ago
	}
	for s := 10.0; s <= 60; s += 10 {
		tm.Tick(at(s))
	}
	for range 99 {
		tm.Observe(Total, 3*time.Millisecond) // ≤ 5 ms
	}
	tm.Observe(Total, 300*time.Millisecond) // ≤ 500 ms
	tm.Observe(MainWait, time.Millisecond)

	sums, span := tm.ReadRecent(at(125))
	// Snapshots at 0, 10, … 60, then 125 from the reading itself; the
	// newest at least a minute old is 60.
	assert.Equal(t, 65*time.Second, span)
	assert.Equal(t, Summary{Count: 100, Mean: 5970 * time.Microsecond, P50: 5 * time.Millisecond,
		P90: 5 * time.Millisecond, P99: 5 * time.Millisecond, P999: 500 * time.Millisecond}, sums[Total])
	assert.Equal(t, uint64(1), sums[MainWait].Count)
	assert.Zero(t, sums[Push].Count)
	all := tm.Read()[Total]
	assert.Equal(t, uint64(1100), all.Count)
	assert.Equal(t, 100*time.Millisecond, all.P90, "since start, the old tail still shows")
}

// Snapshots are taken at most once a step: a tick or a reading sooner
// after the last one takes none, so the base stays where it was.
func TestStep(t *testing.T) {
	tm := New()
	tm.Tick(t0)
	tm.Observe(Push, time.Millisecond)
	tm.Tick(at(9.999)) // too soon: not a snapshot
	tm.Observe(Push, time.Millisecond)
	_, span := tm.ReadRecent(at(5)) // too soon
	assert.Equal(t, 5*time.Second, span)
	assert.Equal(t, 1, tm.recent.n)

	sums, span := tm.ReadRecent(at(30))
	assert.Equal(t, 30*time.Second, span, "younger than the window: from the oldest snapshot")
	assert.Equal(t, uint64(2), sums[Push].Count)
	assert.Equal(t, 2, tm.recent.n, "the reading at 30 s took a snapshot")

	tm.Tick(at(39)) // 9 s after the last snapshot: none
	assert.Equal(t, 2, tm.recent.n)
	tm.Tick(at(40))
	assert.Equal(t, 3, tm.recent.n)
}

// The window: a reading subtracts the newest snapshot at least a minute
// old, so it covers between one minute and one minute and a step.
func TestWindow(t *testing.T) {
	tm := New()
	// One observation of k ms every second k from 1 to 200, a tick every
	// 10 s just after that second's observation.
	for k := 1; k <= 200; k++ {
		tm.Observe(Push, time.Duration(k)*time.Millisecond)
		if k%10 == 0 {
			tm.Tick(at(float64(k)))
		}
		if k == 200 {
			break
		}
		// Readings in between cover from the newest snapshot at least
		// 60 s before them: the one at 10·⌊(k−60)/10⌋ s once k ≥ 70.
		if now := float64(k) + 0.5; k >= 70 {
			sums, span := tm.ReadRecent(at(now))
			from := 10 * ((k - 60) / 10)
			assert.Equal(t, time.Duration((now-float64(from))*float64(time.Second)), span, "k %d", k)
			assert.Equal(t, uint64(k-from), sums[Push].Count, "k %d: seconds %d+1 … %d", k, from, k)
		}
		assert.LessOrEqual(t, tm.recent.n, keep)
	}
	// At 200 s: snapshots at 140 … 200; the newest a minute old is 140.
	sums, span := tm.ReadRecent(at(200))
	assert.Equal(t, time.Minute, span)
	assert.Equal(t, uint64(60), sums[Push].Count)
	assert.Equal(t, 170500*time.Microsecond, sums[Push].Mean, "141 … 200 ms")
	assert.Equal(t, 200*time.Millisecond, sums[Push].P50)
	assert.Equal(t, 7, tm.recent.n)
}

// Irregular ticks: gaps longer than a step, ticks too soon, none for
// longer than the window, and a clock that steps back.
func TestIrregularTicks(t *testing.T) {
	tm := New()
	obs := func(n int) {
		for range n {
			tm.Observe(SlotWait, 200*time.Microsecond)
		}
	}
	for _, tick := range []struct {
		s float64
		n int // observations after it
	}{{0, 1}, {3, 2}, {12, 4}, {25, 8}, {40, 16}, {47, 32}, {61, 64}, {80, 128}} {
		tm.Tick(at(tick.s))
		obs(tick.n)
	}
	// Taken: 0, 12, 25, 40, 61, 80 (3 and 47 were too soon); the one at
	// 80 dropped the one at 0, since 12 was already a minute old. At 85
	// the newest at least 60 s old is 25: what came after the tick at 25.
	sums, span := tm.ReadRecent(at(85))
	assert.Equal(t, 5, tm.recent.n)
	assert.Equal(t, 60*time.Second, span)
	assert.Equal(t, uint64(8+16+32+64+128), sums[SlotWait].Count)
	assert.Equal(t, 200*time.Microsecond, sums[SlotWait].P999)

	// The clock steps back: no snapshot, and no negative span.
	sums, span = tm.ReadRecent(at(-5))
	assert.Zero(t, span)
	assert.Equal(t, uint64(4+8+16+32+64+128), sums[SlotWait].Count, "from the oldest kept, at 12")

	// No tick for five minutes, then one: every older snapshot but the
	// newest a minute old (80) goes.
	obs(256)
	tm.Tick(at(385))
	assert.Equal(t, 2, tm.recent.n)
	sums, span = tm.ReadRecent(at(390))
	assert.Equal(t, 310*time.Second, span, "from 80: the newest at least a minute old")
	assert.Equal(t, uint64(128+256), sums[SlotWait].Count)
	sums, span = tm.ReadRecent(at(445))
	assert.Equal(t, time.Minute, span)
	assert.Zero(t, sums[SlotWait].Count)
}

// Observe goes on while readers tick: every reading is consistent, and
// the last one, with no snapshot a minute old, counts every observation
// since the first snapshot.
func TestRecentUnderConcurrentObserve(t *testing.T) {
	tm := New()
	tm.Tick(t0)
	const writers, each = 4, 5000
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range each {
				tm.Observe(Push, time.Duration(i%3)*time.Millisecond)
				tm.Since(Total, 1, t0)
			}
		})
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for s := 0.0; ; s = float64(int(s+1) % 51) { // 0 … 50 s, round and round
			select {
			case <-done:
				return
			default:
			}
			tm.Tick(at(s))
			sums, span := tm.ReadRecent(at(s))
			assert.LessOrEqual(t, sums[Push].Count, uint64(writers*each))
			assert.LessOrEqual(t, span, 50*time.Second)
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()
	sums, span := tm.ReadRecent(at(59))
	assert.Equal(t, 59*time.Second, span)
	assert.Equal(t, uint64(writers*each), sums[Push].Count)
	assert.Equal(t, uint64(writers*each), sums[Total].Count)
	assert.Equal(t, 2*time.Millisecond, sums[Push].P99)
}

// Reading the window allocates nothing either.
func TestRecentAllocatesNothing(t *testing.T) {
	tm := New()
	s := 0.0
	allocs := testing.AllocsPerRun(100, func() {
		s += 7
		tm.Tick(at(s))
		tm.ReadRecent(at(s + 1))
	})
	assert.Zero(t, allocs)
}

func BenchmarkReadRecent(b *testing.B) {
	tm := New()
	for i := range 1000 {
		tm.Observe(Stage(i%int(numStages)), time.Duration(i)*time.Microsecond)
	}
	now := t0
	for b.Loop() {
		now = now.Add(time.Second)
		tm.ReadRecent(now)
	}
}
