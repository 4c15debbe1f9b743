package stats

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkPush has every goroutine count into the same subscription: the
// worst case for contention on its cache lines.
func BenchmarkPush(b *testing.B) {
	c := New().Sub(1, "orders")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Push(i%16 != 0, i%8 == 0)
			i++
		}
	})
}

// BenchmarkPushSpread has each goroutine count into its own subscription,
// as the engine's lanes do.
func BenchmarkPushSpread(b *testing.B) {
	s := New()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := s.Sub(next.Add(1), "orders")
		i := 0
		for pb.Next() {
			c.Push(i%16 != 0, i%8 == 0)
			i++
		}
	})
}

func BenchmarkSnapshot500(b *testing.B) {
	s := New()
	for i := range 500 {
		c := s.Sub(int64(i), "topic-"+strconv.Itoa(i%50))
		for j := range 10 {
			c.Push(j != 0, false)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(s.Snapshot().Subscriptions) != 500 {
			b.Fatal("lost subscriptions")
		}
	}
}

// BenchmarkSub reports the memory of one subscription's counter.
func BenchmarkSub(b *testing.B) {
	s := New()
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		s.Sub(i, "orders")
		i++
	}
}
