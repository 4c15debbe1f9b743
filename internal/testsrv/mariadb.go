package testsrv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
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
	root := mysql.NewConfig()
	root.User, root.Net, root.Addr = "root", "tcp", m.Addr
	db, err := openConfig(root)
	if err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, q := range []string{
		"CREATE DATABASE " + m.DB + " CHARACTER SET utf8mb4",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", m.User, m.Password),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", m.DB, m.User),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			tb.Fatalf("testsrv: mariadb setup %q: %v", q, err)
		}
	}
	return m
}

// Config is the driver configuration of the server's user and database.
func (m *MySQL) Config() *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = m.User, m.Password, "tcp", m.Addr, m.DB
	c.Timeout = 2 * time.Second
	return c
}

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
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			tb.Fatalf("testsrv: %q: %v", q, err)
		}
	}
}

func openConfig(c *mysql.Config) (*sql.DB, error) {
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("mariadb connector %s: %w", c.Addr, err)
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mariadb %s as %s: %w", c.Addr, c.User, err)
	}
	return db, nil
}

// innodbLog keeps a test server's data directory small (the default redo
// log is 96 MiB).
const innodbLog = "--innodb-log-file-size=8M"

// mariadbArgs are the server's options: everything on the command line
// (no option files of the machine's own server), its files in dir.
func mariadbArgs(dir, port string) []string {
	a := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--port=" + port,
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--log-error=" + filepath.Join(dir, "error.log"),
		"--skip-log-bin", "--innodb-buffer-pool-size=16M", innodbLog, "--max-connections=200"}
	if os.Geteuid() == 0 {
		a = append(a, "--user=root") // mariadbd refuses root otherwise
	}
	return a
}

// installMariaDB creates the server's system tables in dir/data unless a
// previous start did (Restart keeps the data).
func installMariaDB(dir string) error {
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "mysql")); err == nil {
		return nil
	}
	args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db", innodbLog}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	out, err := exec.Command(program("mariadb-install-db"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb-install-db: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// program is the path of a server program: on PATH, or in /usr/sbin,
// where Debian installs mariadbd and which a user's PATH may lack.
func program(name Kind) string {
	if p, err := exec.LookPath(string(name)); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", string(name)); fileExists(p) {
		return p
	}
	return string(name)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// errorLog is the tail of a MariaDB server's error log (it writes there,
// not to stderr), for the message of a failed start.
func (s *Server) errorLog() string {
	if s.Kind != MariaDB {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n" + string(b)
}
