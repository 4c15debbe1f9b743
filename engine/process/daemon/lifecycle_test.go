package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/stats"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// inProcess loads the config file path for a daemon run in the test
// process (so that the race detector sees it), logging at INFO to logs.
func inProcess(t *testing.T, path string, logs *testsrv.LogBuffer) (*config.Config, *slog.Logger) {
	t.Helper()
	cfg, _, err := config.Load(path)
	require.NoError(t, err)
	return cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// TestDaemonLifecycle: New, then Run until Close is called from another
// goroutine, which drains and stops; the start line names what is served
// at the address bound, and only that.
func TestDaemonLifecycle(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "life", URL: "/hook", AlertEnabled: true})
	logs := &testsrv.LogBuffer{}
	cfg, log := inProcess(t, w.configVariant("life.toml", map[string]string{
		"DebugAddr": `"127.0.0.1:0"`, "StatisticApiAddr": `"192.0.2.1:5606"`,
	}), logs)
	d, err := New(context.Background(), cfg, log)
	require.NoError(t, err)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(context.Background()) }()

	w.produce("life", 3)
	w.sub.WaitFor(20*time.Second, "3 pushes", func(h []testsrv.Hit) bool { return len(h) >= 3 })
	started := regexp.MustCompile(`msg="medispatcher started" .*`).FindString(logs.String())
	require.NotEmpty(t, started, logs.String())
	debug := regexp.MustCompile(` debug=(127\.0\.0\.1:\d+) `).FindStringSubmatch(started)
	require.NotNil(t, debug, started)
	assert.NotEqual(t, "127.0.0.1:0", debug[1], "the bound port, not the configured 0")
	status, _ := get(t, "http://"+debug[1]+"/metrics")
	assert.Equal(t, 200, status)
	assert.NotContains(t, started, "statistics=", "a refused address is not served, so not logged")
	assert.NotContains(t, started, "admin=")

	d.Close()
	select {
	case err := <-ran:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return after Close:\n%s", logs)
	}
	assert.Contains(t, logs.String(), `msg="medispatcher stopped"`)
	d.Close() // a second Close does nothing
	assert.Error(t, d.Run(context.Background()), "Run after Close")
	_, err = net.DialTimeout("tcp", debug[1], time.Second)
	assert.Error(t, err, "DebugAddr closed")
}

// TestNewFailsBeforeAnythingRuns: an address that cannot be listened on
// fails New, which closes what it had built (the port it did bind among
// them) and starts nothing.
func TestNewFailsBeforeAnythingRuns(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 1, Topic: "nostart", URL: "/hook", AlertEnabled: true})
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	prom := freeAddr(t)
	logs := &testsrv.LogBuffer{}
	cfg, log := inProcess(t, w.configVariant("taken.toml", map[string]string{
		"PrometheusApiAddr": `"` + prom + `"`, "StatisticApiAddr": `"` + taken.Addr().String() + `"`,
	}), logs)
	d, err := New(context.Background(), cfg, log)
	require.Error(t, err)
	assert.Nil(t, d)
	assert.Contains(t, err.Error(), "listen on StatisticApiAddr "+taken.Addr().String())
	w.produce("nostart", 1)
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, w.sub.Hits(), "nothing dispatched")
	assert.NotContains(t, logs.String(), "medispatcher started")
	ln, err := net.Listen("tcp", prom)
	require.NoError(t, err, "PrometheusApiAddr, bound before the failure, was closed")
	_ = ln.Close()
}

// TestServedListsBoundAddresses: the start line's endpoints are those
// bound, with their real port; off ones are absent (refused ones too:
// TestDaemonLifecycle).
func TestServedListsBoundAddresses(t *testing.T) {
	l := &listeners{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
