package testsrv

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func roundTrip(t *testing.T, addr, cmd string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Second)))
	_, err = c.Write([]byte(cmd))
	require.NoError(t, err)
	return bufio.NewReader(c).ReadString('\n')
}

func TestBeanstalkdBinlogSurvivesKill(t *testing.T) {
	s := StartBeanstalkd(t, WithBinlog())
	line, err := roundTrip(t, s.Addr, "put 1 0 60 2\r\nhi\r\n")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "INSERTED "), line)

	s.Kill()
	require.False(t, s.Running())
	_, err = roundTrip(t, s.Addr, "stats\r\n")
	require.Error(t, err, "a killed server must not answer")

	s.Restart(t)
	line, err = roundTrip(t, s.Addr, "peek-ready\r\n")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "FOUND "), "job lost across restart: %q", line)
}

func TestRedisAnswers(t *testing.T) {
	s := StartRedis(t)
	line, err := roundTrip(t, s.Addr, "SET k v\r\n")
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", line)
}

func TestPausedServerHangs(t *testing.T) {
	s := StartBeanstalkd(t)
	s.Pause()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	require.NoError(t, err, "a paused server still accepts TCP")
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = c.Write([]byte("stats\r\n"))
	require.NoError(t, err)
	_, err = bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	s.Resume()
	line, err := roundTrip(t, s.Addr, "list-tubes\r\n")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "OK "))
}
