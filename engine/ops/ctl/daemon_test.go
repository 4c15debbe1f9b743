package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/ops/cli"
	"medispatcher/internal/testsrv"
)

// daemonBinary is the medispatcher daemon, built once for this package's
// tests: medictl is tested against the API as the daemon serves it.
var (
	daemonBinary string
	buildErr     error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medictl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The daemon tests fail on buildErr; the others still run.
	daemonBinary, buildErr = testsrv.BuildBinary(dir, "medispatcher/cmd/medispatcher")
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const testToken = "medictl-test-token-0123456789"

// daemon is a medispatcher process with its admin API on a free loopback
// port, subscriptions from Redis, and a subscriber to push to.
type daemon struct {
	t      *testing.T
	addr   string
	cfg    string
	bs     *testsrv.Server
	bc     *beanstalk.Conn
	redis  rueidis.Client
	sub    *testsrv.Subscriber
	logs   *testsrv.LogBuffer
	exited chan struct{}
	// flags are what medictl needs besides --addr and --token (--cacert).
	flags []string
	url   string // --addr: d.addr, or https://d.addr
}

func startDaemon(t *testing.T) *daemon { return startDaemonTLS(t, nil) }

// startDaemonTLS starts a daemon serving its admin API over TLS with f's
// server certificate (f nil: plain HTTP); medictl then dials https:// and
// trusts f's CA.
func startDaemonTLS(t *testing.T, f *testsrv.TLSFiles) *daemon {
	t.Helper()
	require.NoError(t, buildErr)
	d := &daemon{t: t, bs: testsrv.StartBeanstalkd(t), sub: testsrv.NewSubscriber(t), logs: &testsrv.LogBuffer{}, exited: make(chan struct{})}
	rd := testsrv.StartRedis(t)
	port, err := testsrv.FreePort()
	require.NoError(t, err)
	d.addr = "127.0.0.1:" + strconv.Itoa(port)
	d.url = d.addr
	extra := ""
	if f != nil {
		extra = fmt.Sprintf("AdminTLSCertFile = %q\nAdminTLSKeyFile = %q", f.ServerCert, f.ServerKey)
		d.url, d.flags = "https://"+d.addr, []string{"--cacert", f.CA}
	}
	dir := t.TempDir()
	d.cfg = filepath.Join(dir, "medispatcher.toml")
	require.NoError(t, os.WriteFile(d.cfg, []byte(fmt.Sprintf(`
QueueServerAddr = %q
NameOfMainQueue = "event_center_messages"
SubscriptionSource = "redis"
LOG_DIR = "logs"
ListenAddr = %q
AdminToken = %q
DebugAddr = ""
StatisticApiAddr = ""
PrometheusApiAddr = ""
MaxSendersPerChannel = 10
MaxMessageProcessTime = 2000
DefaultMaxMessageProcessTime = 2000
EnableMsgSentLog = false
LogLevel = "warn"
%s
[Redis]
Addr = %q
`, d.bs.Addr, d.addr, testToken, extra, rd.Addr)), 0o644))

	d.redis, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(d.redis.Close)
	d.bc, err = beanstalk.Dial("tcp", d.bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.bc.Close() })

	cmd := exec.Command(daemonBinary, "-c", d.cfg)
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	// The daemon says nothing when its API is up (LogLevel warn): ask it
	// until it answers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := d.ctl(Env{}, "info")
		if r.code == cli.ExitOK {
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("daemon exited:\n%s", d.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin API not up within 20 s: %s\n%s", r.stderr, d.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ctl runs medictl against the daemon with its address and token.
func (d *daemon) ctl(env Env, args ...string) result {
	d.t.Helper()
	return ctl(d.t, env, append(append(args, "--addr", d.url, "--token", testToken), d.flags...)...)
}

// ok runs medictl and requires success.
func (d *daemon) ok(args ...string) result {
	d.t.Helper()
	r := d.ctl(Env{}, args...)
	require.Equal(d.t, cli.ExitOK, r.code, "medictl %v\nstderr: %s\nstdout: %s\ndaemon:\n%s", args, r.stderr, r.stdout, d.logs)
	return r
}

// decodeStrict decodes s into v refusing keys v does not have: --json
// prints exactly the API type.
func decodeStrict(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "%s", s)
	require.False(t, dec.More(), "one JSON value")
}

func (d *daemon) tubeStat(tube, key string) int {
	st, err := beanstalk.NewTube(d.bc, tube).Stats()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(st[key])
	return n
}

// TestAgainstDaemon runs the commands in order against one daemon: the
// subtests share its state (a subscription created early is used later).
func TestAgainstDaemon(t *testing.T) {
	d := startDaemon(t)
	const topic = "ctltopic"
	const subID = 41
	channel := fmt.Sprintf("%s/sub-queue/%d", topic, subID)

	t.Run("info", func(t *testing.T) {
		r := d.ok("info")
		assert.Contains(t, r.stdout, "event_center_messages")
		assert.Contains(t, r.stdout, d.bs.Addr+" healthy")
		assert.Regexp(t, `subscriptions\s+0 from redis`, r.stdout)

		var in adminapi.Info
		decodeStrict(t, d.ok("info", "--json").stdout, &in)
		assert.Equal(t, "redis", in.Source)
		assert.Equal(t, d.addr, in.Endpoints.Admin)
		require.Len(t, in.Servers, 1)
		assert.Equal(t, d.bs.Addr, in.Servers[0].Addr)
		assert.True(t, in.Redis.Connected)
	})

	t.Run("address and token from the config file", func(t *testing.T) {
		r := ctl(t, Env{}, "-f", d.cfg, "info", "--json")
		require.Equal(t, cli.ExitOK, r.code, r.stderr)
		var in adminapi.Info
		decodeStrict(t, r.stdout, &in)
		assert.Equal(t, d.cfg, in.Config)
	})

	t.Run("token from the environment", func(t *testing.T) {
		env := Env{Getenv: func(k string) string {
			if k == TokenEnv {
				return testToken
			}
			return ""
		}}
		r := ctl(t, env, "info", "--addr", d.addr)
		assert.Equal(t, cli.ExitOK, r.code, r.stderr)
	})

	t.Run("wrong token", func(t *testing.T) {
		r := ctl(t, Env{}, "info", "--addr", d.addr, "--token", "not-the-token-at-all")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Equal(t, "medictl: unauthorized: missing or wrong bearer token\n", r.stderr)
		r = ctl(t, Env{}, "status", "--addr", d.addr)
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Contains(t, r.stderr, "medictl: unauthorized:")
	})

	t.Run("defaults", func(t *testing.T) {
		assert.Regexp(t, `(?m)^max_concurrency\s+10$`, d.ok("defaults").stdout)
		var df adminapi.Defaults
		decodeStrict(t, d.ok("defaults", "--json").stdout, &df)
		assert.Equal(t, 10, df.MaxConcurrency)
	})

	t.Run("sub create from a file and from stdin", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "sub.json")
		require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(
			`{"id": %d, "topic": %q, "url": %q, "concurrency": 2}`, subID, topic, d.sub.URL+"/hook")), 0o644))
		r := d.ok("sub", "create", "--file", file)
		assert.Contains(t, r.stdout, fmt.Sprintf("subscription %d created, applied by this daemon", subID))
		assert.Regexp(t, `(?m)^concurrency\s+2\s+2$`, r.stdout)

		r = d.ctl(Env{Stdin: strings.NewReader(fmt.Sprintf(`{"id": 42, "topic": %q, "url": %q}`, topic, d.sub.URL+"/other"))},
			"sub", "create", "--file", "-", "--json")
		require.Equal(t, cli.ExitOK, r.code, r.stderr)
		var ch adminapi.Changed
		decodeStrict(t, r.stdout, &ch)
		assert.True(t, ch.Applied)
		require.NotNil(t, ch.Subscription)
		assert.EqualValues(t, 42, ch.Subscription.ID)

		r = d.ctl(Env{}, "sub", "create", "--file", file)
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Contains(t, r.stderr, "medictl: conflict: subscription 41 exists")
	})

	t.Run("subs lists them", func(t *testing.T) {
		r := d.ok("subs")
		assert.Contains(t, r.stdout, "source: redis (writable)")
		assert.Regexp(t, `(?m)^41\s+ctltopic\s+0\s+2/`, r.stdout)
		assert.Regexp(t, `(?m)^42\s+ctltopic\s`, r.stdout)

		var l adminapi.SubList
		decodeStrict(t, d.ok("subs", "--topic", topic, "--json").stdout, &l)
		assert.Len(t, l.Subscriptions, 2)
		decodeStrict(t, d.ok("subs", "--topic", "nothing-here", "--json").stdout, &l)
		assert.Empty(t, l.Subscriptions)
	})

	t.Run("sub set then get shows the effective value", func(t *testing.T) {
		r := d.ok("sub", "set", strconv.Itoa(subID), "concurrency=7", "rate=250.5", "alert_enabled=false")
		assert.Contains(t, r.stdout, "subscription 41 stored, applied by this daemon")
		assert.Regexp(t, `(?m)^concurrency\s+7\s+7$`, r.stdout)

		r = d.ok("sub", "get", strconv.Itoa(subID))
		assert.Regexp(t, `(?m)^concurrency\s+7\s+7$`, r.stdout)
		assert.Regexp(t, `(?m)^rate\s+250.5\s+250.5$`, r.stdout)
		assert.Regexp(t, `(?m)^alert_enabled\s+false`, r.stdout)
		assert.Regexp(t, `(?m)^timeout_ms\s+0\s+2000$`, r.stdout, "a 0 shows the daemon's default")
		assert.Contains(t, r.stdout, channel)

		var v adminapi.SubView
		decodeStrict(t, d.ok("sub", "get", strconv.Itoa(subID), "--json").stdout, &v)
		assert.Equal(t, 7, v.Effective.Concurrency)
		assert.Equal(t, 7, v.Concurrency)
		assert.Equal(t, 250.5, v.Rate)
		assert.Equal(t, d.sub.URL+"/hook", v.URL, "keys not set keep their value")
	})

	t.Run("validation error shows code and field", func(t *testing.T) {
		r := d.ctl(Env{}, "sub", "set", strconv.Itoa(subID), "concurrency=50")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Equal(t, "medictl: invalid: subscription 41 is not valid\n  concurrency = 50: must be 0..10 (0 = default)\n", r.stderr)
		var v adminapi.SubView
		decodeStrict(t, d.ok("sub", "get", strconv.Itoa(subID), "--json").stdout, &v)
		assert.Equal(t, 7, v.Concurrency, "nothing changed")
	})

	t.Run("status", func(t *testing.T) {
		// Six messages, a copy each for subscriptions 41 and 42; with
		// cut-through (the default) free workers take copies directly.
		before := len(d.sub.Hits())
		main := beanstalk.NewTube(d.bc, "event_center_messages")
		for i := range 6 {
			m := message.Message{Topic: []byte(topic), Body: []byte{0xa1, byte('a' + i)}, Time: 1732500000}
			_, err := main.Put(message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
			require.NoError(t, err)
		}
		d.sub.WaitFor(10*time.Second, "12 pushes", func(h []testsrv.Hit) bool { return len(h) >= before+12 })

		r := d.ok("status")
		assert.Contains(t, r.stdout, "totals: pushes ")
		assert.Contains(t, r.stdout, "main tube: ready ")
		assert.Contains(t, r.stdout, ", cut-through on\n")
		assert.Regexp(t, `(?m)^ID\s+TOPIC\s+CONC\s+RATE/S\s+PUSH_1M\s+FAIL_1M\s+FAIL%\s+DIRECT%`, r.stdout)
		assert.Regexp(t, `(?m)^41\s+ctltopic\s+7/\S+\s+\S+\s+\d+\s+\d+\s+\S+%\s+\d+\.\d%\s`, r.stdout)

		var o adminapi.Overview
		decodeStrict(t, d.ok("status", "--json").stdout, &o)
		assert.Len(t, o.Subscriptions, 2)
		assert.True(t, o.CutThrough)
		for _, s := range o.Subscriptions {
			assert.Equal(t, uint64(6), s.Direct+s.Spilled, "sub %d", s.ID)
			assert.Positive(t, s.Direct, "sub %d", s.ID)
			assert.InDelta(t, float64(s.Direct)/6, s.DirectShare, 1e-9, "sub %d", s.ID)
		}
	})

	t.Run("clean", func(t *testing.T) {
		// Delayed jobs stay in the channel tube while the daemon runs, so
		// there is something to count and delete.
		tube := beanstalk.NewTube(d.bc, channel)
		for i := 0; i < 3; i++ {
			_, err := tube.Put([]byte("x"), 1024, time.Hour, time.Minute)
			require.NoError(t, err)
		}
		r := d.ok("clean", strconv.Itoa(subID), "--delayed", "--dry-run")
		assert.Regexp(t, `(?m)^\S+\s+`+regexp.QuoteMeta(channel)+`\s+delayed\s+3\s+0$`, r.stdout)
		assert.Contains(t, r.stdout, "dry run: 3 jobs found, none deleted")

		var res adminapi.OpResult[adminapi.CleanReport]
		decodeStrict(t, d.ok("clean", strconv.Itoa(subID), "--delayed", "--dry-run", "--json").stdout, &res)
		found := int64(0)
		for _, c := range res.Reports {
			if c.State == "delayed" {
				found += c.Found
			}
		}
		assert.EqualValues(t, 3, found)
		assert.Equal(t, 3, d.tubeStat(channel, "current-jobs-delayed"), "a dry run deletes nothing")

		r = d.ctl(Env{}, "clean", strconv.Itoa(subID), "--delayed")
		assert.Equal(t, cli.ExitUsage, r.code, "no terminal, no --yes")
		r = d.ctl(Env{Interactive: true, Stdin: strings.NewReader("n\n")}, "clean", strconv.Itoa(subID), "--delayed")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Contains(t, r.stderr, `Delete the ready, delayed jobs of subscription 41 (topic "ctltopic"`)
		assert.Contains(t, r.stderr, "aborted")
		assert.Equal(t, 3, d.tubeStat(channel, "current-jobs-delayed"), "a no deletes nothing")

		r = d.ctl(Env{Interactive: true, Stdin: strings.NewReader("y\n")}, "clean", strconv.Itoa(subID), "--delayed")
		require.Equal(t, cli.ExitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "3 of 3 jobs found deleted")
		assert.Zero(t, d.tubeStat(channel, "current-jobs-delayed"))

		r = d.ctl(Env{}, "clean", "999", "--yes")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Contains(t, r.stderr, "medictl: not_found: no subscription 999")
	})

	t.Run("kick dry run", func(t *testing.T) {
		r := d.ok("kick", "--dry-run")
		assert.Contains(t, r.stdout, "dry run: 0 buried jobs, none kicked")
		var res adminapi.OpResult[adminapi.KickReport]
		decodeStrict(t, d.ok("kick", "--dry-run", "--json").stdout, &res)
	})

	t.Run("failures on an empty stream", func(t *testing.T) {
		r := d.ok("failures")
		assert.Contains(t, r.stdout, "(no failure records)")
		var l adminapi.FailureList
		decodeStrict(t, d.ok("failures", "--sub", "41", "--since", "1h", "--final", "given_up", "--limit", "10", "--json").stdout, &l)
		assert.NotNil(t, l.Records)
		assert.Empty(t, l.Records)
	})

	t.Run("failures and resend of a given-up record", func(t *testing.T) {
		// A record as the daemon writes it when it gives up a message.
		m := message.Message{Topic: []byte(topic), Body: []byte{0xa5, 'h', 'e', 'l', 'l', 'o'}, Time: 1732500000,
			OriginJobID: 77, RetryTimes: 5, LogID: 9001, SubscriptionID: subID}
		job := message.AppendChannelJob(nil, &m)
		ctx := context.Background()
		require.NoError(t, d.redis.Do(ctx, d.redis.B().Xadd().Key("{medispatcher}:failures").Id("*").FieldValue().
			FieldValue("log_id", "9001").FieldValue("jobid", "job-9001").FieldValue("topic", topic).
			FieldValue("sub", strconv.Itoa(subID)).FieldValue("subscriber", "0").FieldValue("url", d.sub.URL+"/hook").
			FieldValue("error", "HTTP 500").FieldValue("retry_times", "5").FieldValue("final", "given_up").
			FieldValue("time_ms", strconv.FormatInt(time.Now().UnixMilli(), 10)).FieldValue("job", string(job)).Build()).Error())

		r := d.ok("failures", "--final", "given_up")
		assert.Regexp(t, `(?m)^\S+ \S+\s+9001\s+ctltopic\s+41\s+job-9001\s+5\s+given_up\s+kept\s+HTTP 500$`, r.stdout)

		before := len(d.sub.Hits())
		r = d.ok("resend", "--log-id", "9001")
		assert.Equal(t, "re-sent 1 given-up messages (log ids 9001)\n", r.stdout)
		d.sub.WaitFor(10*time.Second, "the re-sent message", func(h []testsrv.Hit) bool { return len(h) > before })

		r = d.ctl(Env{}, "resend", "--log-id", "123456")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Contains(t, r.stderr, "medictl: log id 123456: no given_up record")
	})

	t.Run("recover", func(t *testing.T) {
		const list = "event_center_message_in_failure_log:medictl"
		m := message.Message{Topic: []byte(topic), Body: []byte{0xa3, 'r', 'e', 'c'}, Time: 1732500000}
		entry := message.AppendMainJob(nil, &m)
		before := len(d.sub.Hits())
		require.NoError(t, d.redis.Do(context.Background(), d.redis.B().Lpush().Key(list).Element(string(entry)).Build()).Error())

		var st adminapi.RecoverStatus
		decodeStrict(t, d.ok("recover", "--json").stdout, &st)
		assert.Equal(t, "event_center_message_in_failure_log:", st.Prefix)
		// The daemon drains the list as soon as it finds it: the entry is
		// either still counted or already on its way.
		t.Logf("recover counted %d entries before the daemon drained them", st.Total)
		if st.Total > 0 {
			require.Len(t, st.Lists, 1)
			assert.Equal(t, list, st.Lists[0].Key)
			assert.EqualValues(t, 1, st.Total)
			assert.Contains(t, d.ok("recover").stdout, "1 entries waiting in 1 recover lists")
		}
		// Both subscriptions of the topic get it.
		d.sub.WaitFor(10*time.Second, "the recovered entry delivered", func(h []testsrv.Hit) bool { return len(h) >= before+2 })
		decodeStrict(t, d.ok("recover", "--json").stdout, &st)
		assert.Zero(t, st.Total)
		assert.Contains(t, d.ok("recover").stdout, "0 entries waiting")
	})

	t.Run("alerts", func(t *testing.T) {
		assert.Equal(t, "(no alerts)\n", d.ok("alerts", "--limit", "10").stdout)
		var l adminapi.AlertList
		decodeStrict(t, d.ok("alerts", "--json").stdout, &l)

		r := d.ok("alerts", "set", "main_queue_blocked_alert_threshold=1234", "default_alarm_chan=ops")
		assert.Regexp(t, `(?m)^main_queue_blocked_alert_threshold\s+1234$`, r.stdout)
		var s adminapi.AlertSettings
		decodeStrict(t, d.ok("alerts", "settings", "--json").stdout, &s)
		require.NotNil(t, s.NameOfMainQueueBlockedAlertThreshold)
		assert.Equal(t, 1234, *s.NameOfMainQueueBlockedAlertThreshold)
		require.NotNil(t, s.DefaultAlarmChan)
		assert.Equal(t, "ops", *s.DefaultAlarmChan)
		assert.Regexp(t, `(?m)^default_alarm_chan\s+ops$`, d.ok("alerts", "settings").stdout)

		r = d.ctl(Env{}, "alerts", "set", "global_message_blocked_alarm_interval_s=0")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Contains(t, r.stderr, "medictl: invalid: ")
	})

	t.Run("sub delete", func(t *testing.T) {
		for _, id := range []string{"41", "42"} {
			r := d.ok("sub", "delete", id)
			assert.Contains(t, r.stdout, "subscription "+id+" cancelled, applied by this daemon")
		}
		r := d.ctl(Env{}, "sub", "get", "41")
		assert.Equal(t, cli.ExitFailed, r.code)
		assert.Equal(t, "medictl: not_found: no subscription 41\n", r.stderr)
		assert.Contains(t, d.ok("subs").stdout, "(no subscriptions)")
	})
}

// TestAdminAPIOverTLS: a daemon serving its admin API over TLS is driven
// by medictl with --cacert (and with -f, which trusts AdminTLSCertFile);
// without a trusted root, or over plain HTTP, nothing is exchanged.
func TestAdminAPIOverTLS(t *testing.T) {
	f := testsrv.NewTLSFiles(t)
	d := startDaemonTLS(t, f)

	var in adminapi.Info
	decodeStrict(t, d.ok("info", "--json").stdout, &in)
	assert.Equal(t, "redis", in.Source)
	// A JSON write over TLS.
	r := d.ctl(Env{Stdin: strings.NewReader(fmt.Sprintf(`{"id": 7, "topic": "tls", "url": %q}`, d.sub.URL+"/hook"))},
		"sub", "create", "--file", "-")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "subscription 7 created, applied by this daemon")
	assert.Regexp(t, `(?m)^7\s+tls\s`, d.ok("subs").stdout)

	// -f: the address, https and the daemon's certificate from the file.
	r = ctl(t, Env{}, "-f", d.cfg, "info")
	assert.Equal(t, cli.ExitOK, r.code, r.stderr)

	r = ctl(t, Env{}, "info", "--addr", d.url, "--token", testToken)
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, "certificate signed by unknown authority", "the system roots do not know the test CA")
	r = ctl(t, Env{}, "info", "--addr", "http://"+d.addr, "--token", testToken)
	assert.Equal(t, cli.ExitFailed, r.code, "plain HTTP to the TLS port: %s", r.stdout)
	r = ctl(t, Env{}, "info", "--addr", "http://"+d.addr, "--token", testToken, "--cacert", f.CA)
	assert.Equal(t, cli.ExitUsage, r.code)
	assert.Contains(t, r.stderr, "--cacert is for an https:// address")
	// --cacert alone turns host:port into https.
	r = ctl(t, Env{}, "info", "--addr", d.addr, "--token", testToken, "--cacert", f.CA)
	assert.Equal(t, cli.ExitOK, r.code, r.stderr)
}
