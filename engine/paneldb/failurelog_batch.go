package paneldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"medispatcher/engine/dispatch/failures"
)

// Statements of many rows. Every statement is a round trip whose cost to
// both ends (the database's parsing and the syscalls and wake-ups of a
// loopback or LAN round trip) dwarfs writing one small row, so the writer
// runs a batch's queued rows as few statements: the first-failure rows
// under reserved ids as one multi-row INSERT, the UPDATEs by log_id as one
// multi-table UPDATE joined to the new values, and the rare rest (rows
// with a daemon-made id, rows written again) one by one.

// maxStatementBytes bounds the values of one multi-row statement, well
// under the smallest max_allowed_packet of the servers 2.x ran on (1 MiB).
const maxStatementBytes = 256 << 10

// runRows runs the statements of rows in tx: the reserved INSERTs first,
// then the rest one by one, then the UPDATEs by log_id (an UPDATE follows
// the INSERT of its row whichever way either was queued), the class_ids
// of the INSERTs from c. noRow collects the UPDATEs that found no row.
func runRows(ctx context.Context, tx *sql.Tx, c *classes, rows, noRow []*FailureRow) ([]*FailureRow, error) {
	var inserts, updates, rest []*FailureRow
	for _, row := range rows {
		switch {
		case row.Op == OpInsert && row.Reserved:
			inserts = append(inserts, row)
		case row.Op == OpUpdate && !failures.DaemonMade(row.LogID):
			updates = append(updates, row)
		default:
			rest = append(rest, row)
		}
	}
	if len(inserts) > 0 {
		if err := c.resolve(ctx, tx, inserts, time.Now()); err != nil {
			return noRow, err
		}
	}
	for len(inserts) > 0 {
		n := chunk(inserts, nil)
		if err := insertMany(ctx, tx, c.ids, inserts[:n]); err != nil {
			return noRow, err
		}
		inserts = inserts[n:]
	}
	noRow, err := writeRows(ctx, tx, rest, noRow)
	if err != nil {
		return noRow, err
	}
	for len(updates) > 0 {
		n := chunk(updates, func(row *FailureRow, in []*FailureRow) bool {
			// One statement changes a row once: a second UPDATE of the
			// same row goes into the next one.
			for _, r := range in {
				if r.LogID == row.LogID {
					return true
				}
			}
			return false
		})
		if noRow, err = updateMany(ctx, tx, updates[:n], noRow); err != nil {
			return noRow, err
		}
		updates = updates[n:]
	}
	return noRow, nil
}

// chunk is how many of rows (at least one) go into one statement: up to
// maxStatementBytes, and up to the first row that split says must start
// a new statement.
func chunk(rows []*FailureRow, split func(row *FailureRow, in []*FailureRow) bool) int {
	size := 0
	for i, row := range rows {
		size += len(row.Body) + 2*len(row.Message) + len(row.Target) + len(row.JobID) + 128
		if i > 0 && (size > maxStatementBytes || split != nil && split(row, rows[:i])) {
			return i
		}
	}
	return len(rows)
}

// insertMany INSERTs the first-failure rows under their reserved ids,
// their class_ids from classIDs.
func insertMany(ctx context.Context, tx *sql.Tx, classIDs map[string]uint64, rows []*FailureRow) error {
	var q strings.Builder
	q.WriteString(insertAt)
	args := make([]any, 0, 15*len(rows))
	for i, row := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(classValues)
		args = appendInsertArgs(append(args, row.LogID), row, classIDs[row.Topic])
	}
	// Written again (a batch whose commit failed may have been committed
	// after all), a row changes nothing: its id is its own.
	q.WriteString(keepExisting)
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert %d failure rows: %w", len(rows), err)
	}
	return nil
}

// updateMany UPDATEs the rows by log_id (each log_id at most once) in one
// statement: a failure sets the failure message and target too, a success
// leaves them. The UPDATEs whose row is not in the table go to noRow.
func updateMany(ctx context.Context, tx *sql.Tx, rows, noRow []*FailureRow) ([]*FailureRow, error) {
	var q strings.Builder
	q.WriteString(`UPDATE broadcast_failure_log t JOIN (`)
	args := make([]any, 0, 7*len(rows))
	for i, row := range rows {
		if i == 0 {
			q.WriteString(`SELECT ? AS id, ? AS msg, ? AS target, ? AS fin, ? AS alive, ? AS rt, ? AS lrt`)
		} else {
			q.WriteString(` UNION ALL SELECT ?, ?, ?, ?, ?, ?, ?`)
		}
		var msg, target any // NULL: a success keeps the last failure's
		if row.Message != "" {
			msg, target = row.Message, row.Target
		}
		args = append(args, row.LogID, msg, target, flag(row.Final), flag(row.Alive), row.RetryTimes, row.LastRetryTime())
	}
	q.WriteString(`) v ON t.log_id = v.id SET
	t.last_failure_message = COALESCE(v.msg, t.last_failure_message), t.last_target = COALESCE(v.target, t.last_target),
	t.final_status = v.fin, t.alive = v.alive, t.retry_times = v.rt, t.last_retry_time = v.lrt`)
	res, err := tx.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return noRow, fmt.Errorf("update %d failure rows: %w", len(rows), err)
	}
	// DriverConfig sets ClientFoundRows: rows found, changed or not.
	if n, err := res.RowsAffected(); err != nil || n == int64(len(rows)) {
		return noRow, nil
	}
	return missingRows(ctx, tx, rows, noRow)
}

// missingRows adds to noRow those of rows whose log_id is not in the
// table.
func missingRows(ctx context.Context, tx *sql.Tx, rows, noRow []*FailureRow) ([]*FailureRow, error) {
	q := `SELECT log_id FROM broadcast_failure_log WHERE log_id IN (?` + strings.Repeat(`, ?`, len(rows)-1) + `)`
	args := make([]any, len(rows))
	for i, row := range rows {
		args[i] = row.LogID
	}
	res, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return noRow, fmt.Errorf("find the rows of %d updates: %w", len(rows), err)
	}
	defer res.Close()
	found := make(map[uint64]bool, len(rows))
	for res.Next() {
		var id uint64
		if err := res.Scan(&id); err != nil {
			return noRow, fmt.Errorf("find the rows of %d updates: %w", len(rows), err)
		}
		found[id] = true
	}
	if err := res.Err(); err != nil {
		return noRow, fmt.Errorf("find the rows of %d updates: %w", len(rows), err)
	}
	for _, row := range rows {
		if !found[row.LogID] {
			noRow = append(noRow, row)
		}
	}
	return noRow, nil
}
