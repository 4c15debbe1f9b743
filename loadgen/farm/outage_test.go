package farm

import (
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutageProfile(t *testing.T) {
	var doc struct {
		Profile []Profile `toml:"profile"`
	}
	_, err := toml.Decode(`
[[profile]]
name = "flaky"
outage_start = "5s"
outage = "30s"
`, &doc)
	require.NoError(t, err)
	p := doc.Profile[0]
	require.NoError(t, p.Validate())
	assert.Equal(t, 5*time.Second, p.OutageStart.D())
	assert.Equal(t, 30*time.Second, p.Outage.D())
	assert.True(t, p.HasOutage())

	for _, bad := range []Profile{
		{Name: "a", Outage: Duration(-time.Second)},
		{Name: "b", OutageStart: Duration(-time.Second), Outage: Duration(time.Second)},
		{Name: "c", OutageStart: Duration(time.Second)},
		{Name: "d", Dead: true, Outage: Duration(time.Second)},
	} {
		assert.Error(t, bad.Validate(), bad.Name)
	}
	plain := Profile{Name: "plain"}
	require.NoError(t, plain.Validate())
	assert.False(t, plain.HasOutage())
}

// hostPort is the host:port of a push URL.
func hostPort(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	require.NoError(t, err)
	return pu.Host
}

func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// The class's port refuses connections from the outage's start for its
// length, cuts the connections it had, then accepts again on the same port;
// the other classes are served throughout.
func TestFarmOutage(t *testing.T) {
	f := newFarm(t, Profile{Name: "ok"}, Profile{Name: "flaky", OutageStart: Duration(300 * time.Millisecond), Outage: Duration(700 * time.Millisecond)})
	p := &pusher{t: t}
	okURL, flakyURL := f.URL(1, 0, 0), f.URL(2, 1, 1)
	flakyAddr := hostPort(t, flakyURL)
	require.NotEqual(t, hostPort(t, okURL), flakyAddr, "the class has a port of its own")

	code, _ := p.push(flakyURL, 0, time.Now().UnixNano(), 0)
	require.Equal(t, 200, code, "served before the run starts")
	kept, err := net.Dial("tcp", flakyAddr)
	require.NoError(t, err)
	defer kept.Close()

	start := time.Now()
	f.SetWindow(start.UnixNano(), start.Add(time.Hour).UnixNano())
	assert.False(t, refused(flakyAddr), "up until the outage starts")

	e := <-f.OutageEdges()
	assert.Equal(t, Edge{Class: 1, Down: true, At: e.At}, e)
	assert.GreaterOrEqual(t, e.At.Sub(start), 300*time.Millisecond)
	assert.True(t, refused(flakyAddr), "connect refused during the outage")
	assert.False(t, refused(hostPort(t, okURL)), "the other classes are served")
	code, _ = p.push(okURL, 1, time.Now().UnixNano(), 0)
	assert.Equal(t, 200, code)
	code, _ = p.push(flakyURL, 1, time.Now().UnixNano(), 0)
	assert.Equal(t, -1, code, "a push fails during the outage")
	require.NoError(t, kept.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err = kept.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "an open connection is cut: %v", err)

	e = <-f.OutageEdges()
	assert.False(t, e.Down)
	assert.GreaterOrEqual(t, e.At.Sub(start), time.Second)
	assert.Equal(t, flakyAddr, hostPort(t, f.URL(2, 1, 1)), "the same port")
	assert.False(t, refused(flakyAddr), "accepted after the outage")

	outs := f.Outages()
	require.Len(t, outs, 1)
	assert.True(t, outs[0].FirstDelivery.IsZero(), "no delivery yet")
	_, ok := outs[0].Recovery()
	assert.False(t, ok)
	code, body := p.push(flakyURL, 2, time.Now().UnixNano(), 0)
	require.Equal(t, 200, code)
	assert.Equal(t, `{"status":1}`, body)
	outs = f.Outages()
	assert.Equal(t, "flaky", outs[0].Name)
	assert.True(t, e.At.Equal(outs[0].Up), "the edge's instant")
	rec, ok := outs[0].Recovery()
	require.True(t, ok)
	assert.Greater(t, rec, time.Duration(0))
	assert.Less(t, rec, 5*time.Second)
	sc, _ := f.Count(2, 3, nil)
	assert.Equal(t, int64(2), sc.InSet, "seq 0 and 2 arrived; 1 was refused")
}

// A push being answered when the port goes down gets its answer: cutting
// its connection would lose the answer to a counted push, which would come
// again as a duplicate.
func TestFarmOutageLetsAnAnswerFinish(t *testing.T) {
	f := newFarm(t, Profile{Name: "slow", Latency: Dist{Kind: Fixed, A: 400 * time.Millisecond},
		OutageStart: Duration(100 * time.Millisecond), Outage: Duration(5 * time.Second)})
	p := &pusher{t: t}
	u := f.URL(1, 0, 0)
	now := time.Now()
	f.SetWindow(now.UnixNano(), now.Add(time.Hour).UnixNano())
	code, body := p.push(u, 1, now.UnixNano(), 0)
	assert.Equal(t, 200, code)
	assert.Equal(t, `{"status":1}`, body)
	assert.Equal(t, int64(1), f.Totals().Delivered)
	e := <-f.OutageEdges()
	assert.True(t, e.Down)
	assert.True(t, refused(hostPort(t, u)), "down while the push was answered")
	code, _ = p.push(u, 2, now.UnixNano(), 0)
	assert.Equal(t, -1, code, "the next push is refused")
}
