package admin_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/paneldb"
	"medispatcher/engine/process/admin"
	"medispatcher/internal/testsrv"
)

// startMySQL runs the rig's daemon with its subscriptions in the 2.x
// tables of a private MariaDB; db is the test's own connection to them,
// as the control panel's.
func startMySQL(t *testing.T) (*rig, *sql.DB) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	r := start(t, fmt.Sprintf("SubscriptionSource = \"mysql\"\n[Database]\nHost = \"127.0.0.1\"\nPort = %d\nUser = %q\nPassword = %q\nDbName = %q\nPollInterval = 200\n",
		m.Port, m.User, m.Password, m.DB))
	return r, m.Open(t)
}

func paramsOf(t *testing.T, db *sql.DB, id int64) map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT param_name, param_value FROM subscription_params WHERE subscription_id = ?", id)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		require.NoError(t, rows.Scan(&n, &v))
		out[n] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// TestMySQLSourceIsWritten: with SubscriptionSource = "mysql" the API
// writes the 2.x tables the control panel reads, and the daemon runs what
// it wrote before answering.
func TestMySQLSourceIsWritten(t *testing.T) {
	r, db := startMySQL(t)

	// Create without an id: the row's auto-increment id is the answer's.
	var ch adminapi.Changed
	require.Equal(t, 201, r.call("POST", "/api/v1/subscriptions", token,
		map[string]any{"topic": "orders", "subscriber_id": 4, "url": r.sub.URL + "/from-api", "timeout_ms": 1500, "concurrency": 3}, &ch))
	require.True(t, ch.Applied, "the daemon read the new row before the answer")
	id := ch.Subscription.ID
	require.Positive(t, id)
	var (
		topic, channel          string
		subscriber, status, tmo int
		subscribeTime           int64
	)
	require.NoError(t, db.QueryRow(`SELECT c.class_key, s.subscriber_id, s.reception_channel, s.status, s.timeout, s.subscribe_time
		FROM subscriptions s JOIN message_classes c ON c.class_id = s.message_class_id WHERE s.subscription_id = ?`, id).
		Scan(&topic, &subscriber, &channel, &status, &tmo, &subscribeTime))
	assert.Equal(t, []any{"orders", 4, r.sub.URL + "/from-api", 0, 1500}, []any{topic, subscriber, channel, status, tmo})
	assert.InDelta(t, time.Now().Unix(), subscribeTime, 60)
	assert.Equal(t, map[string]string{"Concurrency": "3"}, paramsOf(t, db, id))

	var list adminapi.SubList
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions", token, nil, &list))
	assert.True(t, list.Writable)
	assert.Equal(t, "mysql", list.Source)

	r.produce("orders", 5)
	hits := r.sub.WaitFor(10*time.Second, "5 pushes", func(h []testsrv.Hit) bool { return len(h) >= 5 })
	assert.Equal(t, "/from-api", hits[0].Path)

	// A live change of one parameter: its row changes.
	var patched adminapi.Changed
	path := fmt.Sprintf("/api/v1/subscriptions/%d", id)
	require.Equal(t, 200, r.call("PATCH", path, token, map[string]any{"concurrency": 7}, &patched))
	assert.True(t, patched.Applied)
	assert.Equal(t, 7, patched.Subscription.Effective.Concurrency)
	assert.Equal(t, map[string]string{"Concurrency": "7"}, paramsOf(t, db, id))

	// What the tables cannot hold is refused, naming the field.
	e := r.fail("PATCH", path, token, map[string]any{"rate": 100}, 422, admin.CodeInvalid)
	require.Len(t, e.Error.Details, 1)
	assert.Equal(t, "rate", e.Error.Details[0].Field)
	assert.Contains(t, e.Error.Details[0].Allowed, "no parameter")
	r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"topic": "x", "url": r.sub.URL, "burst": 3}, 422, admin.CodeInvalid)
	r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": id, "topic": "x", "url": r.sub.URL}, 409, admin.CodeConflict)
	assert.Equal(t, map[string]string{"Concurrency": "7"}, paramsOf(t, db, id), "nothing refused reached the tables")

	// Cancel is 2.x's: status 1, the row stays; the daemon drops it.
	var del adminapi.Changed
	require.Equal(t, 200, r.call("DELETE", path, token, nil, &del))
	assert.True(t, del.Applied)
	require.NoError(t, db.QueryRow("SELECT status FROM subscriptions WHERE subscription_id = ?", id).Scan(&status))
	assert.Equal(t, 1, status)
	r.fail("GET", path, token, nil, 404, admin.CodeNotFound)
}

// TestSecretsNeedTheToken: the list shows URLs unmasked only when asked,
// and only a daemon with a token does.
func TestSecretsNeedTheToken(t *testing.T) {
	r := start(t, "")
	r.create(3, "t", "", nil)
	var ch adminapi.Changed
	secret := "http://user:pa55@" + r.sub.URL[len("http://"):] + "/s"
	require.Equal(t, 200, r.call("PUT", "/api/v1/subscriptions/3", token, map[string]any{"topic": "t", "url": secret}, &ch))
	var list adminapi.SubList
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions", token, nil, &list))
	assert.NotContains(t, list.Subscriptions[0].URL, "pa55")
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions?secrets=1", token, nil, &list))
	assert.Equal(t, secret, list.Subscriptions[0].URL)
	r.fail("GET", "/api/v1/subscriptions?secrets=yes", token, nil, 400, admin.CodeBadRequest)

	open := startOn(t, freeAddr(t), "", "")
	open.fail("GET", "/api/v1/subscriptions?secrets=1", "", nil, 403, admin.CodeForbidden)
}
