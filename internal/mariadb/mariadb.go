// Package mariadb starts nothing itself: it holds what anything that runs
// a private MariaDB server of its own needs, whether a test (testsrv) or
// the bench runner (loadgen/bench): the server's system tables installed
// in a data directory, its command line, the database and user it serves,
// and the tail of its error log when a start fails. It links no test code.
package mariadb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Server is the name of the server program.
const Server = "mariadbd"

// pingTimeout bounds the first ping of a connection made by Open.
const pingTimeout = 10 * time.Second

// innodbLog keeps a private server's data directory small (the default
// redo log is 96 MiB).
const innodbLog = "--innodb-log-file-size=8M"

// Account is one database of a server and the one user that may do
// anything in it, the way an operator's [Database] section names them.
type Account struct {
	User     string
	Password string
	DB       string
}

// Program is the path of a server program: on PATH, or in /usr/sbin,
// where Debian installs mariadbd and which a user's PATH may lack; the
// bare name when neither has it (starting it then says it is missing).
func Program(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); fileExists(p) {
		return p
	}
	return name
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Args are the server's options for a server whose files all live in
// dir, listening on 127.0.0.1:port: everything on the command line (no
// option files of the machine's own server), no binary log, small
// buffers.
func Args(dir, port string) []string {
	a := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--port=" + port,
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--log-error=" + ErrorLogPath(dir),
		"--skip-log-bin", "--innodb-buffer-pool-size=16M", innodbLog, "--max-connections=200"}
	if os.Geteuid() == 0 {
		a = append(a, "--user=root") // mariadbd refuses root otherwise
	}
	return a
}

// Install creates the server's system tables in dir/data unless an
// earlier start did (a restarted server keeps its data).
func Install(dir string) error {
	data := filepath.Join(dir, "data")
	if fileExists(filepath.Join(data, "mysql")) {
		return nil
	}
	args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db", innodbLog}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	out, err := exec.Command(Program("mariadb-install-db"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb-install-db: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ErrorLogPath is where a server started with Args(dir, ...) writes its
// messages (it writes there, not to stderr).
func ErrorLogPath(dir string) string { return filepath.Join(dir, "error.log") }

// ErrorLog is the tail of the error log of the server of dir, after a
// newline, for the message of a failed start; "" when there is none.
func ErrorLog(dir string) string {
	b, err := os.ReadFile(ErrorLogPath(dir))
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n" + string(b)
}

// CreateAccount connects to the freshly installed server at addr as root
// (no password) and creates a's database and user, who may do anything in
// it and connect from anywhere.
func CreateAccount(ctx context.Context, addr string, a Account) error {
	root := mysql.NewConfig()
	root.User, root.Net, root.Addr = "root", "tcp", addr
	db, err := Open(root)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE DATABASE " + a.DB + " CHARACTER SET utf8mb4",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", a.User, a.Password),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'%%'", a.DB, a.User),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadb setup %q: %w", q, err)
		}
	}
	return nil
}

// Config is the driver configuration of a's user and database on the
// server at addr.
func (a Account) Config(addr string) *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = a.User, a.Password, "tcp", addr, a.DB
	c.Timeout = 2 * time.Second
	return c
}

// Open connects with c and pings the server: an error means no usable
// connection (server down, wrong password, no such database).
func Open(c *mysql.Config) (*sql.DB, error) {
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("mariadb connector %s: %w", c.Addr, err)
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mariadb %s as %s: %w", c.Addr, c.User, err)
	}
	return db, nil
}

// Exec runs stmts in order on db, stopping at the first error (a schema,
// fixtures).
func Exec(ctx context.Context, db *sql.DB, stmts ...string) error {
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadb %q: %w", q, err)
		}
	}
	return nil
}
