package paneldb_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/testsrv"
)

// tables is a test database holding the 2.x tables.
type tables struct {
	t  testing.TB
	m  *testsrv.MySQL
	db *sql.DB // the test's own connection, as the control panel's
}

func newTables(t testing.TB) *tables {
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	return &tables{t: t, m: m, db: m.Open(t)}
}

func (tb *tables) exec(q string, args ...any) int64 {
	tb.t.Helper()
	res, err := tb.db.Exec(q, args...)
	require.NoError(tb.t, err, q)
	id, err := res.LastInsertId()
	require.NoError(tb.t, err)
	return id
}

// add stores s as the control panel does (its class, its row, its
// parameter rows) and returns the subscription_id given.
func (tb *tables) add(s *subs.Subscription, extra ...paneldb.Param) int64 {
	tb.t.Helper()
	var class int64
	if err := tb.db.QueryRow("SELECT class_id FROM message_classes WHERE class_key = ?", s.Topic).Scan(&class); err != nil {
		class = tb.exec("INSERT INTO message_classes (class_key, class_name) VALUES (?, ?)", s.Topic, s.Topic)
	}
	id := tb.exec(`INSERT INTO subscriptions (subscription_id, message_class_id, subscriber_id, reception_channel, status, subscribe_time, timeout)
		VALUES (?, ?, ?, ?, 0, 1732500000, ?)`, s.ID, class, s.SubscriberID, s.URL, s.TimeoutMS)
	for _, p := range append(paneldb.ParamsOf(s), extra...) {
		tb.exec("INSERT INTO subscription_params (subscription_id, param_name, param_value) VALUES (?, ?, ?)", id, p.Name, p.Value)
	}
	return id
}

// run is a source running on the tables until the test ends.
type run struct {
	t    testing.TB
	src  *paneldb.Source
	sets chan *subs.Set
	logs *testsrv.LogBuffer

	mu      sync.Mutex
	invalid []error
	downs   []bool
	ups     int
}

func (tb *tables) start(poll time.Duration, lim subs.Limits) *run {
	r := &run{t: tb.t, sets: make(chan *subs.Set, 64), logs: &testsrv.LogBuffer{}}
	pool, err := paneldb.Open(dbConfig(tb.m))
	require.NoError(tb.t, err)
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.src = paneldb.NewSource(pool, "test", poll, lim, log)
	r.src.SetOptions(paneldb.Options{
		Options: subs.Options{OnInvalid: func(id int64, held bool, err error) {
			r.mu.Lock()
			r.invalid = append(r.invalid, err)
			r.mu.Unlock()
		}},
		OnDown: func(err error, held bool) { r.mu.Lock(); r.downs = append(r.downs, held); r.mu.Unlock() },
		OnUp:   func(time.Duration) { r.mu.Lock(); r.ups++; r.mu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.src.Run(ctx, func(s *subs.Set) { r.sets <- s }) }()
	tb.t.Cleanup(func() {
		cancel()
		assert.NoError(tb.t, <-done)
		_ = pool.Close()
	})
	return r
}

// next waits, at most within, for an applied set that ok accepts.
func (r *run) next(within time.Duration, what string, ok func(*subs.Set) bool) *subs.Set {
	r.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case s := <-r.sets:
			if ok(s) {
				return s
			}
		case <-deadline:
			r.t.Fatalf("no set with %s within %s:\n%s", what, within, r.logs)
			return nil
		}
	}
}

// noneUntil asserts that no set is applied while cond has not become true.
func (r *run) noneUntil(what string, cond func() bool) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		select {
		case s := <-r.sets:
			r.t.Fatalf("a set of %d was applied while %s", s.Len(), what)
		default:
		}
		return cond()
	}, 20*time.Second, 10*time.Millisecond, what)
}

func (r *run) counts() (probes, reads, failures uint64) { return r.src.Counts() }

func hasSub(id int64, ok func(*subs.Subscription) bool) func(*subs.Set) bool {
	return func(s *subs.Set) bool { x := s.ByID(id); return x != nil && ok(x) }
}

var defaults = subs.Limits{MaxConcurrency: 50, MaxRetryConcurrency: 50, MaxTimeoutMS: 60000}

func TestSourceMapsEveryParamAndTheURLOverride(t *testing.T) {
	tb := newTables(t)
	want := &subs.Subscription{ID: 7, Topic: "order.paid", SubscriberID: 3, URL: "http://param.example/hook",
		TimeoutMS: 1500, Concurrency: 4, RetryConcurrency: 2, IntervalMS: 25, ReceiveBench: true,
		AlertEnabled: false, AlertEmails: "a@example.com", AlertPhones: "123", AlertReceiver: "ops",
		AlertIntervalS: 60, AlertFailureWindowS: 120, AlertRetryThreshold: 5, AlertFailureThreshold: 50,
		AlertBacklogThreshold: 1000, DropThreshold: 20000, DropAction: subs.DropDrop,
		SigningSecrets: []string{"whsec_" + base64.StdEncoding.EncodeToString([]byte("a signing key in the database"))},
		CircuitBreaker: subs.BreakerOff, AdaptiveWindow: subs.WindowOn}
	stored := *want
	stored.URL, stored.TimeoutMS = "http://column.example/hook", 700
	tb.add(&stored, paneldb.Param{Name: paneldb.ParamReceptionURI, Value: want.URL},
		paneldb.Param{Name: paneldb.ParamProcessTimeout, Value: "1500"})
	plain := &subs.Subscription{ID: 8, Topic: "order.paid", SubscriberID: 4, URL: "http://plain.example/", AlertEnabled: true}
	tb.add(plain)

	r := tb.start(100*time.Millisecond, defaults)
	set := r.next(10*time.Second, "both subscriptions", func(s *subs.Set) bool { return s.Len() == 2 })
	assert.True(t, want.Equal(set.ByID(7)), "want %+v\n got %+v", want, set.ByID(7))
	assert.True(t, plain.Equal(set.ByID(8)), "no parameter row: the defaults; got %+v", set.ByID(8))
	assert.Equal(t, "http://param.example/hook", set.ByID(7).URLs().Candidates("")[0])
	assert.Empty(t, r.src.Problem())
}

func TestSourceFollowsChangesWithinTwoSeconds(t *testing.T) {
	const id = 1
	tb, r := startOne(t, &subs.Subscription{ID: id, Topic: "a", URL: "http://x/", Concurrency: 2, AlertEnabled: true},
		paneldb.DefaultPollInterval)

	changes := []struct {
		what string
		sql  string
		ok   func(*subs.Set) bool
	}{
		{"a param value updated", "UPDATE subscription_params SET param_value = '9' WHERE param_name = 'Concurrency'",
			hasSub(id, func(s *subs.Subscription) bool { return s.Concurrency == 9 })},
		{"a param inserted", fmt.Sprintf("INSERT INTO subscription_params (subscription_id, param_name, param_value) VALUES (%d, 'IntervalOfSending', '40')", id),
			hasSub(id, func(s *subs.Subscription) bool { return s.IntervalMS == 40 })},
		{"a param deleted", "DELETE FROM subscription_params WHERE param_name = 'Concurrency'",
			hasSub(id, func(s *subs.Subscription) bool { return s.Concurrency == 0 })},
		{"a class renamed", "UPDATE message_classes SET class_key = 'b'",
			hasSub(id, func(s *subs.Subscription) bool { return s.Topic == "b" })},
		{"the subscription cancelled (status 1)", "UPDATE subscriptions SET status = 1",
			func(s *subs.Set) bool { return s.Len() == 0 }},
	}
	for _, c := range changes {
		start := time.Now()
		tb.exec(c.sql)
		r.next(5*time.Second, c.what, c.ok)
		assert.Less(t, time.Since(start), 2*time.Second, c.what)
	}
	assert.Contains(t, r.src.Problem(), "holds no active subscription", "an empty answer is applied and said")
	assert.Contains(t, r.logs.String(), "applying the empty set")
}

func TestSourceInvalidParamKeepsLastGoodAndUnknownNamesWarnOnce(t *testing.T) {
	tb := newTables(t)
	id := tb.add(&subs.Subscription{ID: 5, Topic: "inv", URL: "http://x/", Concurrency: 3, AlertEnabled: true},
		paneldb.Param{Name: "Concurency", Value: "3"})
	tb.add(&subs.Subscription{ID: 6, Topic: "inv", URL: "http://y/", AlertEnabled: true},
		paneldb.Param{Name: "Concurency", Value: "1"})
	r := tb.start(50*time.Millisecond, defaults)
	r.next(10*time.Second, "the first read", func(s *subs.Set) bool { return s.Len() == 2 })

	tb.exec("UPDATE subscription_params SET param_value = 'five' WHERE param_name = 'Concurrency'")
	// The invalid version changes nothing: the set applied stays.
	require.Eventually(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.invalid) == 1 },
		5*time.Second, 10*time.Millisecond)
	r.mu.Lock()
	err := r.invalid[0]
	r.mu.Unlock()
	assert.Equal(t, []string{"Concurrency"}, subs.InvalidFields(err))
	assert.Contains(t, err.Error(), `subscription 5: Concurrency = "five"`)
	assert.Contains(t, r.logs.String(), "keeping its last good version")

	// A later valid change of another subscription keeps 5's last good version.
	tb.exec("UPDATE subscriptions SET reception_channel = 'http://z/' WHERE subscription_id = 6")
	set := r.next(5*time.Second, "6's new URL", hasSub(6, func(s *subs.Subscription) bool { return s.URL == "http://z/" }))
	require.NotNil(t, set.ByID(id))
	assert.Equal(t, 3, set.ByID(id).Concurrency)

	tb.exec("UPDATE subscription_params SET param_value = '4' WHERE param_name = 'Concurrency'")
	r.next(5*time.Second, "5 valid again", hasSub(id, func(s *subs.Subscription) bool { return s.Concurrency == 4 }))
	assert.Equal(t, 1, strings.Count(r.logs.String(), "subscription parameter unknown"), "once per name:\n%s", r.logs)
	r.mu.Lock()
	assert.Len(t, r.invalid, 1, "once per invalid version")
	r.mu.Unlock()
}

// startOne stores s alone and runs a source polling every poll until its
// first set is applied.
func startOne(t *testing.T, s *subs.Subscription, poll time.Duration) (*tables, *run) {
	tb := newTables(t)
	tb.add(s)
	r := tb.start(poll, defaults)
	r.next(10*time.Second, "the first read", func(set *subs.Set) bool { return set.Len() == 1 })
	return tb, r
}

func TestSourceProbeUnchangedMeansNoRead(t *testing.T) {
	tb, r := startOne(t, &subs.Subscription{ID: 1, Topic: "p", URL: "http://x/", AlertEnabled: true}, 20*time.Millisecond)
	r.probesWithoutRead("the tables do not change")

	// Subscribe time is not read: changing it is no change.
	tb.exec("UPDATE subscriptions SET subscribe_time = 1")
	r.probesWithoutRead("only an unread column changed")
}

// probesWithoutRead waits for 10 more probes, no set applied meanwhile,
// and asserts that the first full read is still the only one.
func (r *run) probesWithoutRead(while string) {
	r.t.Helper()
	probes, _, _ := r.counts()
	r.noneUntil(while, func() bool { p, _, _ := r.counts(); return p >= probes+10 })
	_, reads, failures := r.counts()
	assert.Equal(r.t, uint64(1), reads, "one full read: the probe saw no change since (%s)", while)
	assert.Zero(r.t, failures)
}

// outage waits for 3 failed attempts, no set applied meanwhile, and
// asserts what one outage shows: Problem names the database, one ERROR
// (saying says) and one OnDown (held: with a set kept).
func (r *run) outage(held bool, says string) {
	r.t.Helper()
	r.noneUntil("the database is down", func() bool { _, _, f := r.counts(); return f >= 3 })
	assert.Contains(r.t, r.src.Problem(), "cannot read subscriptions from database test")
	assert.Equal(r.t, 1, strings.Count(r.logs.String(), "level=ERROR"), "one ERROR per outage:\n%s", r.logs)
	assert.Contains(r.t, r.logs.String(), says)
	r.mu.Lock()
	assert.Equal(r.t, []bool{held}, r.downs, "one OnDown")
	r.mu.Unlock()
}

func TestSourceDatabaseDownAtStart(t *testing.T) {
	tb := newTables(t)
	tb.add(&subs.Subscription{ID: 1, Topic: "d", URL: "http://x/", AlertEnabled: true})
	tb.m.Kill()
	r := tb.start(100*time.Millisecond, defaults)
	r.outage(false, "nothing is dispatched until it answers")

	tb.m.Restart(t)
	r.next(20*time.Second, "the set once the database is up", func(s *subs.Set) bool { return s.Len() == 1 })
	require.Eventually(t, func() bool { return r.src.Problem() == "" }, 5*time.Second, 10*time.Millisecond)
	r.mu.Lock()
	assert.Equal(t, 1, r.ups)
	r.mu.Unlock()
}

func TestSourceKeepsTheSetWhileTheDatabaseIsDown(t *testing.T) {
	tb, r := startOne(t, &subs.Subscription{ID: 1, Topic: "k", URL: "http://x/", AlertEnabled: true}, 100*time.Millisecond)

	tb.m.Kill()
	r.outage(true, "keeping the previous set")

	tb.m.Restart(t)
	tb.db = tb.m.Open(t)
	tb.add(&subs.Subscription{ID: 2, Topic: "k", URL: "http://y/", AlertEnabled: true})
	r.next(20*time.Second, "the change made after the restart", func(s *subs.Set) bool { return s.Len() == 2 })
	assert.Contains(t, r.logs.String(), "database answers again")
}
