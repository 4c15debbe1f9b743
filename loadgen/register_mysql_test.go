package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// readMySQL is the set the daemon's mysql source reads from d's tables.
func readMySQL(t *testing.T, d config.DatabaseConfig) *subs.Set {
	t.Helper()
	db, err := paneldb.Open(d)
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan *subs.Set, 1)
	src := paneldb.NewSource(db, paneldb.Where(d), time.Hour, subs.Limits{}, nil)
	go func() {
		_ = src.Run(ctx, func(s *subs.Set) {
			select {
			case got <- s:
			default:
			}
		})
	}()
	select {
	case s := <-got:
		return s
	case <-ctx.Done():
		t.Fatalf("the mysql source read nothing: %s", src.Problem())
		return nil
	}
}

func mysqlTarget(t *testing.T) (*testsrv.MySQL, *config.DatabaseConfig) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	return m, &config.DatabaseConfig{Host: "127.0.0.1", Port: m.Port, User: m.User, Password: m.Password, DbName: m.DB}
}

// Registered into the 2.x tables, the plan's subscriptions are what the
// daemon's mysql source reads: URL, push timeout and parameters. A second
// registration replaces loadgen's own rows and leaves the others alone.
func TestRegisterMySQLIsWhatTheSourceReads(t *testing.T) {
	m, d := mysqlTarget(t)
	m.Exec(t, "INSERT INTO message_classes (class_id, class_key) VALUES (900, 'orders.created')",
		"INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, timeout) VALUES (900, 900, 900, 'http://panel.example/hook', 0, 0)")
	ctx := context.Background()
	first := []*subs.Subscription{
		{ID: 1, Topic: "lg.t0001", SubscriberID: 1, URL: "http://127.0.0.1:1/s/1", TimeoutMS: 1500, Concurrency: 4, ReceiveBench: true},
		{ID: 2, Topic: "lg.t0001", SubscriberID: 2, URL: "http://127.0.0.1:1/s/2", ReceiveBench: true},
		{ID: 3, Topic: "lg.t0002", SubscriberID: 3, URL: "http://127.0.0.1:1/s/3", AlertEmails: "ops@example.com"},
	}
	require.NoError(t, register(ctx, &Config{Database: d}, &Plan{Subs: first}))
	set := readMySQL(t, *d)
	require.Equal(t, 4, set.Len())
	for _, want := range first {
		got := set.ByID(want.ID)
		require.NotNil(t, got, "subscription %d", want.ID)
		assert.Equal(t, want.Topic, got.Topic)
		assert.Equal(t, want.URL, got.URL)
		assert.Equal(t, want.TimeoutMS, got.TimeoutMS)
		assert.Equal(t, want.Concurrency, got.Concurrency)
		assert.Equal(t, want.ReceiveBench, got.ReceiveBench)
		assert.Equal(t, want.AlertEmails, got.AlertEmails)
	}

	second := []*subs.Subscription{{ID: 1, Topic: "lg.t0003", SubscriberID: 1, URL: "http://127.0.0.1:2/s/1"}}
	require.NoError(t, register(ctx, &Config{Database: d}, &Plan{Subs: second}))
	set = readMySQL(t, *d)
	assert.Equal(t, 2, set.Len(), "the first run's subscriptions are gone, the panel's stays")
	assert.Equal(t, "lg.t0003", set.ByID(1).Topic)
	assert.Equal(t, 0, set.ByID(1).Concurrency, "the first run's parameter rows are gone")
	assert.Equal(t, "http://panel.example/hook", set.ByID(900).URL)
}

// A token bucket has no 2.x parameter: registering one would measure an
// unlimited subscription, so it is refused.
func TestRegisterMySQLRefusesRateLimits(t *testing.T) {
	err := register(context.Background(), &Config{Database: &config.DatabaseConfig{Host: "127.0.0.1", Port: 1}},
		&Plan{Subs: []*subs.Subscription{{ID: 1, Topic: "lg.t0001", URL: "http://x/", Rate: 5}}})
	assert.ErrorContains(t, err, "rate limit")
}
