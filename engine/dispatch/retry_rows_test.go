package dispatch

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
	"medispatcher/internal/wire"
)

const rowsAddr = "10.9.8.7"

// rowsStore is a failure store whose records also go to the 2.x failure
// table of a test database (the topic "t" is class 7), and that database.
func rowsStore(t *testing.T) (*failures.Store, *sql.DB) {
	t.Helper()
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	m.Exec(t, `INSERT INTO message_classes (class_id, class_key) VALUES (7, 't')`)
	db, err := paneldb.Open(config.DatabaseConfig{Host: "127.0.0.1", Port: m.Port, User: m.User, Password: m.Password, DbName: m.DB})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	rows := paneldb.NewFailureLog(db, paneldb.FailureLogConfig{Addr: rowsAddr,
		Fallback: func(r *paneldb.FailureRow, err error) { t.Errorf("failure row %s %s lost: %v", r.Op, r.JobID, err) }})
	store := failures.New(nil, failures.Config{Rows: rows, Fallback: func(*failures.Record, error) {}})
	t.Cleanup(func() { store.Close(context.Background()) })
	return store, m.Open(t)
}

// failAnswers answers the first n pushes 500 "down", then success.
func failAnswers(n int32) testsrv.Answer {
	var calls atomic.Int32
	return func(hit) (int, string, time.Duration) {
		if calls.Add(1) <= n {
			return 500, "down", 0
		}
		return 200, `{"status":1}`, 0
	}
}

func TestFailureRowOfAMessageDeliveredOnTheSecondRetry(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	s.SetAnswer(failAnswers(2))
	store, db := rowsStore(t)
	r := newRigOn(t, testsrv.StartBeanstalkd(t), Options{MaxRetries: 5}, store, sub(1, "t", s.URL+"/hook"))
	r.produce("t", msgpackBody("a", 1), "")
	hits := s.WaitFor(20*time.Second, "the first push and two retries", func(h []testsrv.Hit) bool { return len(h) >= 3 })
	r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store.Close(ctx)

	var classID, subID, subscriber, final, alive, retries, lastRetry int64
	var jobID, body, first, last, target string
	require.NoError(t, db.QueryRow(`SELECT message_class_id, subscription_id, subscriber_id, final_status, alive, retry_times,
		last_retry_time, job_id, message_body, first_failure_message, last_failure_message, last_target
		FROM broadcast_failure_log`).Scan(&classID, &subID, &subscriber, &final, &alive, &retries, &lastRetry,
		&jobID, &body, &first, &last, &target))
	assert.Equal(t, [6]int64{7, 1, 1, 1, 0, 2}, [6]int64{classID, subID, subscriber, final, alive, retries},
		"class, subscription, subscriber, final_status, alive, retry_times")
	assert.NotZero(t, lastRetry)
	assert.Equal(t, hits[0].JobID, jobID)
	assert.Equal(t, hits[0].Message, body, "the body as the push's message field")
	assert.Equal(t, "medispatcher addr: "+rowsAddr+" Code: 500\nContent:\n\tdown", first)
	assert.Equal(t, first, last, "the success does not touch the last failure")
	assert.Equal(t, s.URL+hits[1].URI, target, "the URL of the last failed push, query included")
}

func TestRetryJobCarriesTheRowsLogID(t *testing.T) {
	s := testsrv.NewSubscriber(t)
	s.SetAnswer(failAnswers(1000))
	store, db := rowsStore(t)
	// A long retry delay keeps the retry job delayed in its tube.
	r := newRigOn(t, testsrv.StartBeanstalkd(t), Options{RetryCoe: time.Minute}, store, sub(1, "t", s.URL+"/hook"))
	r.produce("t", msgpackBody("a", 1), "")
	hits := s.WaitFor(20*time.Second, "the first push", func(h []testsrv.Hit) bool { return len(h) >= 1 })

	tube := beanstalk.NewTube(r.bc, wire.RetryTube("t", "sub-queue/", 1))
	var job []byte
	require.Eventually(t, func() bool {
		_, b, err := tube.PeekDelayed()
		job = b
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "a retry job")
	var m message.Message
	require.NoError(t, message.Decode(job, &m))
	// The row is committed with its writer's batch, shortly after the
	// retry job (which got the id from the INSERT) is put.
	var logID uint64
	require.Eventually(t, func() bool {
		return db.QueryRow(`SELECT log_id FROM broadcast_failure_log WHERE job_id = ?`, hits[0].JobID).Scan(&logID) == nil
	}, 20*time.Second, 10*time.Millisecond, "the first failure's row")
	assert.Equal(t, logID, m.LogID, "the retry job's LogId is the row's log_id")
	assert.False(t, failures.DaemonMade(m.LogID))
}
