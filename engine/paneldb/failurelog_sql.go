package paneldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"

	"github.com/go-sql-driver/mysql"

	"medispatcher/engine/dispatch/failures"
)

// insertColumns are the columns a first failure writes, in the order of
// insertArgs.
const insertColumns = `message_class_id, subscriber_id, subscription_id, time, message_body, message_time,
	first_failure_message, last_failure_message, job_id, last_target, final_status, alive, retry_times, last_retry_time`

// classIDOf reads message_class_id in the INSERT itself: the topic's
// class_id, 0 when message_classes has no row for it.
const classIDOf = `COALESCE((SELECT class_id FROM message_classes WHERE class_key = ?), 0)`

// sqlInsertFirst writes the row of a first failure.
const sqlInsertFirst = `INSERT INTO broadcast_failure_log (` + insertColumns + `)
	VALUES (` + classIDOf + `, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// sqlInsertLate writes the row of a first failure later, unless the
// subscription already has a row for the jobid (the INSERT that did not
// answer in time may have been written after all).
const sqlInsertLate = `INSERT INTO broadcast_failure_log (` + insertColumns + `)
	SELECT ` + classIDOf + `, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
	FROM DUAL WHERE NOT EXISTS
	(SELECT 1 FROM broadcast_failure_log WHERE subscription_id = ? AND job_id = ?)`

// sqlInsertUnder writes the row of a first failure under the log_id an
// INSERT that was rolled back handed out (its retry job carries it),
// unless the subscription already has a row for the jobid.
const sqlInsertUnder = `INSERT INTO broadcast_failure_log (log_id, ` + insertColumns + `)
	SELECT ?, ` + classIDOf + `, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
	FROM DUAL WHERE NOT EXISTS
	(SELECT 1 FROM broadcast_failure_log WHERE subscription_id = ? AND job_id = ?)`

// The UPDATEs: a failure sets the failure message and target too, a
// success only the state; by log_id, or by (subscription_id, job_id) for
// a record whose id is daemon-made.
const (
	setFailure = `UPDATE broadcast_failure_log SET last_failure_message = ?, last_target = ?,
	final_status = ?, alive = ?, retry_times = ?, last_retry_time = ?`
	setSuccess = `UPDATE broadcast_failure_log SET final_status = ?, alive = ?, retry_times = ?, last_retry_time = ?`
	byLogID    = ` WHERE log_id = ?`
	byJob      = ` WHERE subscription_id = ? AND job_id = ?`
)

// insertArgs are the arguments of insertColumns, the class given by
// its topic (for classIDOf).
func insertArgs(r *FailureRow) []any { return appendInsertArgs(make([]any, 0, 14), r, r.Topic) }

// appendInsertArgs appends the arguments of insertColumns to args, class
// first: the topic for classIDOf, or the class_id.
func appendInsertArgs(args []any, r *FailureRow, class any) []any {
	return append(args, class, r.SubscriberID, r.SubID, r.Time, r.Body, r.MessageTime,
		r.Message, r.Message, r.JobID, r.Target, flag(r.Final), flag(r.Alive), r.RetryTimes, r.LastRetryTime())
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// insertFirst INSERTs the row of a first failure and returns its log_id.
func insertFirst(ctx context.Context, db execer, r *FailureRow) (uint64, error) {
	res, err := db.ExecContext(ctx, sqlInsertFirst, insertArgs(r)...)
	if err != nil {
		return 0, fmt.Errorf("insert failure row: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("insert failure row: no log_id (%d): %w", id, err)
	}
	return uint64(id), nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// errNoRow is an UPDATE that found no row to change: the first failure's
// row is not in the table (written to the DATA log while the database was
// down, or deleted since), so the update is kept in the DATA log instead.
var errNoRow = errors.New("no row for this log_id or jobid: the update is kept in the DATA log")

// writeRow runs the statement of a queued row; errNoRow when an UPDATE
// matched no row (DriverConfig sets ClientFoundRows, so a row whose values
// did not change still counts as found).
func writeRow(ctx context.Context, db execer, r *FailureRow) error {
	var q string
	var args []any
	switch {
	case r.Op == OpInsert && r.Reserved:
		q, args = sqlInsertAt, append([]any{r.LogID}, insertArgs(r)...)
	case r.Op == OpInsert && r.LogID != 0 && !failures.DaemonMade(r.LogID):
		q, args = sqlInsertUnder, append(append([]any{r.LogID}, insertArgs(r)...), r.SubID, r.JobID)
	case r.Op == OpInsert:
		q, args = sqlInsertLate, append(insertArgs(r), r.SubID, r.JobID)
	case r.Message == "":
		q, args = setSuccess, []any{flag(r.Final), flag(r.Alive), r.RetryTimes, r.LastRetryTime()}
	default:
		q, args = setFailure, []any{r.Message, r.Target, flag(r.Final), flag(r.Alive), r.RetryTimes, r.LastRetryTime()}
	}
	if r.Op == OpUpdate {
		if failures.DaemonMade(r.LogID) {
			q, args = q+byJob, append(args, r.SubID, r.JobID)
		} else {
			q, args = q+byLogID, append(args, r.LogID)
		}
	}
	res, err := db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s failure row (log_id %d): %w", r.Op, r.LogID, err)
	}
	if r.Op == OpUpdate {
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return errNoRow
		}
	}
	return nil
}

// inTx runs fn in a transaction, committed when fn returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin failure-row transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit failure rows: %w", err)
	}
	return nil
}

// refused reports whether the server answered err (it refused a
// statement; the connection is fine), rather than being out of reach.
func refused(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me)
}

// LocalIPv4 is the host's first non-loopback IPv4 address, "" when it has
// none: the daemon's address in 2.x's failure messages.
func LocalIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			if ip := n.IP.To4(); ip != nil {
				return ip.String()
			}
		}
	}
	return ""
}
