package subs

import "testing"

var windowField = onOffField{key: "adaptive_window", val: func(s *Subscription) *string { return &s.AdaptiveWindow }}

func TestAdaptiveWindowField(t *testing.T) { checkOnOffValidated(t, windowField) }

// TestSourcesAdaptiveWindow: adaptive_window decodes from the file and
// from the Redis JSON; a bad value keeps the last good version.
func TestSourcesAdaptiveWindow(t *testing.T) {
	t.Run("file", func(t *testing.T) { checkOnOffHeld(t, fileSourceOf(t), windowField) })
	t.Run("redis", func(t *testing.T) { checkOnOffHeld(t, redisSourceOf(t, "{window}"), windowField) })
}
