package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/mariadb"
)

// Subscription sources a scenario may name (source = ...): where loadgen
// registers the run's subscriptions and the daemons read them.
const (
	SourceFile  = "file"  // the subscriptions file the run writes (the default)
	SourceRedis = "redis" // the run's redis-server
	SourceMySQL = "mysql" // the 2.x tables in a private MariaDB the run starts
)

// checkSource fails on a source that is none of the above, and on a
// MySQL scenario with a rate-limited class: the 2.x tables cannot hold a
// token bucket, so the daemon would never limit it.
func (s *Scenario) checkSource() error {
	switch s.Source {
	case "", SourceFile, SourceRedis:
		return nil
	case SourceMySQL:
		for _, c := range s.Class {
			if c.RateLimit > 0 {
				return fmt.Errorf("source = %q: class %q has a rate limit, which the 2.x tables cannot hold", s.Source, c.Name)
			}
		}
		return nil
	}
	return fmt.Errorf("source = %q (%s, %s or %s)", s.Source, SourceFile, SourceRedis, SourceMySQL)
}

// benchAccount is the database and user of the run's MariaDB that the
// daemons read and write and loadgen registers into.
var benchAccount = mariadb.Account{User: "medispatcher", Password: "bench-password", DB: "medispatcher"}

// startMariaDB starts a private MariaDB with its files in e.Dir/mariadb,
// creates benchAccount's database with the 2.x tables (paneldb.Schema)
// and sets e.MariaDB and e.Database.
func (e *Env) startMariaDB(ctx context.Context) error {
	dir := filepath.Join(e.Dir, "mariadb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mariadb dir: %w", err)
	}
	if err := mariadb.Install(dir); err != nil {
		return err
	}
	p, err := StartServer(mariadb.Server, dir)
	if err != nil {
		return fmt.Errorf("%w%s", err, mariadb.ErrorLog(dir))
	}
	e.MariaDB = p
	if err := mariadb.CreateAccount(ctx, p.Addr, benchAccount); err != nil {
		return err
	}
	db, err := mariadb.Open(benchAccount.Config(p.Addr))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := mariadb.Exec(ctx, db, paneldb.Schema...); err != nil {
		return fmt.Errorf("2.x schema: %w", err)
	}
	_, port, _ := strings.Cut(p.Addr, ":")
	n, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("mariadb address %s: %w", p.Addr, err)
	}
	e.Database = &config.DatabaseConfig{Host: "127.0.0.1", Port: n, User: benchAccount.User,
		Password: benchAccount.Password, DbName: benchAccount.DB}
	return nil
}

// databaseTable is the daemon's [Database] section for e's MariaDB, with
// the scenario's own [daemon.Database] keys (PollInterval, FailureLog ...)
// on top.
func (e *Env) databaseTable(extra map[string]any) map[string]any {
	d := e.Database
	t := map[string]any{"Host": d.Host, "Port": d.Port, "User": d.User, "Password": d.Password, "DbName": d.DbName}
	if own, ok := extra["Database"].(map[string]any); ok {
		for k, v := range own {
			t[k] = v
		}
	}
	return t
}
