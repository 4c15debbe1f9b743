package failures

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/testsrv"
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
