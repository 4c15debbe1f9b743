package subs

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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
	f := onOffField{key: "circuit_breaker", val: func(s *Subscription) *string { return &s.CircuitBreaker }}
	t.Run("file", func(t *testing.T) { checkOnOffHeld(t, fileSourceOf(t), f) })
	t.Run("redis", func(t *testing.T) { checkOnOffHeld(t, redisSourceOf(t, "{breaker}"), f) })
}

// onOffField is a subscription's "on"/"off"/"" key and its field.
type onOffField struct {
	key string
	val func(*Subscription) *string
}

// checkOnOffHeld: the field decodes from ts; a bad value keeps the
// subscription's last good version.
func checkOnOffHeld(t *testing.T, ts testSource, f onOffField) {
	t.Helper()
	good := sub(1, "order_paid")
	*f.val(good) = "off"
	ts.write(good)
	log, _ := testLogger()
	src := ts.newSrc(log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	s := waitSet(t, sets, "the subscription", hasIDs(1))
	assert.Equal(t, "off", *f.val(s.ByID(1)))

	bad := *good
	*f.val(&bad) = "sometimes"
	ts.write(&bad, sub(2, "b"))
	call := nextCall(t, calls)
	assert.Equal(t, []string{f.key}, call.fields)
	s = waitSet(t, sets, "2 added", hasIDs(1, 2))
	assert.True(t, s.ByID(1).Equal(good), "1 keeps its last good version")
}
