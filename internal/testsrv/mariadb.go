package testsrv

import (
	"context"
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"

	"medispatcher/internal/mariadb"
)

// MySQL is a private MariaDB server (the MySQL protocol 2.x daemons and
// their control panel use) holding one database and one user of its own,
// the way an operator's [Database] section names them.
type MySQL struct {
	*Server
	User     string
	Password string
	DB       string
}

// StartMySQL starts a MariaDB server on a free loopback port with an empty
// database DB that User (password Password) may do anything in; it is
// stopped when the test ends. Its data directory lives in the test's
// temporary directory, so Kill and Restart keep what was committed.
func StartMySQL(tb testing.TB) *MySQL {
	tb.Helper()
	m := &MySQL{Server: start(tb, MariaDB, nil), User: "medispatcher", Password: "test-password", DB: "medispatcher"}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := mariadb.CreateAccount(ctx, m.Addr, m.account()); err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	return m
}

func (m *MySQL) account() mariadb.Account {
	return mariadb.Account{User: m.User, Password: m.Password, DB: m.DB}
}

// Config is the driver configuration of the server's user and database.
func (m *MySQL) Config() *mysql.Config { return m.account().Config(m.Addr) }

// Open connects as the server's user to its database; closed when the
// test ends.
func (m *MySQL) Open(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := openConfig(m.Config())
	if err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Exec runs statements as the server's user, failing the test on the
// first error (schemas and fixtures).
func (m *MySQL) Exec(tb testing.TB, stmts ...string) {
	tb.Helper()
	db, err := openConfig(m.Config())
	if err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	defer db.Close()
	if err := mariadb.Exec(context.Background(), db, stmts...); err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
}

// openConfig connects with c and pings the server.
func openConfig(c *mysql.Config) (*sql.DB, error) { return mariadb.Open(c) }

// mariadbArgs are the server's options, its files in dir.
func mariadbArgs(dir, port string) []string { return mariadb.Args(dir, port) }

// installMariaDB creates the server's system tables in dir/data unless a
// previous start did (Restart keeps the data).
func installMariaDB(dir string) error { return mariadb.Install(dir) }

// program is the path of a server program (see mariadb.Program).
func program(name Kind) string { return mariadb.Program(string(name)) }

// errorLog is the tail of a MariaDB server's error log, for the message of
// a failed start.
func (s *Server) errorLog() string {
	if s.Kind != MariaDB {
		return ""
	}
	return mariadb.ErrorLog(s.Dir)
}
