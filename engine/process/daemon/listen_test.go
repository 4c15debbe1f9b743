package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/process/admin"
	"medispatcher/internal/config"
	"medispatcher/internal/redisopt"
	"medispatcher/internal/testsrv"
)

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	require.NoError(t, err, url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestEachListenerServesItsName: pprof is served on DebugAddr and absent
// from PrometheusApiAddr, which serves /metrics and nothing else.
func TestEachListenerServesItsName(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "l", URL: "/hook", AlertEnabled: true})
	debug, prom, stat := freeAddr(t), freeAddr(t), freeAddr(t)
	w.start1(w.configVariant("listeners.toml", map[string]string{
		"DebugAddr": fmt.Sprintf("%q", debug), "PrometheusApiAddr": fmt.Sprintf("%q", prom),
		"StatisticApiAddr": fmt.Sprintf("%q", stat),
	}))
	waitMetrics(t, prom, w.logs)

	status, body := get(t, "http://"+prom+"/debug/pprof/")
	assert.Equal(t, 404, status, "no pprof on the metrics port")
	assert.NotContains(t, body, "profile")
	status, _ = get(t, "http://"+prom+"/debug/pprof/goroutine?debug=1")
	assert.Equal(t, 404, status)
	status, _ = get(t, "http://"+prom+"/")
	assert.Equal(t, 404, status)
	status, body = get(t, "http://"+prom+"/metrics")
	assert.Equal(t, 200, status)
	assert.Contains(t, body, "medispatcher_beanstalkd_links{")

	status, body = get(t, "http://"+debug+"/debug/pprof/")
	assert.Equal(t, 200, status, "pprof on DebugAddr")
	assert.Contains(t, body, "goroutine")
	status, body = get(t, "http://"+debug+"/metrics")
	assert.Equal(t, 200, status)
	assert.Contains(t, body, "medispatcher_beanstalkd_links{")
	status, _ = get(t, "http://"+debug+"/nothing")
	assert.Equal(t, 404, status)

	status, body = get(t, "http://"+stat+"/debug/pprof/")
	assert.NotContains(t, body, "goroutine", "no pprof on the statistics port (status %d)", status)
}

// start1 starts a daemon on the config file cfg (the world's logs).
func (w *world) start1(cfg string) *daemon {
	w.t.Helper()
	return w.startWith(cfg, w.logs)
}

// TestExposedObservabilityIsNotServed: metrics, statistics and pprof
// addresses beyond loopback without ExposeObservability are not served,
// with an ERROR line each, and the daemon dispatches. The addresses are
// TEST-NET-1, which no interface here has: had the daemon tried to listen,
// it would have failed to start (as the second half shows).
func TestExposedObservabilityIsNotServed(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "obs", URL: "/hook", AlertEnabled: true})
	exposed := map[string]string{
		"DebugAddr": `"192.0.2.1:9898"`, "PrometheusApiAddr": `"192.0.2.1:25606"`, "StatisticApiAddr": `"192.0.2.1:5606"`,
	}
	d := w.start1(w.configVariant("exposed.toml", exposed))
	w.produce("obs", 5)
	w.sub.WaitFor(20*time.Second, "5 pushes", func(h []testsrv.Hit) bool { return len(h) >= 5 })
	logs := w.logs.String()
	for _, key := range []string{"DebugAddr", "PrometheusApiAddr", "StatisticApiAddr"} {
		assert.Contains(t, logs, key+" not served: set ExposeObservability = true or a loopback address")
	}
	assert.Contains(t, logs, "level=ERROR")
	select {
	case <-d.exited:
		t.Fatalf("daemon exited:\n%s", logs)
	default:
	}

	// With the opt-in the daemon does try: TEST-NET-1 is no address of
	// this machine, so it cannot listen and says so.
	exposed["ExposeObservability"] = "true"
	logs2 := &testsrv.LogBuffer{}
	d2 := w.startWith(w.configVariant("exposed-optin.toml", exposed), logs2)
	select {
	case <-d2.exited:
		require.Error(t, d2.err)
		assert.Contains(t, logs2.String(), "listen on DebugAddr 192.0.2.1:9898")
	case <-time.After(20 * time.Second):
		t.Fatalf("the opted-in daemon did not fail to listen:\n%s", logs2)
	}
}

// TestAdminTLSCertThatDoesNotLoadStopsTheStart: a wrong AdminTLSKeyFile
// is a clear error at start, not an API that silently is not there.
func TestAdminTLSCertThatDoesNotLoadStopsTheStart(t *testing.T) {
	w := newWorld(t)
	f := testsrv.NewTLSFiles(t)
	d := w.start1(w.configVariant("badtls.toml", map[string]string{
		"ListenAddr": fmt.Sprintf("%q", freeAddr(t)), "AdminTLSCertFile": fmt.Sprintf("%q", f.ServerCert),
		"AdminTLSKeyFile": fmt.Sprintf("%q", f.ClientKey),
	}))
	select {
	case <-d.exited:
		require.Error(t, d.err)
		assert.Contains(t, w.logs.String(), "admin API TLS: load AdminTLSCertFile "+f.ServerCert)
	case <-time.After(20 * time.Second):
		t.Fatalf("the daemon started with a key that is not its certificate's:\n%s", w.logs)
	}
}

// TestRedisOverTLS: the daemon reaches a TLS-only redis-server that asks
// for a client certificate, with the Redis.TLS* keys: a recover-list
// entry a producer left there is delivered.
func TestRedisOverTLS(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 3, Topic: "rtls", URL: "/hook", AlertEnabled: true})
	f := testsrv.NewTLSFiles(t)
	rd := testsrv.StartRedis(t, testsrv.WithTLS(f))
	b, err := os.ReadFile(w.cfg)
	require.NoError(t, err)
	plain := fmt.Sprintf("[Redis]\nAddr = %q\n", w.redisAddr)
	require.Contains(t, string(b), plain)
	cfgFile := w.dir + "/tls-redis.toml"
	require.NoError(t, os.WriteFile(cfgFile, []byte(strings.Replace(string(b), plain, fmt.Sprintf(
		"[Redis]\nAddr = %q\nTLS = true\nTLSCAFile = %q\nTLSCertFile = %q\nTLSKeyFile = %q\nTLSServerName = \"localhost\"\n",
		rd.Addr, f.CA, f.ClientCert, f.ClientKey), 1)), 0o644))
	d := w.start1(cfgFile)

	cfg, _, err := config.Load(cfgFile)
	require.NoError(t, err)
	opt, err := redisopt.Option(cfg)
	require.NoError(t, err)
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	defer c.Close()
	m := message.Message{Topic: []byte("rtls"), Body: []byte{0xa3, 't', 'l', 's'}, Time: 1732500000}
	require.NoError(t, c.Do(context.Background(),
		c.B().Lpush().Key("event_center_message_in_failure_log:web-1").Element(string(message.AppendMainJob(nil, &m))).Build()).Error())
	hits := w.sub.WaitFor(30*time.Second, "the recovered message", func(h []testsrv.Hit) bool { return len(h) == 1 })
	assert.Equal(t, `"tls"`, hits[0].Message)
	assert.NotContains(t, w.logs.String(), "redis not reachable")
	select {
	case <-d.exited:
		t.Fatalf("daemon exited:\n%s", w.logs)
	default:
	}
}

// TestEveryServerHasLimits: read, write and idle timeouts and a body
// limit on each server; the long write timeout on DebugAddr only.
func TestEveryServerHasLimits(t *testing.T) {
	cfg := &config.Config{DebugAddr: freeAddr(t), PrometheusApiAddr: freeAddr(t), StatisticApiAddr: freeAddr(t)}
	ls := &listeners{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	require.NoError(t, ls.observability(cfg, nil, stats.New()))
	defer ls.shutdown()
	require.Len(t, ls.eps, 3)
	servers := []*fasthttp.Server{ls.eps[0].srv, ls.eps[1].srv, ls.eps[2].srv}
	for i, s := range append(servers, admin.New(admin.Deps{Config: cfg}).Server()) {
		assert.Positive(t, s.ReadTimeout, i)
		assert.Positive(t, s.WriteTimeout, i)
		assert.Positive(t, s.IdleTimeout, i)
		assert.Positive(t, s.MaxRequestBodySize, i)
	}
	assert.Equal(t, debugWriteTimeout, servers[0].WriteTimeout, "DebugAddr")
	assert.Equal(t, obsWriteTimeout, servers[1].WriteTimeout, "PrometheusApiAddr")
	assert.Equal(t, obsWriteTimeout, servers[2].WriteTimeout, "StatisticApiAddr")
}

// TestServedListsBoundAddresses: the start line's endpoints are those
// bound, with their real port; off ones are absent (refused ones too:
// TestDaemonLifecycle).
func TestServedListsBoundAddresses(t *testing.T) {
	l := &listeners{log: slog.New(slog.DiscardHandler)}
	cfg := &config.Config{DebugAddr: "127.0.0.1:0"}
	require.NoError(t, l.observability(cfg, nil, stats.New()))
	defer l.shutdown()
	got := l.served()
	require.Len(t, got, 2, "%v", got)
	assert.Equal(t, "debug", got[0])
	assert.True(t, strings.HasPrefix(got[1].(string), "127.0.0.1:"), got[1])
	assert.NotEqual(t, "127.0.0.1:0", got[1])
	assert.Empty(t, (&listeners{}).served(), "nothing served, nothing logged")
}
