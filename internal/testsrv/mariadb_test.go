package testsrv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The private MariaDB server serves its user's database, keeps what was
// committed across a kill and restart on the same port, and refuses
// connections while stopped.
func TestMySQLKeepsCommittedRowsAcrossKill(t *testing.T) {
	m := StartMySQL(t)
	m.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO t VALUES (1, 'one')")

	m.Kill()
	assert.False(t, m.Running())
	_, err := openConfig(m.Config())
	require.Error(t, err, "a killed server answers nothing")

	m.Restart(t)
	db := m.Open(t)
	var v string
	require.NoError(t, db.QueryRow("SELECT v FROM t WHERE id = 1").Scan(&v))
	assert.Equal(t, "one", v)

	wrong := m.Config()
	wrong.Passwd = "not-the-password"
	_, err = openConfig(wrong)
	assert.Error(t, err, "the user's password is checked")
}
