package connpool

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// Throughput of the pool next to a raw hand-pipelined client on one
// connection, measured in the same run. Each pool sub-benchmark reports
// "%raw": its rate as a percentage of the raw client's.
//
//	go test -run '^$' -bench . -benchmem -count 3 ./connpool/

const benchTube = "bench"

var benchGoroutines = []int{1, 64, 512}

func benchBody() []byte { return bytes.Repeat([]byte("m"), 256) }

func benchPool(b *testing.B, addr string) *Pool {
	b.Helper()
	p, err := New(context.Background(), Config{
		Addrs:  []string{addr},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(b, err)
	require.True(b, p.Healthy(0))
	return p
}

// rawPut writes n put commands through one connection in large buffers
// while a reader counts the INSERTED replies: the fastest a client can put.
func rawPut(b *testing.B, addr string, n int, body []byte) {
	conn, err := net.Dial("tcp", addr)
	require.NoError(b, err)
	defer conn.Close()
	var cmd []byte
	cmd = appendWord(cmd, "use", benchTube)
	var one []byte
	one = appendPut(one, 1024, 0, 60, body)
	const perChunk = 128
	chunk := bytes.Repeat(one, perChunk)

	done := make(chan error, 1)
	go func() {
		br := bufio.NewReaderSize(conn, 64<<10)
		for i := 0; i <= n; i++ { // +1: the use reply
			line, err := br.ReadSlice('\n')
			if err != nil {
				done <- err
				return
			}
			if i > 0 && !bytes.HasPrefix(line, []byte("INSERTED ")) {
				done <- io.ErrUnexpectedEOF
				return
			}
		}
		done <- nil
	}()
	_, err = conn.Write(cmd)
	require.NoError(b, err)
	for left := n; left > 0; left -= perChunk {
		c := chunk
		if left < perChunk {
			c = chunk[:left*len(one)]
		}
		_, err := conn.Write(c)
		require.NoError(b, err)
	}
	require.NoError(b, <-done)
}

// rawReserveDelete reserves and deletes n jobs through one connection,
// window reserves at a time, each round trip carrying the deletes of the
// previous one.
func rawReserveDelete(b *testing.B, addr string, n, window int) {
	conn, err := net.Dial("tcp", addr)
	require.NoError(b, err)
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 256<<10)
	var wbuf []byte
	wbuf = appendWord(wbuf, "watch", benchTube)
	wbuf = appendWord(wbuf, "ignore", "default")
	expect := 2 // replies to read before the first reserves
	got := 0
	var ids []uint64
	for got < n {
		k := min(window, n-got)
		for range k {
			wbuf = append(wbuf, "reserve-with-timeout 0\r\n"...)
		}
		_, err := conn.Write(wbuf)
		require.NoError(b, err)
		wbuf = wbuf[:0]
		for range expect { // deletes and other non-job replies
			_, err := br.ReadSlice('\n')
			require.NoError(b, err)
		}
		ids = ids[:0]
		for range k {
			line, err := br.ReadSlice('\n')
			require.NoError(b, err)
			rp, err := parseReply(line)
			require.NoError(b, err)
			require.Equal(b, rReserved, rp.kind, "%q", line)
			_, err = br.Discard(int(rp.b) + 2)
			require.NoError(b, err)
			ids = append(ids, rp.a)
		}
		for _, id := range ids {
			wbuf = appendID(wbuf, "delete", id)
		}
		expect = len(ids)
		got += k
	}
	_, err = conn.Write(wbuf)
	require.NoError(b, err)
	for range expect {
		_, err := br.ReadSlice('\n')
		require.NoError(b, err)
	}
}

// rawWindow is the raw consumer's reserves per round trip: about what the
// pool keeps in flight (2 links × Batch 16).
const rawWindow = 32

// timeRaw runs a raw client against a fresh server with the benchmark timer
// stopped and returns its ns per operation. run returns the time to count
// (e.g. without filling the tube) or 0 to count all of it.
func timeRaw(b *testing.B, run func(addr string) time.Duration) float64 {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	srv := testsrv.StartBeanstalkd(b)
	defer srv.Stop()
	start := time.Now()
	d := run(srv.Addr)
	if d == 0 {
		d = time.Since(start)
	}
	return float64(d.Nanoseconds()) / float64(b.N)
}

// fill stores n jobs in benchTube (not timed).
func fill(b *testing.B, addr string, n int, body []byte) {
	b.Helper()
	rawPut(b, addr, n, body)
}

func BenchmarkPut(b *testing.B) {
	body := benchBody()
	b.Run("raw", func(b *testing.B) {
		srv := testsrv.StartBeanstalkd(b)
		defer srv.Stop()
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		start := time.Now()
		rawPut(b, srv.Addr, b.N, body)
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
	})
	for _, g := range benchGoroutines {
		b.Run("pool/g="+strconv.Itoa(g), func(b *testing.B) {
			// The raw client's rate for the same N, just before: the ratio
			// compares runs made under the same machine load.
			rawNs := timeRaw(b, func(addr string) time.Duration { rawPut(b, addr, b.N, body); return 0 })
			srv := testsrv.StartBeanstalkd(b)
			defer srv.Stop()
			p := benchPool(b, srv.Addr)
			defer p.Close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			for range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := p.Put(ctx, -1, benchTube, body, 1024, 0, time.Minute); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			b.StopTimer()
			b.ReportMetric(1e9/ns, "ops/s")
			b.ReportMetric(100*rawNs/ns, "%raw")
		})
	}
}

func BenchmarkReserveDelete(b *testing.B) {
	body := benchBody()
	b.Run("raw", func(b *testing.B) {
		srv := testsrv.StartBeanstalkd(b)
		defer srv.Stop()
		fill(b, srv.Addr, b.N, body)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		start := time.Now()
		rawReserveDelete(b, srv.Addr, b.N, rawWindow)
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
	})
	for _, g := range benchGoroutines {
		// g goroutines take the reserved jobs from the handler's queue and
		// delete them, as the engine's senders do.
		b.Run("pool/g="+strconv.Itoa(g), func(b *testing.B) {
			rawNs := timeRaw(b, func(addr string) time.Duration {
				fill(b, addr, b.N, body)
				start := time.Now()
				rawReserveDelete(b, addr, b.N, rawWindow)
				return time.Since(start)
			})
			srv := testsrv.StartBeanstalkd(b)
			defer srv.Stop()
			fill(b, srv.Addr, b.N, body)
			p := benchPool(b, srv.Addr)
			defer p.Close()
			jobs := make(chan *Job, 1024)
			var deleted atomic.Int64
			all := make(chan struct{})
			var wg sync.WaitGroup
			for range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range jobs {
						j.Delete()
						if deleted.Add(1) == int64(b.N) {
							close(all)
						}
					}
				}()
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			c := p.NewConsumer("bench", ConsumerConfig{}, func(j *Job) { jobs <- j })
			c.Watch(benchTube)
			<-all
			ns := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			b.StopTimer()
			// The last deletes may wait behind a long-poll reserve: not timed.
			require.NoError(b, c.Close(context.Background()))
			close(jobs)
			wg.Wait()
			b.ReportMetric(1e9/ns, "ops/s")
			b.ReportMetric(100*rawNs/ns, "%raw")
		})
	}
}
