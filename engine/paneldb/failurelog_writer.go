package paneldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// batch is the writer's open transaction and what ran in it.
type batch struct {
	tx     *sql.Tx
	ctx    context.Context
	cancel context.CancelFunc
	// inserts are the first-failure rows INSERTed in tx, their log_id
	// already handed to their callers (and set as the row's LogID); rows
	// the queued statements run in tx, noRow those UPDATEs that found no
	// row.
	inserts, rows, noRow []*FailureRow
}

func (b *batch) open() bool { return b.tx != nil }

func (b *batch) size() int { return len(b.inserts) + len(b.rows) }

// reset forgets the transaction (committed or rolled back).
func (b *batch) reset() {
	b.cancel()
	b.tx, b.ctx, b.cancel = nil, nil, nil
	clear(b.inserts)
	clear(b.rows)
	clear(b.noRow)
	b.inserts, b.rows, b.noRow = b.inserts[:0], b.rows[:0], b.noRow[:0]
}

// loop is the writer. It runs each statement as it arrives in an open
// transaction, answering a First call as soon as its INSERT ran (the
// caller needs the id, not the commit), and commits the transaction
// Linger after it began or once it holds Batch statements, until Close
// closes the queue and it is drained.
func (f *FailureLog) loop() {
	defer close(f.done)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var b batch
	for {
		select {
		case req := <-f.firsts:
			f.first(&b, req)
		case row, ok := <-f.queue:
			if !ok {
				return
			}
			f.queued(&b, row)
		}
		if !b.open() {
			continue
		}
		open := f.fill(&b, linger)
		f.commit(&b)
		if !open {
			return
		}
	}
}

// fill runs the statements that arrive while b is open, until Linger has
// passed, b holds Batch statements or a statement failed (b is no longer
// open). It reports false once the queue is closed and empty, after
// committing what b holds.
func (f *FailureLog) fill(b *batch, linger *time.Timer) (open bool) {
	linger.Reset(f.cfg.Linger)
	defer linger.Stop()
	for b.open() && b.size() < f.cfg.Batch {
		select {
		case req := <-f.firsts:
			f.first(b, req)
		case row, ok := <-f.queue:
			if !ok {
				return false
			}
			f.queued(b, row)
		case <-linger.C:
			return true
		}
	}
	return true
}

// begin opens b's transaction unless it is open.
func (f *FailureLog) begin(b *batch) error {
	if b.open() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Timeout)
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		cancel()
		return fmt.Errorf("begin failure-row transaction: %w", err)
	}
	b.tx, b.ctx, b.cancel = tx, ctx, cancel
	return nil
}

// first INSERTs the row of a First call in b and answers the caller with
// its log_id at once: the row is committed with the batch, and should
// the batch fail, it is written again under the same log_id (see
// rewrite). A caller that gave up already has queued its row itself.
func (f *FailureLog) first(b *batch, req *firstReq) {
	if !time.Now().Before(req.deadline) {
		req.reply <- firstReply{err: context.DeadlineExceeded}
		return
	}
	if f.closing.Load() {
		req.reply <- firstReply{err: errors.New("failure log closed before the row was written")}
		return
	}
	if err := f.begin(b); err != nil {
		req.reply <- firstReply{err: err}
		return
	}
	id, err := insertFirst(b.ctx, b.tx, req.row)
	if err != nil {
		// The caller queues its row under its own id.
		req.reply <- firstReply{err: err}
		f.rewrite(b, err)
		return
	}
	req.row.LogID = id
	b.inserts = append(b.inserts, req.row)
	req.reply <- firstReply{id: id}
}

// queued adds a queued row to b; its statement runs with the others at
// the commit (runRows).
func (f *FailureLog) queued(b *batch, row *FailureRow) {
	if f.closing.Load() {
		f.fail(row, errors.New("failure log closed before the row was written"))
		return
	}
	if err := f.begin(b); err != nil {
		f.fail(row, err)
		return
	}
	b.rows = append(b.rows, row)
}

// commit runs the statements of b's queued rows, commits b and counts
// what it wrote; when a statement or the commit fails, the rows are
// written again (rewrite).
func (f *FailureLog) commit(b *batch) {
	if !b.open() {
		return
	}
	noRow, err := runRows(b.ctx, b.tx, &f.classes, b.rows, b.noRow[:0])
	b.noRow = noRow
	if err != nil {
		f.rewrite(b, err)
		return
	}
	if err := b.tx.Commit(); err != nil {
		f.rewrite(b, err)
		return
	}
	f.m.commits.Inc()
	f.m.inserted.Add(len(b.inserts))
	f.settle(b.rows, b.noRow)
	b.reset()
}

// rewrite rolls b back after err and writes its rows again: the
// first-failure INSERTs under the log_id their callers already hold
// (InnoDB does not hand out an id of a rolled-back INSERT again) and
// unless the row of that subscription and jobid exists (a commit that
// failed may have been written after all), the UPDATEs as they were.
// When the database is out of reach they go to the fallback at once.
func (f *FailureLog) rewrite(b *batch, err error) {
	_ = b.tx.Rollback()
	rows := make([]*FailureRow, 0, b.size())
	rows = append(append(rows, b.inserts...), b.rows...)
	b.reset()
	if !refused(err) {
		for _, row := range rows {
			f.fail(row, err)
		}
		return
	}
	if len(rows) > 0 {
		f.writeBatch(rows)
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
