package paneldb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"
)

// firstReq is a First call waiting for the log_id of its row.
type firstReq struct {
	row      *FailureRow
	deadline time.Time       // when the caller stops waiting
	reply    chan firstReply // buffered, so the writer never blocks on it
}

type firstReply struct {
	id  uint64
	err error
}

// loop is the writer: it collects First's INSERTs and the queued rows
// and writes them, until Close closes the queue and it is drained.
func (f *FailureLog) loop() {
	defer close(f.done)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var firsts []*firstReq
	rows := make([]*FailureRow, 0, f.cfg.Batch)
	for {
		var open bool
		firsts, rows, open = f.collect(firsts[:0], rows[:0], linger)
		if len(firsts) > 0 || len(rows) > 0 {
			f.write(firsts, rows)
		}
		clear(firsts)
		clear(rows)
		if !open {
			return
		}
	}
}

// collect waits for the next INSERT or row, then for more: up to Linger
// after a row, up to FirstLinger after an INSERT (whose caller waits),
// until Batch of either kind are in hand. open is false once the queue
// is closed and empty.
func (f *FailureLog) collect(firsts []*firstReq, rows []*FailureRow, linger *time.Timer) (_ []*firstReq, _ []*FailureRow, open bool) {
	var until time.Time
	select {
	case req := <-f.firsts:
		firsts = append(firsts, req)
		until = time.Now().Add(f.cfg.FirstLinger)
	case row, ok := <-f.queue:
		if !ok {
			return firsts, rows, false
		}
		rows = append(rows, row)
		until = time.Now().Add(f.cfg.Linger)
	}
	linger.Reset(time.Until(until))
	defer linger.Stop()
	for len(firsts) < f.cfg.Batch && len(rows) < f.cfg.Batch {
		select {
		case req := <-f.firsts:
			firsts = append(firsts, req)
			if u := time.Now().Add(f.cfg.FirstLinger); u.Before(until) {
				until = u
				linger.Reset(time.Until(until))
			}
		case row, ok := <-f.queue:
			if !ok {
				return firsts, rows, false
			}
			rows = append(rows, row)
		case <-linger.C:
			return firsts, rows, true
		}
	}
	return firsts, rows, true
}

// write commits the INSERTs of firsts whose callers still wait and rows
// in one transaction, bounded by the earliest caller's deadline, and
// answers the callers. When that transaction fails nothing of it was
// written: the callers get the error (each INSERT is tried on its own
// when the server refused a statement, so one bad row does not fail the
// others) and rows are written as a batch of their own.
func (f *FailureLog) write(firsts []*firstReq, rows []*FailureRow) {
	now := time.Now()
	live := slices.DeleteFunc(firsts, func(r *firstReq) bool { return !now.Before(r.deadline) })
	if len(live) == 0 || f.closing.Load() {
		answer(live, errors.New("failure log closed before the row was written"))
		if len(rows) > 0 {
			f.writeBatch(rows)
		}
		return
	}
	deadline := live[0].deadline
	for _, r := range live[1:] {
		if r.deadline.Before(deadline) {
			deadline = r.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ids := make([]uint64, len(live))
	var noRow []*FailureRow
	err := inTx(ctx, f.db, func(tx *sql.Tx) error {
		for i, r := range live {
			id, err := insertFirst(ctx, tx, r.row)
			if err != nil {
				return err
			}
			ids[i] = id
		}
		var err error
		noRow, err = writeRows(ctx, tx, rows, noRow[:0])
		return err
	})
	if err == nil {
		f.m.commits.Inc()
		f.m.inserted.Add(len(live))
		for i, r := range live {
			r.reply <- firstReply{id: ids[i]}
		}
		f.settle(rows, noRow)
		return
	}
	if refused(err) && len(live) > 1 {
		f.insertEach(live)
	} else {
		answer(live, err)
	}
	if len(rows) > 0 {
		f.writeBatch(rows)
	}
}

// insertEach INSERTs each waiting caller's row in a statement of its own.
func (f *FailureLog) insertEach(live []*firstReq) {
	for _, r := range live {
		ctx, cancel := context.WithDeadline(context.Background(), r.deadline)
		id, err := insertFirst(ctx, f.db, r.row)
		cancel()
		if err == nil {
			f.m.commits.Inc()
			f.m.inserted.Inc()
		}
		r.reply <- firstReply{id: id, err: err}
	}
}

// answer tells every caller in reqs that its row was not written.
func answer(reqs []*firstReq, err error) {
	for _, r := range reqs {
		r.reply <- firstReply{err: err}
	}
}

// writeRows runs the statements of rows in tx; noRow collects the UPDATEs
// that found no row.
func writeRows(ctx context.Context, tx *sql.Tx, rows, noRow []*FailureRow) ([]*FailureRow, error) {
	for _, row := range rows {
		if err := writeRow(ctx, tx, row); errors.Is(err, errNoRow) {
			noRow = append(noRow, row)
		} else if err != nil {
			return noRow, err
		}
	}
	return noRow, nil
}

// settle counts the committed rows and hands the UPDATEs that found no
// row to the fallback.
func (f *FailureLog) settle(rows, noRow []*FailureRow) {
	for _, row := range rows {
		if !slices.Contains(noRow, row) {
			f.count(row)
		}
	}
	for _, row := range noRow {
		f.fail(row, errNoRow)
	}
}

// writeBatch writes rows in one transaction. When the server refused a
// statement (the connection itself is fine), the rows are written one by
// one so that one bad row does not take the others with it; when the
// database is out of reach, they all go to the fallback.
func (f *FailureLog) writeBatch(rows []*FailureRow) {
	if f.closing.Load() {
		for _, row := range rows {
			f.fail(row, errors.New("failure log closed before the row was written"))
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Timeout)
	defer cancel()
	var noRow []*FailureRow
	err := inTx(ctx, f.db, func(tx *sql.Tx) error {
		var err error
		noRow, err = writeRows(ctx, tx, rows, noRow[:0])
		return err
	})
	if err == nil {
		f.m.commits.Inc()
		f.settle(rows, noRow)
		return
	}
	if !refused(err) || len(rows) == 1 {
		for _, row := range rows {
			f.fail(row, err)
		}
		return
	}
	for _, row := range rows {
		if err := writeRow(ctx, f.db, row); err != nil {
			f.fail(row, err)
			continue
		}
		f.m.commits.Inc()
		f.count(row)
	}
}
