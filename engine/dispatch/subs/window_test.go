package subs

import (
	"errors"
	"strings"
	"testing"
)

func TestAdaptiveWindowField(t *testing.T) {
	for _, v := range []string{"", WindowOn, WindowOff} {
		s := &Subscription{ID: 1, Topic: "t", URL: "http://x/", AdaptiveWindow: v}
		if err := s.Validate(Limits{}); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	s := &Subscription{ID: 1, Topic: "t", URL: "http://x/", AdaptiveWindow: "auto"}
	err := s.Validate(Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "adaptive_window") {
		t.Fatalf("adaptive_window = auto: %v", err)
	}
	a, b := *s, *s
	b.AdaptiveWindow = WindowOff
	if a.Equal(&b) {
		t.Fatal("a change of adaptive_window is no change")
	}
}

// TestSourcesAdaptiveWindow: adaptive_window decodes from the file and
// from the Redis JSON; a bad value keeps the last good version.
func TestSourcesAdaptiveWindow(t *testing.T) {
	f := onOffField{key: "adaptive_window", val: func(s *Subscription) *string { return &s.AdaptiveWindow }}
	t.Run("file", func(t *testing.T) { checkOnOffHeld(t, fileSourceOf(t), f) })
	t.Run("redis", func(t *testing.T) { checkOnOffHeld(t, redisSourceOf(t, "{window}"), f) })
}
