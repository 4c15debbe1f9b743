package paneldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/paneldb"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// dbConfig is the [Database] section of a test server.
func dbConfig(m *testsrv.MySQL) config.DatabaseConfig {
	return config.DatabaseConfig{Host: "127.0.0.1", Port: m.Port, User: m.User, Password: m.Password, DbName: m.DB,
		Options: "readTimeout=5s&writeTimeout=5s", MaxConns: 4, PollInterval: 2000, FailureLog: true}
}

func TestOpenAppliesTheOptionsAndTheSchemaLoads(t *testing.T) {
	m := testsrv.StartMySQL(t)
	m.Exec(t, paneldb.Schema...)
	d := dbConfig(m)

	c, err := paneldb.DriverConfig(d)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, c.ReadTimeout)
	assert.Equal(t, 5*time.Second, c.WriteTimeout)
	assert.Equal(t, 2*time.Second, c.Timeout, "a dial timeout unless the options set one")

	db, err := paneldb.Open(d)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, paneldb.Ping(context.Background(), db, 2*time.Second))
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM broadcast_failure_log").Scan(&n))
	assert.Zero(t, n)

	// A server that is down is an error of Ping, not of Open.
	m.Kill()
	down, err := paneldb.Open(d)
	require.NoError(t, err)
	defer down.Close()
	assert.Error(t, paneldb.Ping(context.Background(), down, time.Second))

	bad := d
	bad.Options = "readTimeout=soon"
	_, err = paneldb.DriverConfig(bad)
	assert.ErrorContains(t, err, "database options")
}

// One round trip per statement unless the options say otherwise, and an
// UPDATE counts the rows it matched.
func TestDriverConfigDefaults(t *testing.T) {
	c, err := paneldb.DriverConfig(config.DatabaseConfig{Host: "db", Port: 3306, User: "u", DbName: "d"})
	require.NoError(t, err)
	assert.True(t, c.InterpolateParams)
	assert.True(t, c.ClientFoundRows)
	assert.Equal(t, "db:3306", c.Addr)
	c, err = paneldb.DriverConfig(config.DatabaseConfig{Host: "db", Port: 3306, User: "u", DbName: "d", Options: "interpolateParams=false"})
	require.NoError(t, err)
	assert.False(t, c.InterpolateParams, "an operator's option wins")
}
