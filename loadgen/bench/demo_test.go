package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/probe"
	"medispatcher/internal/testsrv"
	"medispatcher/loadgen"
)

func TestDemoFlags(t *testing.T) {
	o, err := parseDemo([]string{"--rate", "1.5k"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, loadgen.RateFlag(1500), o.rate, "the demo reads rates like loadgen run")
	o.interactive = true
	assert.True(t, o.waits(), "on a terminal the demo waits for Enter")
	o.interactive = false
	assert.False(t, o.waits(), "elsewhere (CI, </dev/null) it stops after the report")

	o, err = parseDemo([]string{"--exit"}, io.Discard)
	require.NoError(t, err)
	o.interactive = true
	assert.False(t, o.waits(), "--exit stops after the report even on a terminal")
	assert.Equal(t, loadgen.RateFlag(500), o.rate)

	_, err = parseDemo([]string{"--rate", "fast"}, io.Discard)
	assert.Error(t, err)
}

// The demo keeps its servers, daemon and farm up after the report until
// Enter or Ctrl-C, and then stops every process it started.
func TestDemoLingersThenStopsEverything(t *testing.T) {
	testsrv.RequireBinary(t, testsrv.Beanstalkd)
	testsrv.RequireBinary(t, testsrv.Redis)
	daemon, err := testsrv.BuildBinary(t.TempDir(), "medispatcher/cmd/medispatcher")
	require.NoError(t, err)
	for _, stop := range []string{"Enter", "Ctrl-C"} {
		t.Run(stop, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stdin, enter := io.Pipe()
			defer enter.Close()
			var out, errb testsrv.LogBuffer
			o := &demoOptions{daemon: daemon, out: t.TempDir(), rate: 200, topics: 5, duration: time.Second,
				stdin: stdin, interactive: true}
			code := make(chan int, 1)
			go func() { code <- runDemo(ctx, o, &out, &errb) }()

			prompt := func() bool { return strings.Contains(out.String(), "press Enter") }
			require.Eventually(t, prompt, 2*time.Minute, 50*time.Millisecond, "stdout: %s\nstderr: %s", &out, &errb)
			started := demoStarted(t, out.String())
			children := childPids(t)
			assert.Contains(t, children, started.daemonPid)
			assert.GreaterOrEqual(t, len(children), 3, "beanstalkd, redis-server, medispatcher")
			assert.NoError(t, probe.Ping(probe.Beanstalkd, started.beanstalkd))
			assert.NoError(t, probe.Ping(probe.Redis, started.redis))
			assert.NoError(t, dial(started.farm), "the farm still serves")
			resp, err := http.Get("http://" + started.statusPage + "/")
			require.NoError(t, err, "the status page still answers")
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			select {
			case c := <-code:
				t.Fatalf("the demo ended (%d) without Enter or Ctrl-C", c)
			default:
			}

			if stop == "Enter" {
				_, err = enter.Write([]byte("\n"))
				require.NoError(t, err)
			} else {
				cancel()
			}
			select {
			case c := <-code:
				assert.Equal(t, loadgen.ExitOK, c, "stderr: %s", &errb)
			case <-time.After(time.Minute):
				t.Fatal("the demo did not stop")
			}
			for _, pid := range children {
				assert.True(t, gone(pid), "process %d outlived the demo", pid)
			}
			for _, addr := range []string{started.beanstalkd, started.redis, started.farm, started.statusPage} {
				assert.Error(t, dial(addr), "%s still listens", addr)
			}
		})
	}
}

// demoAddrs is what the demo says it started.
type demoAddrs struct {
	beanstalkd, redis, farm, statusPage string
	daemonPid                           int
}

var (
	startedLine = regexp.MustCompile(`beanstalkd (\S+), redis (\S+), daemon pid (\d+), subscriber farm (\S+)\n`)
	statusLine  = regexp.MustCompile(`status page: +http://([^/]+)/`)
)

func demoStarted(t *testing.T, out string) demoAddrs {
	t.Helper()
	m := startedLine.FindStringSubmatch(out)
	s := statusLine.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.NotNil(t, s, out)
	var pid int
	_, err := fmt.Sscan(m[3], &pid)
	require.NoError(t, err)
	return demoAddrs{beanstalkd: m[1], redis: m[2], daemonPid: pid, farm: m[4], statusPage: s[1]}
}

// childPids lists the processes whose parent is this test process.
func childPids(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue // not a process
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces.
		var state string
		var ppid int
		_, err = fmt.Sscan(string(b[strings.LastIndexByte(string(b), ')')+1:]), &state, &ppid)
		if err == nil && ppid == os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// gone reports whether no process pid exists any more.
func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, fs.ErrNotExist)
}

// dial checks that something listens on addr.
func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
