package paneldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reserved log_ids. A first failure's retry job must carry its row's
// log_id, so without a spare id at hand the push worker waits for its
// INSERT. To spare it that wait, a reserver goroutine takes log_ids from
// the table ahead of need: it INSERTs a few rows in a transaction, notes
// their ids and rolls the transaction back. InnoDB never hands out an
// AUTO_INCREMENT value of a rolled-back INSERT again (and MariaDB ≥ 10.2.4
// and MySQL ≥ 8.0 keep the counter across restarts; on older servers
// nothing is reserved, see keepsAutoIncrement), so the ids are this
// daemon's alone, and a row is INSERTed later under one of them
// (sqlInsertAt). Nobody ever sees the reserving rows: they are never
// committed.
//
// Reserving is driven by demand: nothing is reserved until First is
// called, and a batch is reserved whenever the spare ids fall below half
// of ReserveIDs. Ids still spare when the daemon stops are gaps in
// log_id, as every rolled-back INSERT leaves.

// DefaultReserveIDs is how many log_ids a reservation takes.
const DefaultReserveIDs = 32

// sqlInsertAt writes the row of a first failure under a reserved log_id.
// Written again (a batch that failed may have been committed after all)
// it changes nothing: the id is this row's alone.
const sqlInsertAt = insertAt + atValues + keepExisting

// insertAt, atValues (one row's) and keepExisting make an INSERT of a row
// under its reserved log_id; with classValues instead of atValues (any
// number of times), of many rows whose class_id the writer knows.
const (
	insertAt     = `INSERT INTO broadcast_failure_log (log_id, ` + insertColumns + `) VALUES `
	atValues     = `(?, ` + classIDOf + `, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	classValues  = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	keepExisting = ` ON DUPLICATE KEY UPDATE log_id = log_id`
)

// reservingRow is one row of a reservation: every column given, so that
// it is valid under a strict sql_mode whatever the columns' defaults.
const reservingRow = `(0, 0, 0, 0, '', 0, '', '', 'medispatcher-reserve', '', 0, 0, 0, 0)`

// takeID hands out a spare log_id, if there is one, and asks for more when
// the spares run low.
func (f *FailureLog) takeID() (uint64, bool) {
	select {
	case id := <-f.ids:
		if len(f.ids) < cap(f.ids)/2 {
			f.wantIDs()
		}
		return id, true
	default:
		f.wantIDs()
		return 0, false
	}
}

// wantIDs asks the reserver for a batch; it never blocks.
func (f *FailureLog) wantIDs() {
	select {
	case f.want <- struct{}{}:
	default:
	}
}

// reserver reserves a batch of ids whenever asked, until the writer
// stops.
func (f *FailureLog) reserver() {
	defer close(f.reserverDone)
	for {
		select {
		case <-f.done:
			return
		case <-f.want:
		}
		if len(f.ids) >= cap(f.ids)/2 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Timeout)
		ids, err := f.reserve(ctx, cap(f.ids)-len(f.ids))
		cancel()
		if errors.Is(err, errNoReserve) {
			f.cfg.Logger.Warn("log_ids not reserved", "err", err)
			return
		}
		if err != nil {
			f.cfg.Logger.Warn("log_ids not reserved: first failures wait for their INSERT", "err", err,
				"next_try", firstFailurePause)
			f.m.errors.Inc()
			// Asked again by the next first failure after the pause.
			t := time.NewTimer(firstFailurePause)
			select {
			case <-f.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		f.m.reserved.Add(len(ids))
		for _, id := range ids {
			f.ids <- id // room for all: only the reserver sends
		}
	}
}

// reserve takes n log_ids: n rows INSERTed in a transaction that is rolled
// back.
func (f *FailureLog) reserve(ctx context.Context, n int) (ids []uint64, err error) {
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin reservation: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if f.idStep == 0 {
		// Only with innodb_autoinc_lock_mode 0 or 1 are the ids of a
		// multi-row INSERT evenly spaced (by auto_increment_increment);
		// with 2 (MySQL 8's default) rows are inserted one at a time.
		var mode, step uint64
		var version string
		q := `SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment, VERSION()`
		if err := tx.QueryRowContext(ctx, q).Scan(&mode, &step, &version); err != nil {
			return nil, fmt.Errorf("read the auto-increment settings: %w", err)
		}
		if !keepsAutoIncrement(version) {
			return nil, fmt.Errorf("%w: server %s", errNoReserve, version)
		}
		f.idStep = max(step, 1)
		if mode >= 2 {
			f.idStep = oneAtATime
		}
	}
	if f.idStep != oneAtATime {
		return reserveMany(ctx, tx, n, f.idStep)
	}
	ids = make([]uint64, 0, n)
	for range n {
		more, err := reserveMany(ctx, tx, 1, 1)
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// errNoReserve: the server may hand out a reserved id again after a
// restart, so the daemon does not reserve any.
var errNoReserve = errors.New("the server resets AUTO_INCREMENT at a restart (before MariaDB 10.2.4 and MySQL 8.0): log_ids are not reserved, first failures wait for their INSERT")

// keepsAutoIncrement reports whether a server of this VERSION() keeps
// InnoDB's AUTO_INCREMENT counter across restarts (MariaDB from 10.2.4,
// MySQL from 8.0). Older ones set it to MAX(log_id)+1 at start, which
// could hand out again an id reserved but not yet used.
func keepsAutoIncrement(version string) bool {
	num, _, _ := strings.Cut(version, "-")
	var v [3]int
	for i, part := range strings.SplitN(num, ".", 3) {
		n, err := strconv.Atoi(part)
		if err != nil {
			return false
		}
		v[i] = n
	}
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return v[0] > 10 || v[0] == 10 && (v[1] > 2 || v[1] == 2 && v[2] >= 4)
	}
	return v[0] >= 8
}

// oneAtATime is FailureLog.idStep when the ids of a multi-row INSERT need
// not be evenly spaced.
const oneAtATime = ^uint64(0)

// reserveMany INSERTs n rows in one statement in tx and returns their ids:
// LAST_INSERT_ID() and the n-1 after it, step apart.
func reserveMany(ctx context.Context, tx *sql.Tx, n int, step uint64) ([]uint64, error) {
	q := `INSERT INTO broadcast_failure_log (` + insertColumns + `) VALUES ` +
		strings.Repeat(reservingRow+",", n-1) + reservingRow
	res, err := tx.ExecContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reserve %d log_ids: %w", n, err)
	}
	first, err := res.LastInsertId()
	if err != nil || first <= 0 {
		return nil, fmt.Errorf("reserve %d log_ids: no log_id (%d): %w", n, first, err)
	}
	if got, err := res.RowsAffected(); err != nil || got != int64(n) {
		return nil, fmt.Errorf("reserve %d log_ids: %d rows inserted: %w", n, got, err)
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(first) + uint64(i)*step
	}
	return ids, nil
}
