package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// mysqlWorld is a world whose daemon takes its subscriptions from the 2.x
// tables of a private MariaDB, one subscription to topic "my" whose URL
// is only there.
func mysqlWorld(t *testing.T) (*world, *testsrv.MySQL) {
	w := newWorld(t)
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	m.Exec(t,
		"INSERT INTO message_classes (class_id, class_key) VALUES (1, 'my')",
		fmt.Sprintf(`INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, timeout)
			VALUES (11, 1, 3, '%s/from-mysql', 0, 0)`, w.sub.URL),
		"INSERT INTO subscription_params (subscription_id, param_name, param_value) VALUES (11, 'Concurrency', '2')")
	return w, m
}

// startMySQLDaemon runs a daemon in the test process on the world's
// config with SubscriptionSource = "mysql" and m's [Database] polled
// every 200 ms; it is closed when the test ends.
func (w *world) startMySQLDaemon(m *testsrv.MySQL) *testsrv.LogBuffer {
	w.t.Helper()
	_, logs := w.runMySQLDaemon(w.mysqlConfig("mysql.toml", m, "PollInterval = 200"))
	return logs
}

// mysqlConfig loads a variant of the world's config named name, with
// SubscriptionSource = "mysql" and m's [Database], to which the lines of
// extra are added ("PollInterval = 200").
func (w *world) mysqlConfig(name string, m *testsrv.MySQL, extra ...string) *config.Config {
	w.t.Helper()
	path := w.configVariant(name, map[string]string{"SubscriptionSource": `"mysql"`})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(w.t, err)
	_, err = fmt.Fprintf(f, "\n[Database]\nHost = \"127.0.0.1\"\nPort = %d\nUser = %q\nPassword = %q\nDbName = %q\n%s\n",
		m.Port, m.User, m.Password, m.DB, strings.Join(extra, "\n"))
	require.NoError(w.t, err)
	require.NoError(w.t, f.Close())
	cfg, _, err := config.Load(path)
	require.NoError(w.t, err)
	require.True(w.t, cfg.SubscriptionFromMySQL)
	return cfg
}

// runMySQLDaemon runs a daemon in the test process on cfg, logging at
// INFO to the buffer returned; it is closed when the test ends (Close may
// be called before).
func (w *world) runMySQLDaemon(cfg *config.Config) (*Daemon, *testsrv.LogBuffer) {
	w.t.Helper()
	logs := &testsrv.LogBuffer{}
	d, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	require.NoError(w.t, err)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(context.Background()) }()
	w.t.Cleanup(func() {
		d.Close()
		assert.NoError(w.t, <-ran, "%s", logs)
	})
	return d, logs
}

// TestMySQLBadOptionsFailTheStart: [Database] Options the driver refuses
// (a boolean parameter set to "maybe") make New fail with a message that
// names the section and the option, before anything runs.
func TestMySQLBadOptionsFailTheStart(t *testing.T) {
	w := newWorld(t)
	m := &testsrv.MySQL{Server: &testsrv.Server{Port: 1}, User: "u", Password: "p", DB: "d"}
	cfg := w.mysqlConfig("badopts.toml", m, `Options = "parseTime=maybe"`)
	logs := &testsrv.LogBuffer{}
	d, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	require.Error(t, err)
	assert.Nil(t, d)
	assert.Contains(t, err.Error(), `[Database] of the MySQL subscription source: database options "parseTime=maybe"`)
	assert.NotContains(t, logs.String(), "medispatcher started")
}

// TestMySQLSourcePushesToTheURLInTheDatabase: a message of a topic
// subscribed in the 2.x tables is pushed to the URL in its row.
func TestMySQLSourcePushesToTheURLInTheDatabase(t *testing.T) {
	w, m := mysqlWorld(t)
	logs := w.startMySQLDaemon(m)
	w.produce("my", 3)
	hits := w.sub.WaitFor(20*time.Second, "3 pushes", func(h []testsrv.Hit) bool { return len(h) >= 3 })
	for _, h := range hits {
		assert.Equal(t, "/from-mysql", h.Path)
	}
	assert.Contains(t, logs.String(), `msg="subscriptions loaded" database=127.0.0.1:`)
}

// TestMySQLSourceDownAtStartLeavesMainTube: with the database down at
// start the daemon takes nothing from the main tube (nothing is deleted)
// and says why, naming the database; once the database is up every message is pushed.
func TestMySQLSourceDownAtStartLeavesMainTube(t *testing.T) {
	w, m := mysqlWorld(t)
	m.Kill()
	w.produce("my", 5)
	logs := w.startMySQLDaemon(m)
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "nothing is dispatched until it answers")
	}, 20*time.Second, 20*time.Millisecond, "the daemon says why:\n%s", logs)
	w.logs = logs
	w.untouched(3*time.Second, 5)
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "main tube left untouched") &&
			strings.Contains(logs.String(), "cannot read subscriptions from database 127.0.0.1:")
	}, 20*time.Second, 20*time.Millisecond, "the pause names the database:\n%s", logs)

	m.Restart(t)
	w.sub.WaitFor(30*time.Second, "the 5 waiting messages", func(h []testsrv.Hit) bool { return len(h) == 5 })
	require.Eventually(t, func() bool {
		c := w.counts("event_center_messages")
		return c["current-jobs-ready"]+c["current-jobs-reserved"] == 0
	}, 10*time.Second, 20*time.Millisecond)
	seen, dups := distinct(w.sub.Hits())
	assert.Len(t, seen, 5)
	assert.Zero(t, dups, "each waiting message delivered once")
}
