package alert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

func TestReceivers(t *testing.T) {
	withDefaults := func(c *config.Config) {
		c.DefaultAlarmReceiver, c.DefaultAlarmChan = "ops-team", "wechat"
		c.GlobalMessageBlockedAlertThreshold = 1
	}
	tests := []struct {
		name     string
		cfg      func(*config.Config)
		off      []string // gateways turned off
		sub      func(*subs.Subscription)
		global   bool
		want     map[string]Message // gateway -> what it got (Subject, Content not compared)
		wantNote string
	}{
		{
			name: "all three of the subscription's own",
			cfg:  withDefaults,
			sub: func(s *subs.Subscription) {
				s.AlertEmails, s.AlertPhones, s.AlertReceiver = "a@example.com, b@example.com", "13800000000;13900000000", "dev-lead"
			},
			want: map[string]Message{
				GatewayEmail:    {To: []string{"a@example.com", "b@example.com"}},
				GatewaySms:      {To: []string{"13800000000", "13900000000"}},
				GatewayPlatform: {To: []string{"dev-lead"}, Chan: "wechat"},
			},
		},
		{
			name: "emails only",
			cfg:  withDefaults,
			sub:  func(s *subs.Subscription) { s.AlertEmails = "a@example.com" },
			want: map[string]Message{GatewayEmail: {To: []string{"a@example.com"}}},
		},
		{
			name: "none named: the default receiver through the platform",
			cfg:  withDefaults,
			want: map[string]Message{GatewayPlatform: {To: []string{"ops-team"}, Chan: "wechat"}},
		},
		{
			name: "named ones unreachable (email gateway off): the default receiver",
			cfg:  withDefaults,
			off:  []string{GatewayEmail},
			sub:  func(s *subs.Subscription) { s.AlertEmails = "a@example.com" },
			want: map[string]Message{GatewayPlatform: {To: []string{"ops-team"}, Chan: "wechat"}},
		},
		{
			name:     "none named and no default receiver: not sent",
			want:     map[string]Message{},
			wantNote: "no receiver",
		},
		{
			name:     "none named, platform off: not sent",
			cfg:      withDefaults,
			off:      []string{GatewayPlatform},
			want:     map[string]Message{},
			wantNote: "no receiver",
		},
		{
			name:   "global: the default receiver",
			cfg:    withDefaults,
			global: true,
			want:   map[string]Message{GatewayPlatform: {To: []string{"ops-team"}, Chan: "wechat"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := map[string]*recorder{GatewayEmail: {}, GatewaySms: {}, GatewayPlatform: {}}
			opt, got := deliveries()
			opts := []Option{opt}
			for name, r := range recs {
				opts = append(opts, WithGateway(name, r))
			}
			for _, name := range tt.off {
				opts = append(opts, WithGateway(name, nil))
			}
			before := unroutedCount(t)
			m, _ := newMonitor(t, tt.cfg, opts...)
			runMonitor(t, m)
			if tt.global {
				m.GlobalBacklog(1, 0)
			} else {
				m.ChannelBacklog(newSub(t, 1, tt.sub), 1<<20)
			}
			names := map[string]bool{}
			for range tt.want {
				d := next(t, got)
				require.NoError(t, d.err)
				names[d.gateway] = true
			}
			for name, want := range tt.want {
				require.True(t, names[name], "delivered through %s", name)
				msgs := recs[name].sent()
				require.Len(t, msgs, 1, name)
				assert.Equal(t, want.To, msgs[0].To, name)
				assert.Equal(t, want.Chan, msgs[0].Chan, name)
				assert.Equal(t, m.Recent(1)[0].Subject, msgs[0].Subject)
				assert.Equal(t, m.Recent(1)[0].Text, msgs[0].Content, "no template: plain text")
			}
			for name, r := range recs {
				if _, ok := tt.want[name]; !ok {
					assert.Empty(t, r.sent(), name)
				}
			}
			a := m.Recent(1)[0]
			assert.Len(t, a.Delivered, len(tt.want))
			assert.Empty(t, a.Failed)
			assert.Equal(t, tt.wantNote, a.Note)
			if tt.wantNote != "" {
				assert.Equal(t, before+1, unroutedCount(t), "unrouted counted")
			}
		})
	}
}

// unroutedCount reads medispatcher_alerts_unrouted_total.
func unroutedCount(tb testing.TB) uint64 {
	tb.Helper()
	return newMonitorMetrics().unrouted.Get()
}

func TestSplitList(t *testing.T) {
	assert.Equal(t, []string{"a", "b", "c", "d"}, splitList(" a,b ;c\n d,,"))
	assert.Empty(t, splitList(" , ;"))
}

func TestRecentNewestFirstAndBounded(t *testing.T) {
	m, clk := newMonitor(t, nil, WithRecent(3))
	for id := int64(1); id <= 5; id++ {
		m.ChannelBacklog(newSub(t, id, nil), 1<<20)
		clk.Advance(time.Second)
	}
	got := m.Recent(10)
	require.Len(t, got, 3)
	assert.Equal(t, []int64{5, 4, 3}, []int64{got[0].SubID, got[1].SubID, got[2].SubID})
	assert.Len(t, m.Recent(2), 2)
	assert.Empty(t, m.Recent(0))
	assert.NotNil(t, got[0].Delivered, "JSON shows [] rather than null")
}
