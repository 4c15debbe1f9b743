package daemon

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/datalog"
)

// logCloseTimeout bounds the flush of a log file at shutdown.
const logCloseTimeout = 5 * time.Second

// openDataLog opens the DATA log in LogDir: what was pushed, retried,
// given up, recovered.
func openDataLog(cfg *config.Config, log *slog.Logger) (*datalog.Writer, error) {
	w, err := datalog.Open(datalog.Config{
		Dir: cfg.LogDir, Split: cfg.SplitLog, Buffer: cfg.DataLogBuffer, BufferBytes: cfg.DataLogBufferBytes,
		Fsync: cfg.DataLogFsync, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open DATA log in %s: %w", cfg.LogDir, err)
	}
	return w, nil
}

// openDropLog opens the DROP files in DropMessageLogDir: the jobs the
// backlog guard dropped.
func openDropLog(cfg *config.Config, log *slog.Logger) (*datalog.Writer, error) {
	w, err := datalog.Open(datalog.Config{
		Dir: cfg.DropMessageLogDir, Prefix: "DROP", Split: cfg.SplitLog, Buffer: 4096,
		Fsync: cfg.DataLogFsync, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open drop log in %s: %w", cfg.DropMessageLogDir, err)
	}
	return w, nil
}

// closeLog flushes and closes w, bounded by logCloseTimeout; an error is
// logged as what failed (what names the log).
func closeLog(w *datalog.Writer, what string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), logCloseTimeout)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		log.Error("close "+what, "err", err)
	}
}

// dataLogs sends the backlog guard's drops (action 1) to their own files in
// DropMessageLogDir and everything else to the DATA log.
type dataLogs struct {
	*datalog.Writer
	drops *datalog.Writer
}

func (d dataLogs) Drop(topic string, subID int64, job []byte, reason string) error {
	return d.drops.Drop(topic, subID, job, reason)
}

// newFailureStore is the store of failure records (a Redis stream, once
// Redis is connected). A record Redis did not take is kept as a FAILREC
// DATA line, with its job: replay re-sends the given-up ones. With the
// subscriptions in MySQL, the records also go to broadcast_failure_log
// (newFailureRows, on db); the store's Close drains that too.
func newFailureStore(cfg *config.Config, data *datalog.Writer, db *sql.DB, log *slog.Logger) *failures.Store {
	return failures.New(nil, failures.Config{
		Key:      cfg.Redis.KeyPrefix + ":failures",
		MaxLen:   int64(cfg.FailureRecordMaxLen),
		Logger:   log,
		Fallback: func(r *failures.Record, err error) { _ = failures.WriteFailRec(data, r, err) },
		Rows:     newFailureRows(cfg, data, db, log),
	})
}

// newFailureRows writes failure records into the control panel's
// broadcast_failure_log when the subscriptions come from its database and
// Database.FailureLog is on (nil otherwise), on db, the pool the
// subscription source uses too. A row it cannot write is kept as a
// FAILROW DATA line. Its Close, at shutdown once the engine has stopped,
// drains the rows; the daemon closes db after it (and after the source).
func newFailureRows(cfg *config.Config, data *datalog.Writer, db *sql.DB, log *slog.Logger) failures.Rows {
	if db == nil || !cfg.SubscriptionFromMySQL || !cfg.Database.FailureLog {
		return nil
	}
	return paneldb.NewFailureLog(db, paneldb.FailureLogConfig{
		Logger:   log,
		Fallback: func(r *paneldb.FailureRow, err error) { _ = paneldb.WriteFailRow(data, r, err) },
	})
}
