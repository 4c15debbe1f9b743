package subs

import (
	"errors"
	"strings"
	"testing"
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
