package failures

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/testsrv"
)

func client(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestIDsUniqueAndIncreasing(t *testing.T) {
	g := NewIDs()
	const workers, per = 8, 2000
	var mu sync.Mutex
	seen := make(map[uint64]bool, workers*per)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := uint64(0)
			local := make([]uint64, 0, per)
			for i := 0; i < per; i++ {
				id := g.Next()
				require.NotZero(t, id)
				require.Greater(t, id, prev)
				prev = id
				local = append(local, id)
			}
			mu.Lock()
			for _, id := range local {
				seen[id] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Len(t, seen, workers*per)
}

func TestRecordsWrittenAndQueried(t *testing.T) {
	r := testsrv.StartRedis(t)
	c := client(t, r.Addr)
	var lost []*Record
	var mu sync.Mutex
	s := New(c, Config{Key: "{t}:failures", MaxLen: 1000, Fallback: func(rec *Record, err error) {
		mu.Lock()
		lost = append(lost, rec)
		mu.Unlock()
	}})
	ids := NewIDs()
	first := ids.Next()
	s.Add(&Record{LogID: first, JobID: "1.000000-5-17", Topic: "order_paid", SubID: 17, SubscriberID: 3,
		URL: "http://127.0.0.1/hook", Error: "status 500: oops", RetryTimes: 0})
	s.Add(&Record{LogID: first, JobID: "1.000000-5-17", Topic: "order_paid", SubID: 17, Final: GivenUp, RetryTimes: 10})
	s.Add(&Record{LogID: ids.Next(), JobID: "2.000000-6-18", Topic: "other", SubID: 18, Final: Success, RetryTimes: 2})
	s.Close(context.Background())
	require.Empty(t, lost)

	got, err := Query(context.Background(), c, "{t}:failures", 100, func(rec *Record) bool { return rec.SubID == 17 })
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, GivenUp, got[0].Final, "newest first")
	require.Equal(t, 10, got[0].RetryTimes)
	require.Equal(t, first, got[1].LogID)
	require.Equal(t, "status 500: oops", got[1].Error)
	require.Equal(t, "http://127.0.0.1/hook", got[1].URL)
	require.Equal(t, int64(3), got[1].SubscriberID)
	require.WithinDuration(t, time.Now(), got[1].Time, time.Minute)
}

func TestRedisDownFallsBack(t *testing.T) {
	r := testsrv.StartRedis(t)
	c := client(t, r.Addr)
	r.Kill()
	fell := make(chan *Record, 1)
	s := New(c, Config{Key: "{t}:failures", Timeout: 500 * time.Millisecond, Fallback: func(rec *Record, err error) {
		require.Error(t, err)
		fell <- rec
	}})
	s.Add(&Record{LogID: 42, Topic: "x", SubID: 1})
	select {
	case rec := <-fell:
		require.Equal(t, uint64(42), rec.LogID)
	case <-time.After(10 * time.Second):
		t.Fatal("record neither written nor handed to the fallback")
	}
	s.Close(context.Background())
	require.Equal(t, uint64(1), s.Lost.Load())
}

func TestNoClientFallsBack(t *testing.T) {
	fell := make(chan *Record, 1)
	s := New(nil, Config{Key: "k", Fallback: func(rec *Record, err error) { fell <- rec }})
	s.Add(&Record{LogID: 7})
	s.Close(context.Background())
	require.Equal(t, uint64(7), (<-fell).LogID)
}

func TestGivenUpRecordCanBeResent(t *testing.T) {
	r := testsrv.StartRedis(t)
	bs := testsrv.StartBeanstalkd(t)
	c := client(t, r.Addr)
	m := message.Message{Topic: []byte("order_paid"), Body: []byte{0xa2, 0xff, 0x00}, Time: 1.5, OriginJobID: 7,
		RetryTimes: 9, LogID: 55}
	job := message.AppendRetryJob(nil, &m) // binary, as reserved from the retry tube
	s := New(c, Config{Key: "{t}:failures"})
	s.Add(&Record{LogID: 55, Topic: "order_paid", SubID: 17, Final: GivenUp, RetryTimes: 10, Job: job})
	s.Close(context.Background())

	recs, err := Query(context.Background(), c, "{t}:failures", 10, func(r *Record) bool { return r.Final == GivenUp })
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, job, recs[0].Job, "the job survives Redis byte for byte")

	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	defer pool.Close()
	require.NoError(t, Resend(context.Background(), pool, recs[0], "sub-queue/"))
	id, body, err := pool.Peek(context.Background(), 0, "order_paid/sub-queue/17", "ready")
	require.NoError(t, err)
	require.NotZero(t, id)
	var got message.Message
	require.NoError(t, message.Decode(body, &got))
	require.Equal(t, int64(17), got.SubscriptionID)
	require.Zero(t, got.RetryTimes, "a fresh start")
	require.Zero(t, got.LogID)
	require.Equal(t, uint64(7), got.OriginJobID, "same jobid for the subscriber")
	require.Equal(t, m.Body, got.Body)

	require.Error(t, Resend(context.Background(), pool, &Record{LogID: 1, Topic: "t", SubID: 1}, "sub-queue/"), "no job, no resend")
}
