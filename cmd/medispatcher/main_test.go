package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
)

const exampleConfig = "../../scripts/medispatcher.example.toml"

// noDaemon fails a test that reaches the daemon when it should not.
func noDaemon(t *testing.T) runDaemon {
	return func(context.Context, *config.Config, *slog.Logger) error {
		t.Error("daemon started")
		return nil
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runArgs(t *testing.T, start runDaemon, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, start)
	return result{code, out.String(), errOut.String()}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "medispatcher.toml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestCheckExample(t *testing.T) {
	abs, err := filepath.Abs(exampleConfig)
	require.NoError(t, err)
	for _, args := range [][]string{
		{"--check", exampleConfig},
		{exampleConfig, "--check"},
		{"-check", "-c", exampleConfig},
	} {
		r := runArgs(t, noDaemon(t), args...)
		assert.Equal(t, exitOK, r.code, "%q: %s", args, r.stderr)
		assert.Equal(t, "config OK: "+abs+"\n", r.stdout, "%q", args)
		assert.Empty(t, r.stderr, "the example has no warnings")
	}
}

func TestCheckOldConfigPrintsWarnings(t *testing.T) {
	r := runArgs(t, noDaemon(t), "--check", "../../internal/config/testdata/old-sample.toml")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "config OK: ")
	assert.Contains(t, r.stderr, "warning: key DAEMON_USER is not used by medispatcher (")
	// A 2.x file's [Database] is used: its subscriptions come from there.
	assert.NotContains(t, r.stderr, "Database")
	assert.Contains(t, r.stdout, "subscriptions: mysql, database 127.0.0.1:3306/jm_event (user dev)")
	assert.NotContains(t, r.stdout+r.stderr, "xxxx", "the database password is never printed")
}

func TestConfigErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.toml")
	for _, tc := range []struct {
		name string
		path string
		want []string
	}{
		{"invalid address", writeFile(t, `QueueServerAddr = "nonsense"`+"\n"), []string{"QueueServerAddr", `"nonsense"`, "host:port[,host:port...]"}},
		{"several invalid", writeFile(t, "ListenersOfMainQueue = 0\nLogFormat = \"xml\"\n"), []string{"ListenersOfMainQueue = 0", `LogFormat = "xml"`}},
		{"syntax", writeFile(t, "a = \n"), []string{":1:"}},
		{"missing", missing, []string{missing, "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"--check", tc.path}, {tc.path}} {
				r := runArgs(t, noDaemon(t), args...)
				assert.Equal(t, exitConfig, r.code)
				assert.Empty(t, r.stdout)
				for _, w := range tc.want {
					assert.Contains(t, r.stderr, w)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	v, bt, gh := buildinfo.Version, buildinfo.BuildTime, buildinfo.GitHash
	t.Cleanup(func() { buildinfo.Version, buildinfo.BuildTime, buildinfo.GitHash = v, bt, gh })
	// What the Makefile's -ldflags -X set.
	buildinfo.Version, buildinfo.BuildTime, buildinfo.GitHash = "v9.8.7", "2030-01-02T03:04:05Z", "0123456789ab"
	for _, arg := range []string{"-v", "--version", "-version"} {
		r := runArgs(t, noDaemon(t), arg)
		assert.Equal(t, exitOK, r.code, arg)
		assert.Equal(t, buildinfo.String("medispatcher")+"\n", r.stdout, arg)
		for _, want := range []string{"medispatcher v9.8.7", "2030-01-02T03:04:05Z", "0123456789ab"} {
			assert.Contains(t, r.stdout, want, arg)
		}
		assert.Empty(t, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		r := runArgs(t, noDaemon(t), arg)
		assert.Equal(t, exitOK, r.code, arg)
		assert.Equal(t, usageText, r.stdout)
		assert.Empty(t, r.stderr)
	}
	for _, want := range []string{"-c CONFIG", "--check", "--version", "--help", "/etc/medispatcher.toml",
		"0  clean", "1  configuration error", "2  usage error", "3  runtime failure"} {
		assert.Contains(t, usageText, want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"a.toml", "b.toml"},
		{"-c", "a.toml", "b.toml"},
		{"-c"},
		{"--check=maybe"},
	} {
		r := runArgs(t, noDaemon(t), args...)
		assert.Equal(t, exitUsage, r.code, "%q", args)
		assert.Contains(t, r.stderr, "medispatcher -h", "%q", args)
		assert.Empty(t, r.stdout)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want options
	}{
		{nil, options{config: defaultConfigPath}},
		{[]string{"x.toml"}, options{config: "x.toml"}},
		{[]string{"-c", "x.toml"}, options{config: "x.toml"}},
		{[]string{"-c", "x.toml", "x.toml"}, options{config: "x.toml"}},
		{[]string{"x.toml", "--check"}, options{config: "x.toml", check: true}},
		{[]string{"--check"}, options{config: defaultConfigPath, check: true}},
		{[]string{"--", "-odd.toml"}, options{config: "-odd.toml"}},
	} {
		got, err := parseArgs(tc.args)
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.want, got, "%q", tc.args)
	}
}

func TestRunStartsDaemon(t *testing.T) {
	path := writeFile(t, "LogFormat = \"json\"\nLogLevel = \"debug\"\nListenAddr = \"0.0.0.0:0\"\nFoo = 1\n")
	var got *config.Config
	r := runArgs(t, func(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
		got = cfg
		require.NotNil(t, log)
		assert.True(t, log.Enabled(ctx, slog.LevelDebug), "LogLevel reaches the logger")
		log.Info("hello from the daemon", "sub", 17)
		return nil
	}, path)
	assert.Equal(t, exitOK, r.code, r.stderr)
	require.NotNil(t, got)
	assert.Equal(t, path, got.Path)
	assert.Empty(t, r.stdout)

	// Every line on stderr is JSON (LogFormat); the config warnings are there.
	var msgs []string
	for line := range strings.SplitSeq(strings.TrimSpace(r.stderr), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		msgs = append(msgs, rec["msg"].(string))
	}
	assert.Contains(t, msgs, "config: unknown key Foo, ignored")
	assert.Contains(t, msgs, "control interface is reachable from the network and has no authentication")
	assert.Contains(t, msgs, "hello from the daemon")
}

func TestRunDaemonFailure(t *testing.T) {
	path := writeFile(t, "")
	r := runArgs(t, func(context.Context, *config.Config, *slog.Logger) error {
		return errors.New("beanstalkd pool: boom")
	}, path)
	assert.Equal(t, exitRuntime, r.code)
	assert.Contains(t, r.stderr, "medispatcher failed")
	assert.Contains(t, r.stderr, "boom")
}

func TestRunStopsOnSignal(t *testing.T) {
	path := writeFile(t, "")
	r := runArgs(t, func(ctx context.Context, _ *config.Config, _ *slog.Logger) error {
		// The handler is installed before the daemon starts, so this
		// signal ends ctx instead of the test process.
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
		<-ctx.Done()
		return nil
	}, path)
	assert.Equal(t, exitOK, r.code, r.stderr)
}

func TestRunStopsWithParentContext(t *testing.T) {
	path := writeFile(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		var out, errOut bytes.Buffer
		done <- run(ctx, []string{path}, &out, &errOut, func(ctx context.Context, _ *config.Config, _ *slog.Logger) error {
			close(started)
			<-ctx.Done()
			return nil
		})
	}()
	<-started
	cancel()
	assert.Equal(t, exitOK, <-done)
}

// With SubscriptionSource = "mysql" (a 2.x file with [Database]), --check
// names the source and the database's address and user, never the
// password.
func TestCheckNamesTheMySQLSource(t *testing.T) {
	r := runArgs(t, noDaemon(t), "--check", "../../internal/config/testdata/old-sample.toml")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "subscriptions: mysql, database 127.0.0.1:3306/jm_event (user dev)\n")
	assert.NotContains(t, r.stdout+r.stderr, "xxxx", "the password")
}
