package daemon

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
)

// TestFailureRowsFollowTheDatabaseSettings: failure records reach
// broadcast_failure_log only with the subscriptions in MySQL and
// Database.FailureLog on; the store's Close drains the rows.
func TestFailureRowsFollowTheDatabaseSettings(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	data, err := datalog.Open(datalog.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = data.Close(context.Background()) })
	log := slog.New(slog.DiscardHandler)

	cfg := config.Default()
	cfg.Database = config.DatabaseConfig{Host: "127.0.0.1", Port: m.Port, User: m.User, Password: m.Password, DbName: m.DB, FailureLog: true}
	none, err := openDatabase(cfg)
	require.NoError(t, err)
	assert.Nil(t, none, "subscriptions not from MySQL: no pool")
	db, err := paneldb.Open(cfg.Database)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	assert.Nil(t, newFailureRows(cfg, data, db, log), "subscriptions not from MySQL: no rows")
	cfg.SubscriptionFromMySQL = true
	cfg.Database.FailureLog = false
	assert.Nil(t, newFailureRows(cfg, data, db, log), "FailureLog = false: no rows")

	cfg.Database.FailureLog = true
	store := newFailureStore(cfg, data, db, log)
	msg := &message.Message{Topic: []byte("t"), Body: []byte{0xa1, 'x'}, Time: 1732500000, OriginJobID: 5, SubscriptionID: 9}
	id := store.First(&failures.Record{LogID: failures.NewIDs().Next(), JobID: "1732500000.000000-5-9", Topic: "t", SubID: 9,
		URL: "http://h/x", PanelError: "Code: 500\nContent:\n\t", Job: message.AppendChannelJob(nil, msg)})
	require.False(t, failures.DaemonMade(id), "the row's log_id names the record")
	store.Add(&failures.Record{LogID: id, JobID: "1732500000.000000-5-9", Topic: "t", SubID: 9, RetryTimes: 1, Final: failures.Success})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store.Close(ctx)

	var final, alive, retries int
	var body string
	require.NoError(t, m.Open(t).QueryRow(`SELECT final_status, alive, retry_times, message_body FROM broadcast_failure_log WHERE log_id = ?`, id).
		Scan(&final, &alive, &retries, &body))
	assert.Equal(t, [3]int{1, 0, 1}, [3]int{final, alive, retries})
	assert.Equal(t, `"x"`, body)
}
