package breaker

import (
	"testing"
	"time"
)

// BenchmarkPush is what a closed breaker costs one push: Acquire, then
// Record of a success, from every core at once on one subscription (the
// worst case: every push counts in the same second's bucket).
func BenchmarkPush(b *testing.B) {
	br := New(Config{Window: 30 * time.Second, MinPushes: 20, FailureShare: 0.5, ConsecutiveErrors: 5,
		CoolDown: 5 * time.Second, MaxCoolDown: 300 * time.Second})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, probe := br.Acquire()
			if !ok {
				b.Fatal("refused")
			}
			br.Record(Success, probe, time.Now().UnixNano())
		}
	})
}

// TestPushAllocs asserts that a push through a closed breaker allocates
// nothing, failures included (as long as they open nothing).
func TestPushAllocs(t *testing.T) {
	br := New(Config{Window: 30 * time.Second, MinPushes: 1 << 30, FailureShare: 0.5, CoolDown: time.Second})
	now := time.Now().UnixNano()
	n := testing.AllocsPerRun(1000, func() {
		br.Acquire()
		br.Record(Success, false, now)
		br.Record(Failure, false, now)
		br.Record(ConnError, false, now)
	})
	if n != 0 {
		t.Fatalf("%v allocations per push", n)
	}
}
