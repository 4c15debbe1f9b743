package ctl

import (
	"context"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/ops/cli"
)

// result is one medictl run's exit code and output.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs medictl in-process with env's stdin, terminal flag and
// environment, capturing its output.
func ctl(t *testing.T, env Env, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	env.Stdout, env.Stderr = &out, &errb
	code := Run(context.Background(), args, env)
	return result{code, out.String(), errb.String()}
}

// deadAddr is a loopback address nothing listens on: a command that still
// succeeds or fails as a usage error there sent no request.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestEveryCommandPrintsItsUsageWithH(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			args := append(strings.Fields(c.name), "-h")
			r := ctl(t, Env{}, args...)
			assert.Equal(t, cli.ExitOK, r.code)
			assert.Contains(t, r.stderr, "usage: medictl "+c.name)
			assert.Contains(t, r.stderr, "--json")
			assert.Contains(t, r.stderr, "Exit codes:")
			assert.Empty(t, r.stdout)

			r = ctl(t, Env{}, "help", c.name)
			assert.Equal(t, cli.ExitOK, r.code)
			assert.Contains(t, r.stderr, "usage: medictl "+c.name)
		})
	}
}

func TestTopLevelUsage(t *testing.T) {
	r := ctl(t, Env{}, "-h")
	assert.Equal(t, cli.ExitOK, r.code)
	for _, c := range commands() {
		assert.Contains(t, r.stderr, c.name)
	}

	r = ctl(t, Env{})
	assert.Equal(t, cli.ExitUsage, r.code, "no command")

	r = ctl(t, Env{}, "frobnicate")
	assert.Equal(t, cli.ExitUsage, r.code)
	assert.Contains(t, r.stderr, `unknown command "frobnicate"`)

	r = ctl(t, Env{}, "sub")
	assert.Equal(t, cli.ExitUsage, r.code)
	assert.Contains(t, r.stderr, "sub needs one of")
	assert.Contains(t, r.stderr, "sub set ID key=value")

	r = ctl(t, Env{}, "-v")
	assert.Equal(t, cli.ExitOK, r.code)
	assert.Contains(t, r.stdout, "medictl")
}

func TestUsageErrorsSendNoRequest(t *testing.T) {
	dead := deadAddr(t)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown key lists the valid ones", []string{"sub", "set", "5", "concurency=3"},
			[]string{`unknown key "concurency"`, "valid keys: ", "concurrency", "rate", "url"}},
		{"int typed", []string{"sub", "set", "5", "concurrency=many"}, []string{`concurrency="many": want integer`}},
		{"float typed", []string{"sub", "set", "5", "rate=fast"}, []string{`rate="fast": want number`}},
		{"non-finite float", []string{"sub", "set", "5", "rate=NaN"}, []string{`want number`}},
		{"bool typed", []string{"sub", "set", "5", "alert_enabled=maybe"}, []string{"want true/false"}},
		{"id is not settable", []string{"sub", "set", "5", "id=6"}, []string{`unknown key "id"`}},
		{"no pairs", []string{"sub", "set", "5"}, []string{"key=value"}},
		{"not a pair", []string{"sub", "set", "5", "concurrency"}, []string{"want key=value"}},
		{"twice", []string{"sub", "set", "5", "rate=1", "rate=2"}, []string{"given twice"}},
		{"bad id", []string{"sub", "get", "x"}, []string{`subscription id "x"`}},
		{"zero id", []string{"sub", "delete", "0"}, []string{"positive integer"}},
		{"missing id", []string{"sub", "get"}, []string{"give the subscription id"}},
		{"extra argument", []string{"info", "now"}, []string{`unexpected argument "now"`}},
		{"alerts unknown key", []string{"alerts", "set", "threshold=1"}, []string{"valid keys: ", "default_alarm_receiver"}},
		{"alerts typed", []string{"alerts", "set", "main_queue_blocked_alert_threshold=lots"}, []string{"want integer"}},
		{"resend needs one selector", []string{"resend"}, []string{"--log-id or --sub"}},
		{"resend not both", []string{"resend", "--log-id", "1", "--sub", "2"}, []string{"--log-id or --sub"}},
		{"resend bad log id", []string{"resend", "--log-id", "x"}, []string{`"x" is not a log id`}},
		{"failures final", []string{"failures", "--final", "lost"}, []string{"retrying, success, given_up"}},
		{"failures limit", []string{"failures", "--limit", "200000"}, []string{"1..100000"}},
		{"alerts limit", []string{"alerts", "--limit", "5000"}, []string{"1..1000"}},
		{"create needs a file", []string{"sub", "create"}, []string{"--file"}},
		{"clean refuses without a terminal", []string{"clean", "5"}, []string{"not a terminal", "--yes"}},
		{"unknown flag", []string{"kick", "--dryrun"}, []string{"flag provided but not defined: -dryrun"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ctl(t, Env{}, append(c.args, "--addr", dead)...)
			assert.Equal(t, cli.ExitUsage, r.code, "stderr: %s", r.stderr)
			for _, w := range c.want {
				assert.Contains(t, r.stderr, w)
			}
			assert.NotContains(t, r.stderr, "connection refused")
			assert.Empty(t, r.stdout)
		})
	}
}

func TestCreateRefusesWhatIsNotJSON(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "sub.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"id": 1,`), 0o644))
	r := ctl(t, Env{}, "sub", "create", "--file", bad, "--addr", deadAddr(t))
	assert.Equal(t, cli.ExitUsage, r.code)
	assert.Contains(t, r.stderr, "not valid JSON")

	r = ctl(t, Env{Stdin: strings.NewReader("nope")}, "sub", "create", "--file", "-", "--addr", deadAddr(t))
	assert.Equal(t, cli.ExitUsage, r.code)
	assert.Contains(t, r.stderr, "-: not valid JSON")

	r = ctl(t, Env{}, "sub", "create", "--file", filepath.Join(dir, "missing.json"), "--addr", deadAddr(t))
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, "missing.json")

	big := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(big, []byte(`{"url":"`+strings.Repeat("x", 70<<10)+`"}`), 0o644))
	r = ctl(t, Env{}, "sub", "create", "--file", big, "--addr", deadAddr(t))
	assert.Equal(t, cli.ExitUsage, r.code)
	assert.Contains(t, r.stderr, "larger than the API accepts")
}

func TestUnreachableDaemonFails(t *testing.T) {
	r := ctl(t, Env{}, "info", "--addr", deadAddr(t))
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, "connection refused")
}

func TestConfigErrors(t *testing.T) {
	r := ctl(t, Env{}, "-f", filepath.Join(t.TempDir(), "none.toml"), "info")
	assert.Equal(t, cli.ExitConfig, r.code)
	assert.Contains(t, r.stderr, "none.toml")

	cfg := filepath.Join(t.TempDir(), "m.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("ListenAddr = \"\"\n"), 0o644))
	r = ctl(t, Env{}, "info", "-f", cfg)
	assert.Equal(t, cli.ExitConfig, r.code)
	assert.Contains(t, r.stderr, "ListenAddr is empty")

	// --addr and a token make the file unnecessary: it is not read.
	r = ctl(t, Env{}, "info", "-f", filepath.Join(t.TempDir(), "none.toml"), "--addr", deadAddr(t), "--token", "t")
	assert.Equal(t, cli.ExitFailed, r.code)
}

func TestSchemaParse(t *testing.T) {
	got, err := subSchema.parse([]string{"concurrency=7", "rate=2.5", "alert_enabled=false", "url=http://a/x?y=1", "topic= spaced "})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"concurrency": int64(7), "rate": 2.5, "alert_enabled": false,
		"url": "http://a/x?y=1", "topic": " spaced "}, got, "text keeps everything after the first =")

	got, err = alertSchema.parse([]string{"default_alarm_chan=ops", "global_message_blocked_alarm_interval_s=60"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"default_alarm_chan": "ops", "global_message_blocked_alarm_interval_s": int64(60)}, got)

	_, err = subSchema.parse([]string{"nope=1", "concurrency=x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown key "nope"`)
	assert.Contains(t, err.Error(), `concurrency="x"`, "every mistake at once")
}

func TestParseInterleaved(t *testing.T) {
	g := &globals{}
	cases := []struct {
		args []string
		pos  []string
		json bool
	}{
		{[]string{"5", "--json"}, []string{"5"}, true},
		{[]string{"--json", "5", "a=b"}, []string{"5", "a=b"}, true},
		{[]string{"5", "--", "--json"}, []string{"5", "--json"}, false},
		{[]string{"5", "rate=-1"}, []string{"5", "rate=-1"}, false},
	}
	for _, c := range cases {
		*g = globals{}
		fs := newTestFlagSet(g)
		pos, err := parseInterleaved(fs, c.args)
		require.NoError(t, err)
		assert.Equal(t, c.pos, pos, "%v", c.args)
		assert.Equal(t, c.json, g.json, "%v", c.args)
	}
}

func TestGlobalFlagsBeforeTheCommandSurvive(t *testing.T) {
	dead := deadAddr(t)
	// The address given before the command is the one dialled.
	r := ctl(t, Env{}, "--addr", dead, "info")
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, dead)
}

func TestSplitAddrAndDialable(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5601":          "127.0.0.1:5601",
		"http://127.0.0.1:5601/":  "127.0.0.1:5601",
		"https://admin.local:443": "admin.local:443",
	} {
		got, tls, err := splitAddr(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		assert.Equal(t, strings.HasPrefix(in, "https"), tls)
	}
	for _, bad := range []string{"", "http://", "http://h:1/api", "h :1"} {
		_, _, err := splitAddr(bad)
		assert.Error(t, err, "%q", bad)
	}
	assert.Equal(t, "127.0.0.1:5601", dialable(":5601"))
	assert.Equal(t, "127.0.0.1:5601", dialable("0.0.0.0:5601"))
	assert.Equal(t, "[::1]:5601", dialable("[::]:5601"))
	assert.Equal(t, "10.0.0.1:5601", dialable("10.0.0.1:5601"))
}

func TestDecodeError(t *testing.T) {
	err := decodeError("PATCH", "/api/v1/subscriptions/5", 422, []byte(`{"error":{"code":"invalid","message":"subscription 5 is not valid",
		"details":[{"field":"concurrency","value":50,"allowed":"must be 0..10 (0 = default)"}]}}`))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 422, ae.Status)
	assert.Equal(t, "invalid", ae.Code)
	require.Len(t, ae.Details, 1)
	assert.Equal(t, "50", formatValue(ae.Details[0].Value))

	err = decodeError("GET", "/api/v1/info", 502, []byte("<html>"+strings.Repeat("x", 500)+"</html>"))
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	assert.Contains(t, err.Error(), "HTTP 502 Bad Gateway: <html>")
	assert.Less(t, len(err.Error()), 300, "a foreign body is cut short")
}

func TestFormatting(t *testing.T) {
	assert.Equal(t, "50", formatValue(50.0))
	assert.Equal(t, "2.50", formatValue(2.5))
	assert.Equal(t, "null", formatValue(nil))
	assert.Equal(t, `"x"`, formatValue(`"x"`))
	assert.Equal(t, "http://a (+1)", firstLine("http://a\nhttp://b\n"))
	assert.Equal(t, "a | b", oneLine("a\nb\n"))
	assert.Equal(t, "12.5%", percent(0.125))
	assert.Equal(t, "1h1m1s", seconds(3661.7))
	assert.Equal(t, "aa bb\ncc", wrap("aa bb cc", 5))

	var b strings.Builder
	tb := newTable(&b, "ID", "TOPIC")
	tb.row("1", "a\tb")
	tb.row("1000", "c")
	require.NoError(t, tb.flush())
	assert.Equal(t, "ID    TOPIC\n1     a b\n1000  c\n", b.String())
}

func TestConfirm(t *testing.T) {
	r := &runner{env: Env{Interactive: true, Stdin: strings.NewReader("yes\n"), Stderr: &strings.Builder{}}}
	require.NoError(t, r.confirm(context.Background(), "go?"))

	r.env.Stdin = strings.NewReader("\n")
	require.ErrorIs(t, r.confirm(context.Background(), "go?"), errAborted, "the default is no")

	never := make(blockingReader)
	defer close(never)
	r.env.Stdin = never
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, r.confirm(ctx, "go?"), context.Canceled, "Ctrl-C ends the prompt")

	r.env.Interactive = false
	var ue *usageError
	require.ErrorAs(t, r.confirm(context.Background(), "go?"), &ue)
}

// blockingReader answers nothing until closed, like a terminal nobody
// types into.
type blockingReader chan struct{}

func (b blockingReader) Read([]byte) (int, error) {
	<-b
	return 0, io.EOF
}

func newTestFlagSet(g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	return fs
}

func TestAlertTable(t *testing.T) {
	var b strings.Builder
	r := &runner{env: Env{Stdout: &b}}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local)
	require.NoError(t, printAlerts(r, []adminapi.Alert{
		{Time: at, Kind: "sub_failures", SubID: 7, Topic: "orders", Subject: "subscription 7 failing",
			Delivered: []string{"mail", "sms"}},
		{Time: at, Kind: "main_backlog", Subject: "main tube backlog", Failed: []string{"sms"}, Note: "queue full"},
	}))
	assert.Equal(t, ""+
		"TIME                 KIND          SUB  TOPIC   SUBJECT                 DELIVERED  FAILED  NOTE\n"+
		"2026-03-01 12:00:00  sub_failures  7    orders  subscription 7 failing  mail,sms   -       -\n"+
		"2026-03-01 12:00:00  main_backlog  -    -       main tube backlog       -          sms     queue full\n", b.String())
}

// silentServer accepts connections and never answers; accepted signals
// each connection.
func silentServer(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String(), ch
}

func TestTimeoutAndInterrupt(t *testing.T) {
	addr, accepted := silentServer(t)
	r := ctl(t, Env{}, "info", "--addr", addr, "--timeout", "200ms")
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, "no answer within 200ms")

	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	var errb strings.Builder
	go func() {
		code <- Run(ctx, []string{"status", "--addr", addr}, Env{Stderr: &errb})
	}()
	<-accepted // the first run's connection
	<-accepted // this one's: the request waits for an answer
	cancel()
	assert.Equal(t, cli.ExitFailed, <-code)
	assert.Equal(t, "medictl: interrupted\n", errb.String())
}

// TestOperationTables: clean always shows its table; kick shows one only
// when some tube has buried jobs; both end with their totals.
func TestOperationTables(t *testing.T) {
	var b strings.Builder
	r := &runner{env: Env{Stdout: &b}}
	cleaned := &adminapi.OpResult[adminapi.CleanReport]{Reports: []adminapi.CleanReport{
		{Server: "s1", Tube: "t/sub-queue/3", State: "ready", Found: 3, Deleted: 2},
		{Server: "s2", Tube: "t/sub-queue/3", State: "ready", Found: 1, Deleted: 1},
	}}
	kicked := &adminapi.OpResult[adminapi.KickReport]{Reports: []adminapi.KickReport{
		{Server: "s1", Tube: "main", Buried: 2, Kicked: 2},
		{Server: "s1", Tube: "t/sub-queue/3", Buried: 1, Error: "gone"},
	}}
	for _, tc := range []struct {
		print func() error
		want  string
	}{
		{func() error { return printCleaned(r, cleaned, false) }, "" +
			"SERVER  TUBE           STATE  FOUND  DELETED\n" +
			"s1      t/sub-queue/3  ready  3      2\n" +
			"s2      t/sub-queue/3  ready  1      1\n" +
			"3 of 4 jobs found deleted (each in the drop log)\n"},
		{func() error { return printCleaned(r, &adminapi.OpResult[adminapi.CleanReport]{}, true) },
			"SERVER  TUBE  STATE  FOUND  DELETED\ndry run: 0 jobs found, none deleted\n"},
		{func() error { return printKicked(r, kicked, false) }, "" +
			"SERVER  TUBE           BURIED  KICKED  ERROR\n" +
			"s1      main           2       2       -\n" +
			"s1      t/sub-queue/3  1       0       gone\n" +
			"2 of 3 buried jobs kicked\n"},
		{func() error {
			return printKicked(r, &adminapi.OpResult[adminapi.KickReport]{Reports: []adminapi.KickReport{}}, true)
		},
			"dry run: 0 buried jobs, none kicked\n"},
	} {
		b.Reset()
		require.NoError(t, tc.print())
		assert.Equal(t, tc.want, b.String())
	}
}
