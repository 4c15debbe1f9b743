package alert

import (
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// fakeSendmail writes a sendmail stand-in into dir that saves its
// arguments and standard input under dir and exits with code.
func fakeSendmail(tb testing.TB, dir string, code int) string {
	tb.Helper()
	p := filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + dir + "/args'\ncat > '" + dir + "/stdin'\n" +
		"echo 'sendmail: said something' >&2\nexit " + string(rune('0'+code)) + "\n"
	require.NoError(tb, os.WriteFile(p, []byte(script), 0o755))
	return p
}

func TestSendmailGateway(t *testing.T) {
	dir := t.TempDir()
	prog := fakeSendmail(t, dir, 0)
	tplDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tplDir, TemplateFile),
		[]byte("Dear operator ({@From@}),\n\n== {@Subject@} ==\n{@Content@}-- medispatcher\n"), 0o644))

	opt, got := deliveries()
	m, _ := newMonitor(t, func(c *config.Config) {
		c.AlerterEmail = config.AlerterConfig{
			Gateway: "sendmail://" + prog, From: "medis@example.com", TemplateRootPath: tplDir,
		}
	}, opt)
	runMonitor(t, m)
	m.ChannelBacklog(newSub(t, 17, func(s *subs.Subscription) {
		s.AlertEmails = "a@example.com;b@example.com"
	}), 5000)

	d := next(t, got)
	require.NoError(t, d.err)
	assert.Equal(t, []string{GatewayEmail}, d.alert.Delivered)

	args, err := os.ReadFile(filepath.Join(dir, "args"))
	require.NoError(t, err)
	assert.Equal(t, "-t\n-i\n", string(args))
	stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
	require.NoError(t, err)
	assert.NotContains(t, string(stdin), "\r", "sendmail gets local line ends")
	msg, err := mail.ReadMessage(strings.NewReader(string(stdin)))
	require.NoError(t, err)
	a := m.Recent(1)[0]
	assert.Equal(t, "a@example.com, b@example.com", msg.Header.Get("To"), "sendmail -t reads the recipients here")
	assert.Equal(t, "medis@example.com", msg.Header.Get("From"))
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, a.Subject, subject)
	body, err := io.ReadAll(msg.Body)
	require.NoError(t, err)
	assert.Equal(t, "Dear operator (medis@example.com),\n\n== "+a.Subject+" ==\n"+a.Text+"-- medispatcher\n", string(body))
}

func TestSendmailGatewayFailure(t *testing.T) {
	dir := t.TempDir()
	prog := fakeSendmail(t, dir, 3)
	opt, got := deliveries()
	m, _ := newMonitor(t, func(c *config.Config) {
		c.DefaultAlarmReceiver = "ops@example.com"
		c.AlarmPlatform = config.AlerterConfig{Gateway: "sendmail://" + prog}
	}, opt, WithRetry(1, time.Millisecond, time.Millisecond))
	runMonitor(t, m)
	m.ChannelBacklog(newSub(t, 2, nil), 5000)

	d := next(t, got)
	require.ErrorIs(t, d.err, ErrRejected)
	assert.Contains(t, d.err.Error(), "sendmail: said something")
	assert.Equal(t, []string{GatewayPlatform}, d.alert.Failed)
}

func TestSendmailDefaultPath(t *testing.T) {
	for raw, want := range map[string]string{
		"sendmail://":              DefaultSendmail,
		"sendmail:///":             DefaultSendmail,
		"sendmail:///opt/bin/mail": "/opt/bin/mail",
	} {
		m, _ := newMonitor(t, func(c *config.Config) { c.AlerterSms.Gateway = raw })
		g, ok := m.byName[GatewaySms].gw.(*sendmailGateway)
		require.True(t, ok, raw)
		assert.Equal(t, want, g.path, raw)
	}
}

func TestNewRejectsBadGateways(t *testing.T) {
	for _, gw := range []string{"ftp://x", "smtp://", "http://[::1"} {
		cfg := config.Default()
		cfg.AlerterSms.Gateway = gw
		_, err := New(cfg, nil)
		assert.Error(t, err, gw)
	}
	cfg := config.Default()
	cfg.AlarmPlatform = config.AlerterConfig{Gateway: "http://127.0.0.1:1/", TemplateRootPath: t.TempDir()}
	m, err := New(cfg, nil)
	require.NoError(t, err, "a template directory without alert.tpl: plain text")
	assert.Empty(t, m.byName[GatewayPlatform].tpl)
}
