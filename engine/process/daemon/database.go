package daemon

import (
	"database/sql"
	"fmt"
	"log/slog"

	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
)

// openDatabase opens the pool of the 2.x database when the subscriptions
// come from it (nil otherwise): one pool, bounded by Database.MaxConns,
// shared by the subscription source and the failure rows. No connection
// is made yet (a database down at start pauses the main tube, it does not
// stop the start), but Database.Options the driver refuses is a start
// error.
func openDatabase(cfg *config.Config) (*sql.DB, error) {
	if !cfg.SubscriptionFromMySQL {
		return nil, nil
	}
	db, err := paneldb.Open(cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("[Database] of the MySQL subscription source: %w", err)
	}
	return db, nil
}

// closeDatabase closes the pool once the source and the failure rows are
// done with it (neither closes it itself).
func closeDatabase(db *sql.DB, log *slog.Logger) {
	if err := db.Close(); err != nil {
		log.Error("close database pool", "err", err)
	}
}
