package probe_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/probe"
	"medispatcher/internal/testsrv"
)

func TestFreePortCanBeBound(t *testing.T) {
	port, err := probe.FreePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestPingAnswers(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	rd := testsrv.StartRedis(t)
	assert.NoError(t, probe.Ping(probe.Beanstalkd, bs.Addr))
	assert.NoError(t, probe.Ping(probe.Redis, rd.Addr))
	// Each server refuses the other's command: a ping tells them apart.
	assert.ErrorContains(t, probe.Ping(probe.Redis, bs.Addr), "unexpected answer")
	assert.ErrorContains(t, probe.Ping(probe.Beanstalkd, rd.Addr), "unexpected answer")
}

func TestPingNobodyListening(t *testing.T) {
	port, err := probe.FreePort()
	require.NoError(t, err)
	assert.Error(t, probe.Ping(probe.Beanstalkd, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))))
}
