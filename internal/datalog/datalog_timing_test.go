package datalog

import (
	"context"
	"testing"
	"time"
)

var (
	benchTopic = []byte("order_paid")
	benchURL   = "http://10.0.0.5:8080/hooks/order?x=1"
	benchBody  = []byte(`{"amount":1999,"currency":"CNY","id":1234567,"items":[{"sku":"A-1","qty":2}],"user":"u-42"}`)
)

// sentLineLen is the length of the benchmark's SENT line, for SetBytes.
func sentLineLen() int64 {
	w := &Writer{cfg: Config{Now: time.Now}, queue: make(chan *line, 1)}
	_ = w.Sent(false, benchTopic, 17, true, 200, 3021*time.Microsecond, benchURL, benchBody)
	l := <-w.queue
	defer putLine(l)
	return int64(len(l.b))
}

func openBench(b *testing.B) *Writer {
	b.Helper()
	w, err := Open(Config{Dir: b.TempDir(), Split: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := w.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return w
}

// report adds the share of lines the writer dropped because the caller
// outran the disk (SENT lines are dropped, not waited for).
func report(b *testing.B, w *Writer) {
	b.StopTimer()
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkSent is the hot path: one SENT line per push, from one goroutine.
func BenchmarkSent(b *testing.B) {
	w := openBench(b)
	b.ReportAllocs()
	b.SetBytes(sentLineLen())
	for b.Loop() {
		_ = w.Sent(false, benchTopic, 17, true, 200, 3021*time.Microsecond, benchURL, benchBody)
	}
	report(b, w)
}

// BenchmarkSentParallel: SENT lines from every P at once (push routines).
func BenchmarkSentParallel(b *testing.B) {
	w := openBench(b)
	b.ReportAllocs()
	b.SetBytes(sentLineLen())
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = w.Sent(false, benchTopic, 17, true, 200, 3021*time.Microsecond, benchURL, benchBody)
		}
	})
	report(b, w)
}

// BenchmarkSentDiscard: the caller's cost against Discard (counting only).
func BenchmarkSentDiscard(b *testing.B) {
	w := Discard()
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Sent(false, benchTopic, 17, true, 200, 3021*time.Microsecond, benchURL, benchBody)
	}
}

// BenchmarkRedistFail: an important line carrying a 1 KiB job in base64.
func BenchmarkRedistFail(b *testing.B) {
	w := openBench(b)
	job := make([]byte, 1024)
	for i := range job {
		job[i] = byte(i)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(job)))
	for b.Loop() {
		_ = w.RedistFail("order_paid", 17, job, "put order_paid/sub-queue/17: i/o timeout")
	}
	report(b, w)
}

// BenchmarkRedistFailParallel: durable lines from as many goroutines as
// the daemon's redistribution workers (50 by default): each caller waits
// for its line's write and fsync, but lines queued together share both
// (group commit).
func BenchmarkRedistFailParallel(b *testing.B) {
	for _, fsync := range []string{FsyncInterval, FsyncNever} {
		b.Run("fsync="+fsync, func(b *testing.B) {
			w, err := Open(Config{Dir: b.TempDir(), Split: true, Fsync: fsync})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close(context.Background())
			job := make([]byte, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(job)))
			b.SetParallelism(25) // × GOMAXPROCS (2) = 50 callers
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := w.RedistFail("order_paid", 17, job, "put order_paid/sub-queue/17: i/o timeout"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkParseLine: the replay tool's side, a REDISTFAIL line with a
// 1 KiB job.
func BenchmarkParseLine(b *testing.B) {
	job := make([]byte, 1024)
	line := fixedTime.AppendFormat(nil, TimeLayout)
	line = append(line, " REDISTFAIL"...)
	line = appendFields(line, []Field{{"topic", "order_paid"}, {"sub", "17"}, {"reason", "put failed: i/o timeout"}}, job)
	line = append(line, '\n')
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
