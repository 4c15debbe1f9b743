package paneldb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/paneldb"
)

// subRow is one subscriptions row as the panel sees it.
type subRow struct {
	Class, Subscriber int64
	Channel           string
	Status            int
	SubscribeTime     int64
	Timeout           int
}

func (tb *tables) subRow(id int64) (subRow, bool) {
	tb.t.Helper()
	var r subRow
	err := tb.db.QueryRow(`SELECT message_class_id, subscriber_id, reception_channel, status, subscribe_time, timeout
		FROM subscriptions WHERE subscription_id = ?`, id).Scan(&r.Class, &r.Subscriber, &r.Channel, &r.Status, &r.SubscribeTime, &r.Timeout)
	if err != nil {
		return r, false
	}
	return r, true
}

// paramRows is the subscription_params rows of id, in insertion order.
func (tb *tables) paramRows(id int64) []paneldb.Param {
	tb.t.Helper()
	rows, err := tb.db.Query(`SELECT param_name, param_value FROM subscription_params WHERE subscription_id = ? ORDER BY id`, id)
	require.NoError(tb.t, err)
	defer rows.Close()
	var out []paneldb.Param
	for rows.Next() {
		var p paneldb.Param
		require.NoError(tb.t, rows.Scan(&p.Name, &p.Value))
		out = append(out, p)
	}
	require.NoError(tb.t, rows.Err())
	return out
}

func (tb *tables) count(q string, args ...any) int {
	tb.t.Helper()
	var n int
	require.NoError(tb.t, tb.db.QueryRow(q, args...).Scan(&n))
	return n
}

func (tb *tables) writer() *paneldb.Writer {
	pool, err := paneldb.Open(dbConfig(tb.m))
	require.NoError(tb.t, err)
	tb.t.Cleanup(func() { _ = pool.Close() })
	return paneldb.NewWriter(pool)
}

func TestWriterCreateInsertsTheClassTheRowAndItsParams(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	ctx := context.Background()
	before := time.Now().Unix()
	s := &subs.Subscription{ID: 40, Topic: "order.paid", SubscriberID: 9, URL: "http://a.example/hook", TimeoutMS: 1500,
		Concurrency: 3, AlertEnabled: false, AlertEmails: "ops@example.com"}
	id, err := w.Create(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, int64(40), id)

	var class int64
	var name string
	require.NoError(t, tb.db.QueryRow("SELECT class_id, class_name FROM message_classes WHERE class_key = 'order.paid'").Scan(&class, &name))
	assert.Equal(t, "order.paid", name)
	row, ok := tb.subRow(40)
	require.True(t, ok)
	assert.Equal(t, subRow{Class: class, Subscriber: 9, Channel: "http://a.example/hook", Status: 0, SubscribeTime: row.SubscribeTime, Timeout: 1500}, row)
	assert.GreaterOrEqual(t, row.SubscribeTime, before)
	assert.LessOrEqual(t, row.SubscribeTime, time.Now().Unix())
	assert.Equal(t, []paneldb.Param{{Name: "Concurrency", Value: "3"}, {Name: "AlerterEnabled", Value: "0"}, {Name: "AlerterEmails", Value: "ops@example.com"}},
		tb.paramRows(40))

	// A second subscription of the topic reuses its class; no id given
	// takes the next auto-increment one.
	id2, err := w.Create(ctx, &subs.Subscription{Topic: "order.paid", SubscriberID: 2, URL: "http://b.example/", AlertEnabled: true})
	require.NoError(t, err)
	assert.Equal(t, int64(41), id2)
	row2, ok := tb.subRow(id2)
	require.True(t, ok)
	assert.Equal(t, class, row2.Class)
	assert.Empty(t, tb.paramRows(id2), "every setting at its default: no parameter row")
	assert.Equal(t, 1, tb.count("SELECT COUNT(*) FROM message_classes"))

	// What was written reads back as the subscription given.
	r := tb.start(20*time.Millisecond, defaults)
	r.next(10*time.Second, "the created subscription", hasSub(40, func(got *subs.Subscription) bool { return got.Equal(s) }))
}

func TestWriterCreateRefusesAnExistingID(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	tb.add(&subs.Subscription{ID: 5, Topic: "t", URL: "http://a.example/", AlertEnabled: true})
	tb.exec("UPDATE subscriptions SET status = 1 WHERE subscription_id = 5")
	_, err := w.Create(context.Background(), &subs.Subscription{ID: 5, Topic: "u", URL: "http://b.example/", Concurrency: 2})
	require.ErrorIs(t, err, paneldb.ErrExists, "a cancelled row keeps its id")
	assert.Equal(t, 0, tb.count("SELECT COUNT(*) FROM message_classes WHERE class_key = 'u'"))
	assert.Empty(t, tb.paramRows(5))
}

// TestWriterCreateIsOneTransaction: a parameter row that cannot be
// inserted (a value longer than the TEXT column) leaves neither the
// subscription's row nor the class row it created.
func TestWriterCreateIsOneTransaction(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	s := &subs.Subscription{ID: 8, Topic: "fresh", URL: "http://a.example/", Concurrency: 2,
		AlertEmails: strings.Repeat("x", 70000)}
	_, err := w.Create(context.Background(), s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "insert subscription_params AlerterEmails")
	_, found := tb.subRow(8)
	assert.False(t, found, "the subscription row was rolled back")
	assert.Equal(t, 0, tb.count("SELECT COUNT(*) FROM subscription_params"))
	assert.Equal(t, 0, tb.count("SELECT COUNT(*) FROM message_classes"))
}

func TestWriterUpdateRewritesTheColumnsAndReplacesTheParams(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	old := &subs.Subscription{ID: 12, Topic: "a", SubscriberID: 1, URL: "http://old.example/", Concurrency: 4, IntervalMS: 10, AlertEnabled: true}
	tb.add(old, paneldb.Param{Name: paneldb.ParamReceptionURI, Value: "http://override.example/"}, paneldb.Param{Name: "SomethingElse", Value: "1"})
	tb.exec("UPDATE subscriptions SET subscribe_time = 1700000000 WHERE subscription_id = 12")

	s := &subs.Subscription{ID: 12, Topic: "b", SubscriberID: 2, URL: "http://new.example/", TimeoutMS: 900, Concurrency: 7, AlertEnabled: true}
	require.NoError(t, w.Update(context.Background(), s))
	var classB int64
	require.NoError(t, tb.db.QueryRow("SELECT class_id FROM message_classes WHERE class_key = 'b'").Scan(&classB))
	row, _ := tb.subRow(12)
	assert.Equal(t, subRow{Class: classB, Subscriber: 2, Channel: "http://new.example/", Status: 0, SubscribeTime: 1700000000, Timeout: 900}, row)
	assert.Equal(t, []paneldb.Param{{Name: "Concurrency", Value: "7"}}, tb.paramRows(12),
		"every old row is replaced, the URL override and unknown names included")

	err := w.Update(context.Background(), &subs.Subscription{ID: 99, Topic: "b", URL: "http://x.example/"})
	assert.ErrorIs(t, err, paneldb.ErrNotFound)
}

func TestWriterUpdateIsOneTransaction(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	tb.add(&subs.Subscription{ID: 3, Topic: "a", URL: "http://old.example/", Concurrency: 4, AlertEnabled: true})
	s := &subs.Subscription{ID: 3, Topic: "a", URL: "http://new.example/", AlertEnabled: true, AlertPhones: strings.Repeat("1", 70000)}
	require.Error(t, w.Update(context.Background(), s))
	row, _ := tb.subRow(3)
	assert.Equal(t, "http://old.example/", row.Channel)
	assert.Equal(t, []paneldb.Param{{Name: "Concurrency", Value: "4"}}, tb.paramRows(3))
}

func TestWriterCancelSetsStatusOne(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	tb.add(&subs.Subscription{ID: 6, Topic: "a", URL: "http://a.example/", Concurrency: 2, AlertEnabled: true})
	require.NoError(t, w.Cancel(context.Background(), 6))
	row, found := tb.subRow(6)
	require.True(t, found, "the row stays for the panel's history")
	assert.Equal(t, 1, row.Status)
	assert.Equal(t, []paneldb.Param{{Name: "Concurrency", Value: "2"}}, tb.paramRows(6))
	assert.ErrorIs(t, w.Cancel(context.Background(), 7), paneldb.ErrNotFound)
}

func TestWriterRefusesWhatTheTablesCannotHold(t *testing.T) {
	tb := newTables(t)
	w := tb.writer()
	_, err := w.Create(context.Background(), &subs.Subscription{ID: 1, Topic: "a", URL: "http://a.example/", Rate: 5, Burst: 2})
	require.ErrorIs(t, err, subs.ErrInvalid)
	assert.Equal(t, []string{"rate", "burst"}, subs.InvalidFields(err))
	assert.Equal(t, 0, tb.count("SELECT COUNT(*) FROM subscriptions"))
	err = w.Update(context.Background(), &subs.Subscription{ID: paneldb.MaxID + 1, Topic: "a", URL: "http://a.example/"})
	assert.Equal(t, []string{"id"}, subs.InvalidFields(err))
}
