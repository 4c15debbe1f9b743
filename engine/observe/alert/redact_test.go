package alert

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// TestAlertTextMasksUserinfo: an alert lists the subscription's URLs with
// their passwords masked.
func TestAlertTextMasksUserinfo(t *testing.T) {
	m, _ := newMonitor(t, nil)
	s := newSub(t, 5, func(s *subs.Subscription) {
		s.URL = "http://user:hunter2@hooks.example/a\nhttps://tok3n@hooks.example/b"
		s.AlertRetryThreshold = 1
	})
	m.PushFailed(s, 1)
	alerts := m.Recent(10)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Contains(t, a.Text, "URLs: http://user:xxxxx@hooks.example/a https://xxxxx@hooks.example/b")
	assert.NotContains(t, a.Text+a.Subject, "hunter2")
	assert.NotContains(t, a.Text+a.Subject, "tok3n")
}

// TestGatewayErrorsMaskUserinfo: a gateway URL's password appears in no
// error, whether the URL is bad or the gateway unreachable.
func TestGatewayErrorsMaskUserinfo(t *testing.T) {
	cfg := config.Default()
	cfg.AlerterSms.Gateway = "http://sms:hunter2@gw.example:bad/send"
	_, err := New(cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid port")
	assert.Contains(t, err.Error(), "sms:xxxxx@gw.example:bad")
	assert.NotContains(t, err.Error(), "hunter2")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	g, err := newHTTPGateway(&config.AlerterConfig{Gateway: "http://sms:hunter2@" + addr + "/send"}, nil, time.Second)
	require.NoError(t, err)
	err = g.Send(context.Background(), &Message{Subject: "s", Content: "c", To: []string{"x"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "http://sms:xxxxx@"+addr+"/send")
}

// TestForgetDropsState: a cancelled subscription's alert state is dropped,
// so the states kept follow the live subscriptions.
func TestForgetDropsState(t *testing.T) {
	m, _ := newMonitor(t, nil)
	for id := int64(1); id <= 50; id++ {
		m.PushFailed(newSub(t, id, nil), 0)
	}
	require.Len(t, *m.states.Load(), 50)
	for id := int64(1); id <= 50; id++ {
		m.Forget(id)
	}
	assert.Empty(t, *m.states.Load())
	m.Forget(7) // unknown: nothing happens
	assert.Empty(t, *m.states.Load())
}
