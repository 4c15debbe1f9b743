package subs

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var breakerField = onOffField{key: "circuit_breaker", val: func(s *Subscription) *string { return &s.CircuitBreaker }}

func TestCircuitBreakerField(t *testing.T) { checkOnOffValidated(t, breakerField) }

// checkOnOffValidated: "", "on" and "off" are valid, anything else is
// refused naming the key; a change of it is a change.
func checkOnOffValidated(t *testing.T, f onOffField) {
	t.Helper()
	for _, v := range []string{"", "on", "off"} {
		s := &Subscription{ID: 1, Topic: "t", URL: "http://x/"}
		*f.val(s) = v
		if err := s.Validate(Limits{}); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	s := &Subscription{ID: 1, Topic: "t", URL: "http://x/"}
	*f.val(s) = "yes"
	err := s.Validate(Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), f.key) {
		t.Fatalf("%s = yes: %v", f.key, err)
	}
	a, b := *s, *s
	*f.val(&b) = "off"
	if a.Equal(&b) {
		t.Fatalf("a change of %s is no change", f.key)
	}
}

// TestSourcesCircuitBreaker: circuit_breaker decodes from the file and
// from the Redis JSON; a bad value keeps the last good version.
func TestSourcesCircuitBreaker(t *testing.T) {
	t.Run("file", func(t *testing.T) { checkOnOffHeld(t, fileSourceOf(t), breakerField) })
	t.Run("redis", func(t *testing.T) { checkOnOffHeld(t, redisSourceOf(t, "{breaker}"), breakerField) })
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
