package subs

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	// The longest topic whose retry tube "<topic>/sub-queue/17/FAIL" fits.
	maxTopic := strings.Repeat("t", MaxTubeName-len("/sub-queue/17/FAIL"))
	tests := []struct {
		name   string
		change func(s *Subscription)
		lim    *Limits // testLimits when nil
		field  string  // "" = valid
		allow  string  // part of the message
	}{
		{"valid", func(s *Subscription) {}, nil, "", ""},
		{"all tube characters", func(s *Subscription) { s.Topic = "aZ09-+/;.$_()" }, nil, "", ""},
		{"longest topic", func(s *Subscription) { s.Topic = maxTopic }, nil, "", ""},
		{"counts at their bounds", func(s *Subscription) {
			s.Concurrency, s.RetryConcurrency, s.TimeoutMS = 50, 20, 30000
		}, nil, "", ""},
		{"no bounds when limits are zero", func(s *Subscription) { s.Concurrency = 1 << 20 }, &Limits{}, "", ""},
		{"rate and burst", func(s *Subscription) { s.Rate, s.Burst = 2.5, 10 }, nil, "", ""},
		{"only tagged URLs", func(s *Subscription) { s.URL = "[T_ENV:prod]http://p.example" }, nil, "", ""},
		{"drop action 2", func(s *Subscription) { s.DropThreshold, s.DropAction = 100, DropDrop }, nil, "", ""},

		{"id 0", func(s *Subscription) { s.ID = 0 }, nil, "id", "> 0"},
		{"negative id", func(s *Subscription) { s.ID = -3 }, nil, "id", "> 0"},
		{"empty topic", func(s *Subscription) { s.Topic = "" }, nil, "topic", "empty"},
		{"topic starting with -", func(s *Subscription) { s.Topic = "-x" }, nil, "topic", "'-'"},
		{"topic with space", func(s *Subscription) { s.Topic = "order paid" }, nil, "topic", "byte 5"},
		{"topic with colon", func(s *Subscription) { s.Topic = "a:b" }, nil, "topic", "A-Za-z0-9"},
		{"topic too long for the retry tube", func(s *Subscription) { s.Topic = maxTopic + "t" }, nil, "topic", "201 bytes"},
		{"longer prefix", func(s *Subscription) { s.Topic = maxTopic }, &Limits{ChannelPrefix: "sub-queue-x/"}, "topic", "beanstalkd allows 200"},
		{"negative subscriber", func(s *Subscription) { s.SubscriberID = -1 }, nil, "subscriber_id", ">= 0"},
		{"no URL", func(s *Subscription) { s.URL = " \n " }, nil, "url", "at least one"},
		{"bad URL line", func(s *Subscription) { s.URL = "http://ok.example\nnot a url" }, nil, "url", "line 2"},
		{"timeout over max", func(s *Subscription) { s.TimeoutMS = 30001 }, nil, "timeout_ms", "0..30000"},
		{"negative timeout", func(s *Subscription) { s.TimeoutMS = -1 }, nil, "timeout_ms", "0..30000"},
		{"concurrency over max", func(s *Subscription) { s.Concurrency = 51 }, nil, "concurrency", "0..50"},
		{"retry concurrency over max", func(s *Subscription) { s.RetryConcurrency = 21 }, nil, "retry_concurrency", "0..20"},
		{"negative interval", func(s *Subscription) { s.IntervalMS = -5 }, nil, "interval_ms", ">= 0"},
		{"negative rate", func(s *Subscription) { s.Rate = -1 }, nil, "rate", ">= 0"},
		{"NaN rate", func(s *Subscription) { s.Rate = math.NaN() }, nil, "rate", "finite"},
		{"infinite rate", func(s *Subscription) { s.Rate = math.Inf(1) }, nil, "rate", "finite"},
		{"negative burst", func(s *Subscription) { s.Burst = -1 }, nil, "burst", ">= 0"},
		{"negative drop threshold", func(s *Subscription) { s.DropThreshold = -1 }, nil, "drop_threshold", ">= 0"},
		{"negative alert backlog threshold", func(s *Subscription) { s.AlertBacklogThreshold = -1 }, nil, "alert_backlog_threshold", ">= 0"},
		{"negative alert interval", func(s *Subscription) { s.AlertIntervalS = -5 }, nil, "alert_interval_s", ">= 0"},
		{"drop action 3", func(s *Subscription) { s.DropAction = 3 }, nil, "drop_action", "0 (keep)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sub(17, "order_paid")
			tt.change(s)
			lim := testLimits
			if tt.lim != nil {
				lim = *tt.lim
			}
			before := *s
			err := s.Validate(lim)
			if !math.IsNaN(s.Rate) { // NaN equals nothing
				assert.Equal(t, before, *s, "Validate must not modify the subscription")
			}
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tt.field, ve.Field)
			assert.Equal(t, s.ID, ve.ID)
			assert.Contains(t, err.Error(), tt.field+" = ")
			assert.Contains(t, err.Error(), tt.allow)
			assert.Contains(t, err.Error(), "subscription ")
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := sub(5, "")
	s.Concurrency = 999
	s.DropAction = -1
	err := s.Validate(testLimits)
	require.Error(t, err)
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ve *ValidationError
		require.True(t, errors.As(e, &ve))
		fields = append(fields, ve.Field)
	}
	assert.Equal(t, []string{"topic", "concurrency", "drop_action"}, fields)
	assert.Contains(t, err.Error(), "subscription 5: concurrency = 999: must be 0..50")
}

func TestEffectiveBurst(t *testing.T) {
	tests := []struct {
		rate  float64
		burst int
		want  int
	}{
		{0, 0, 1},
		{0.5, 0, 1},
		{1, 0, 1},
		{2.1, 0, 1},
		{100, 0, 5},
		{210, 0, 11},
		{100, 7, 7},
	}
	for _, tt := range tests {
		s := Subscription{Rate: tt.rate, Burst: tt.burst}
		assert.Equal(t, tt.want, s.EffectiveBurst(), "rate %v burst %d", tt.rate, tt.burst)
	}
}

func TestTubesAndEqual(t *testing.T) {
	s := sub(17, "order_paid")
	assert.Equal(t, "order_paid/sub-queue/17", s.ChannelTube(DefaultChannelPrefix))
	assert.Equal(t, "order_paid/sub-queue/17/FAIL", s.RetryTube(DefaultChannelPrefix))

	o := *s
	assert.True(t, s.Equal(&o))
	in := NewSet([]*Subscription{s}).ByID(17) // has its URLs parsed
	assert.True(t, in.Equal(s), "parsed URLs do not count")
	o.IntervalMS = 1
	assert.False(t, s.Equal(&o))
	assert.False(t, s.Equal(nil))
	assert.True(t, (*Subscription)(nil).Equal(nil))
}
