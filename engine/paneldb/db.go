package paneldb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"medispatcher/internal/config"
)

// DefaultMaxConns bounds the open connections when MaxConns is 0.
const DefaultMaxConns = 10

// dialTimeout bounds a connection attempt unless Options sets "timeout".
const dialTimeout = 2 * time.Second

// DriverConfig is the driver's configuration for d: its server, user and
// database, with d.Options (go-sql-driver/mysql DSN parameters, as 2.x
// wrote them) applied.
func DriverConfig(d config.DatabaseConfig) (*mysql.Config, error) {
	c, err := mysql.ParseDSN("/?" + d.Options)
	if err != nil {
		return nil, fmt.Errorf("database options %q: %w", d.Options, err)
	}
	if d.Options == "" {
		c = mysql.NewConfig()
	}
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = d.User, d.Password, "tcp", d.Addr(), d.DbName
	// An UPDATE's RowsAffected counts the rows it matched, changed or not:
	// a failure row's update that matches none is kept elsewhere.
	c.ClientFoundRows = true
	// A statement with arguments is one round trip, its arguments escaped
	// by the driver for the connection's character set, instead of three
	// (prepare, execute, close): the failure rows' cost on both sides.
	// Options may turn it off again ("interpolateParams=false").
	if !strings.Contains(d.Options, "interpolateParams") {
		c.InterpolateParams = true
	}
	if c.Timeout == 0 {
		c.Timeout = dialTimeout
	}
	return c, nil
}

// driverLog sends the driver's own messages (a broken connection it
// drops, for example) to the process log instead of stderr.
type driverLog struct{}

func (driverLog) Print(v ...any) {
	slog.Default().Warn("mysql driver: " + strings.TrimSpace(fmt.Sprint(v...)))
}

var setDriverLog sync.Once

// Open returns a connection pool to d's database (no connection is made
// yet: a database that is down at start is not an error here; Ping says).
func Open(d config.DatabaseConfig) (*sql.DB, error) {
	setDriverLog.Do(func() { _ = mysql.SetLogger(driverLog{}) })
	c, err := DriverConfig(d)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", c.Addr, err)
	}
	db := sql.OpenDB(conn)
	n := d.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	// A server may drop idle connections (wait_timeout); a fresh one is
	// cheaper than an error on the next query.
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// Ping checks that the database answers within timeout.
func Ping(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
