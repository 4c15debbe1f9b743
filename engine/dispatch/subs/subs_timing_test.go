package subs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

func BenchmarkPick(b *testing.B) {
	set, err := ParseURLs("http://a.example/h\nhttp://b.example/h\n[T_ENV:staging]http://s.example/h\n[T_ENV:prod]http://p.example/h")
	require.NoError(b, err)
	for _, env := range []string{"", "PROD", "other"} {
		b.Run("env="+env, func(b *testing.B) {
			b.ReportAllocs()
			var r uint32
			for b.Loop() {
				r += 0x9e3779b9
				if _, ok := set.Pick(env, r); !ok {
					b.Fatal("no pick")
				}
			}
		})
	}
}

func BenchmarkByTopic(b *testing.B) {
	subs := make([]*Subscription, 0, 1000)
	for i := int64(1); i <= 1000; i++ {
		subs = append(subs, sub(i, fmt.Sprintf("topic_%03d", i%300)))
	}
	set := NewSet(subs)
	topic := []byte("topic_123")
	b.ReportAllocs()
	for b.Loop() {
		if len(set.ByTopic(topic)) == 0 {
			b.Fatal("not found")
		}
	}
}

// BenchmarkRedisRead compares the two ways of following a change with
// 1000 subscriptions in the hash: re-reading the changed field (what the
// source does) or the whole hash.
func BenchmarkRedisRead(b *testing.B) {
	srv := testsrv.StartRedis(b)
	c := newRedisClient(b, srv.Addr)
	ctx := context.Background()
	for i := int64(1); i <= 1000; i++ {
		require.NoError(b, RedisPut(ctx, c, "", sub(i, "topic_"+strconv.FormatInt(i%300, 10))))
	}
	r := NewRedisSource(c, "", testLimits, slog.New(slog.NewTextHandler(io.Discard, nil)))
	state := make(map[int64]*Subscription)
	_, err := r.readAll(ctx, state)
	require.NoError(b, err)
	b.Run("hmget_one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			require.NoError(b, r.readIDs(ctx, []int64{500}, state))
			_ = NewSet(setValues(state))
		}
	})
	b.Run("hgetall", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := r.readAll(ctx, state)
			require.NoError(b, err)
			_ = NewSet(setValues(state))
		}
	})
}

// BenchmarkRedisPropagation measures a change's way from RedisPut to the
// new Set applied by a running source (the bar is 1 s).
func BenchmarkRedisPropagation(b *testing.B) {
	srv := testsrv.StartRedis(b)
	writer := newRedisClient(b, srv.Addr)
	ctx := context.Background()
	for i := int64(1); i <= 1000; i++ {
		require.NoError(b, RedisPut(ctx, writer, "", sub(i, "topic_"+strconv.FormatInt(i%300, 10))))
	}
	sets := runSource(b, NewRedisSource(newRedisClient(b, srv.Addr), "", testLimits,
		slog.New(slog.NewTextHandler(io.Discard, nil))))
	waitSet(b, sets, "the initial set", func(s *Set) bool { return s.Len() == 1000 })
	s := sub(500, "changing")
	b.ReportAllocs()
	for b.Loop() {
		s.IntervalMS++
		require.NoError(b, RedisPut(ctx, writer, "", s))
		want := s.IntervalMS
		waitSet(b, sets, "the change", func(set *Set) bool { return set.ByID(500).IntervalMS == want })
	}
}

func setValues(m map[int64]*Subscription) []*Subscription {
	out := make([]*Subscription, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	return out
}
