package subs

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

func TestCircuitBreakerField(t *testing.T) {
	for _, v := range []string{"", BreakerOn, BreakerOff} {
		s := &Subscription{ID: 1, Topic: "t", URL: "http://x/", CircuitBreaker: v}
		if err := s.Validate(Limits{}); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	s := &Subscription{ID: 1, Topic: "t", URL: "http://x/", CircuitBreaker: "yes"}
	err := s.Validate(Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "circuit_breaker") {
		t.Fatalf("circuit_breaker = yes: %v", err)
	}
	a, b := *s, *s
	b.CircuitBreaker = BreakerOff
	if a.Equal(&b) {
		t.Fatal("a change of circuit_breaker is no change")
	}
}

// TestSourcesCircuitBreaker: circuit_breaker decodes from the file and
// from the Redis JSON; a bad value keeps the last good version.
func TestSourcesCircuitBreaker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	t.Run("file", func(t *testing.T) {
		checkBreakerHeld(t, func(log *slog.Logger) hookedSource { return NewFileSource(path, testLimits, log) },
			func(list ...*Subscription) { require.NoError(t, WriteFile(path, list)) })
	})
	t.Run("redis", func(t *testing.T) {
		srv := testsrv.StartRedis(t)
		c := newRedisClient(t, srv.Addr)
		const prefix = "{breaker}"
		checkBreakerHeld(t,
			func(log *slog.Logger) hookedSource {
				return NewRedisSource(newRedisClient(t, srv.Addr), prefix, testLimits, log)
			},
			func(list ...*Subscription) {
				for _, s := range list {
					require.NoError(t, RedisPut(context.Background(), c, prefix, s))
				}
			})
	})
}

func checkBreakerHeld(t *testing.T, newSrc func(*slog.Logger) hookedSource, write func(list ...*Subscription)) {
	t.Helper()
	good := sub(1, "order_paid")
	good.CircuitBreaker = BreakerOff
	write(good)
	log, _ := testLogger()
	src := newSrc(log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	s := waitSet(t, sets, "the subscription", hasIDs(1))
	assert.Equal(t, BreakerOff, s.ByID(1).CircuitBreaker)

	bad := *good
	bad.CircuitBreaker = "sometimes"
	write(&bad, sub(2, "b"))
	call := nextCall(t, calls)
	assert.Equal(t, []string{"circuit_breaker"}, call.fields)
	s = waitSet(t, sets, "2 added", hasIDs(1, 2))
	assert.True(t, s.ByID(1).Equal(good), "1 keeps its last good version")
}
