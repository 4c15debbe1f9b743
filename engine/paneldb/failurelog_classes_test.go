package paneldb

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/internal/testsrv"
)

// Rows INSERTed many at a time under reserved ids get the class_id the
// per-row subquery gave: the topic's class, matched as the column's
// collation matches (case aside), and 0 for a topic without a class.
func TestClassIDsOfReservedRows(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	m.Exec(t, `INSERT INTO message_classes (class_id, class_key, class_name) VALUES (7, 'order_paid', 'Order paid'), (9, 'user_new', '')`)
	db := m.Open(t)
	f := NewFailureLog(db, FailureLogConfig{Addr: "10.1.2.3", ReserveIDs: 8, Linger: time.Hour,
		Fallback: func(r *FailureRow, err error) { t.Errorf("row %s not written: %v", r.JobID, err) }})
	reserved, err := f.reserve(t.Context(), 8)
	require.NoError(t, err)
	for _, id := range reserved {
		f.ids <- id
	}
	ids := failures.NewIDs()
	want := map[uint64]uint64{}
	for i, c := range []struct {
		topic string
		class uint64
	}{{"order_paid", 7}, {"user_new", 9}, {"ORDER_PAID", 7}, {"no_such_class", 0}, {"order_paid", 7}} {
		r := firstRecord(ids, i)
		r.Topic = c.topic
		id := f.First(r)
		require.Contains(t, reserved, id, "a reserved id: the row goes into the many-row INSERT")
		want[id] = c.class
	}
	f.Close(t.Context())
	got := map[uint64]uint64{}
	rows, err := db.Query(`SELECT log_id, message_class_id FROM broadcast_failure_log`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id, class uint64
		require.NoError(t, rows.Scan(&id, &class))
		got[id] = class
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, want, got)
}

// The writer reads a topic's class once, and again after classTTL: a
// class the panel adds shows in the rows written after that.
func TestClassIDsAreReadAgainAfterTheirTTL(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, Schema...)
	db := m.Open(t)
	var c classes
	resolve := func(now time.Time, topics ...string) {
		t.Helper()
		tx, err := db.BeginTx(t.Context(), nil)
		require.NoError(t, err)
		defer func() { require.NoError(t, tx.Commit()) }()
		var rows []*FailureRow
		for _, topic := range topics {
			rows = append(rows, &FailureRow{Topic: topic})
		}
		require.NoError(t, c.resolve(t.Context(), tx, rows, now))
	}
	t0 := time.Unix(1800000000, 0)
	resolve(t0, "order_paid", "order_paid")
	assert.Equal(t, map[string]uint64{"order_paid": 0}, c.ids, "no class yet")

	m.Exec(t, `INSERT INTO message_classes (class_id, class_key) VALUES (7, 'order_paid')`)
	resolve(t0.Add(classTTL))
	assert.Equal(t, uint64(0), c.ids["order_paid"], "cached until classTTL has passed")
	resolve(t0.Add(classTTL+time.Second), "order_paid")
	assert.Equal(t, uint64(7), c.ids["order_paid"], "read again")
}
