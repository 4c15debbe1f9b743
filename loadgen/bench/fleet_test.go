package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
)

func TestScenarioDaemonsKey(t *testing.T) {
	s, err := LoadScenario(writeScenario(t, t.TempDir(), "s.toml", fixedScenario))
	require.NoError(t, err)
	assert.Equal(t, 1, s.Daemons, "one daemon by default")
	assert.Equal(t, Layout{Servers: 1, Daemons: 1, Binlog: BinlogOff}, s.layout())

	s, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", "servers = 2\ndaemons = 3\nsource = \"redis\"\n"+fixedScenario))
	require.NoError(t, err)
	assert.Equal(t, Layout{Servers: 2, Daemons: 3, Binlog: BinlogOff, Source: "redis"}, s.layout())

	s, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", "daemons = 0\n"+fixedScenario))
	require.NoError(t, err)
	assert.Equal(t, 1, s.Daemons, "0 is the default, as for servers")

	// A single daemon may still be told where to listen and write.
	s, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", fixedScenario+"[daemon]\nLOG_DIR = \"mine\"\nLogLevel = \"info\"\n"))
	require.NoError(t, err)
	assert.Equal(t, "mine", s.Daemon["LOG_DIR"])

	// A fleet may not: its daemons would share a port or a DATA log.
	for _, k := range perDaemonKeys {
		text := "daemons = 2\n" + fixedScenario + "[daemon]\n" + k + " = \"x\"\n"
		_, err := LoadScenario(writeScenario(t, t.TempDir(), "s.toml", text))
		assert.ErrorContains(t, err, k, "[daemon] %s", k)
	}
	cmp := strings.Replace(compareText, "of = \"tp\"\n", "of = \"tp\"\ndaemons = 2\n", 1)
	_, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", strings.Replace(cmp, "[off]\n", "[off]\nDebugAddr = \"127.0.0.1:1\"\n", 1)))
	assert.ErrorContains(t, err, "DebugAddr", "[off] is a daemon's configuration too")
	_, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", cmp))
	assert.NoError(t, err, "other keys are shared by the fleet")
	_, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", "daemon = 2\n"+fixedScenario))
	assert.ErrorContains(t, err, "daemon must be a table", "a misspelt daemons is no [daemon] table")
}

// fakeEnv is an Env with the addresses of servers that are not started:
// enough to write daemon configurations.
func fakeEnv(t *testing.T) *Env {
	dir := t.TempDir()
	return &Env{Dir: dir, MainTube: "event_center_messages", SubsFile: filepath.Join(dir, "subscriptions.toml"),
		Beanstalkd: []*Proc{{Name: "beanstalkd", Addr: "127.0.0.1:11300"}, {Name: "beanstalkd", Addr: "127.0.0.1:11301"}},
		Redis:      &Proc{Name: "redis-server", Addr: "127.0.0.1:6379"}}
}

func TestFleetDaemonFiles(t *testing.T) {
	dir := t.TempDir()
	one, err := newDaemon(dir, 1)
	require.NoError(t, err)
	two, err := newDaemon(dir, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"medispatcher.toml", "medispatcher.log", "logs", "metrics.txt"},
		[]string{filepath.Base(one.Config), filepath.Base(one.Log), filepath.Base(one.LogDir), one.file("metrics", ".txt")},
		"the first daemon keeps a single daemon's names")
	assert.Equal(t, []string{"medispatcher-2.toml", "medispatcher-2.log", "logs-2", "metrics-2.txt"},
		[]string{filepath.Base(two.Config), filepath.Base(two.Log), filepath.Base(two.LogDir), two.file("metrics", ".txt")})
	addrs := map[string]bool{}
	for _, d := range []*Daemon{one, two} {
		for _, a := range []string{d.AdminAddr, d.DebugAddr, d.StatAddr, d.PromAddr} {
			assert.False(t, addrs[a], "address %s taken twice", a)
			addrs[a] = true
		}
	}
}

// TestFleetDaemonConfigs builds the configurations of two daemons of one
// Env and compares them key by key: they differ exactly in the keys each
// process needs for itself, and both load as the daemon loads them.
func TestFleetDaemonConfigs(t *testing.T) {
	e := fakeEnv(t)
	extra := map[string]any{"LogLevel": "info", "Observability": true}
	var files [2]map[string]any
	var cfgs [2]*config.Config
	for i := range files {
		d, err := newDaemon(e.Dir, i+1)
		require.NoError(t, err)
		require.NoError(t, e.writeDaemonConfig(d, "redis", extra))
		_, err = toml.DecodeFile(d.Config, &files[i])
		require.NoError(t, err)
		cfgs[i], _, err = config.Load(d.Config)
		require.NoError(t, err, "daemon %d's configuration loads", i+1)
	}
	keys := map[string]bool{}
	for _, f := range files {
		for k := range f {
			keys[k] = true
		}
	}
	var differ []string
	for k := range keys {
		a, inA := files[0][k]
		b, inB := files[1][k]
		require.True(t, inA && inB, "key %s in both", k)
		if !assert.ObjectsAreEqual(a, b) {
			differ = append(differ, k)
		}
	}
	sort.Strings(differ)
	assert.Equal(t, []string{"DebugAddr", "LOG_DIR", "ListenAddr", "PrometheusApiAddr", "StatisticApiAddr"}, differ)
	assert.Equal(t, "info", files[1]["LogLevel"], "the scenario's keys reach every daemon")
	assert.Equal(t, map[string]any{"Addr": "127.0.0.1:6379"}, files[1]["Redis"], "one Redis for the fleet")
	assert.Equal(t, "127.0.0.1:11300,127.0.0.1:11301", files[1]["QueueServerAddr"], "every daemon reserves from every server")

	assert.Equal(t, cfgs[0].QueueServers, cfgs[1].QueueServers)
	assert.True(t, cfgs[1].SubscriptionFromRedis)
	assert.NotEqual(t, cfgs[0].LogDir, cfgs[1].LogDir)
	assert.NotEqual(t, cfgs[0].DropMessageLogDir, cfgs[1].DropMessageLogDir, "the drop log follows LOG_DIR")
}

func TestShippedFleetScenario(t *testing.T) {
	by := shippedScenarios(t)
	plain, fleet := by["throughput-500"], by["throughput-500-fleet"]
	require.NotNil(t, plain)
	require.NotNil(t, fleet)
	assert.Equal(t, Layout{Servers: 1, Daemons: 1, Binlog: BinlogOff}, plain.layout())
	assert.Equal(t, Layout{Servers: 2, Daemons: 2, Binlog: BinlogOff}, fleet.layout())
	// The same load, found the same way: only the layout differs.
	assert.Equal(t, []any{plain.Kind, plain.Class, plain.Size, plain.Rate, plain.Step, plain.MaxRate, plain.Warmup, plain.Duration, plain.Drain, plain.Daemon, plain.Pprof},
		[]any{fleet.Kind, fleet.Class, fleet.Size, fleet.Rate, fleet.Step, fleet.MaxRate, fleet.Warmup, fleet.Duration, fleet.Drain, fleet.Daemon, fleet.Pprof})
	for _, s := range by {
		if s != fleet {
			assert.Equal(t, 1, s.Daemons, "%s: one daemon", s.Name)
		}
	}
}

// cells is the number of cells of a markdown table row.
func cells(row string) int { return strings.Count(row, "|") - 1 }

func TestMarkdownFleet(t *testing.T) {
	rep := func(delivered float64) *loadgen.Report {
		return &loadgen.Report{Topics: 500, Subs: 500, Rate: 9000, DeliveredRate: delivered, Drained: true}
	}
	tpS := &Scenario{Kind: KindThroughput, Binlog: BinlogOff, Size: 512, Class: []loadgen.Class{{Topics: 500}}}
	fleetS := *tpS
	fleetS.Servers, fleetS.Daemons = 2, 2
	one := &RunResult{Rate: 9000, Report: rep(9000), Sustained: true, CPUPer1k: 0.1, BeanstalkdCPUPer1k: 0.08}
	two := &RunResult{Rate: 9000, Report: rep(8000), Sustained: true, CPUPer1k: 0.125, BeanstalkdCPUPer1k: 0.09}
	void := &RunResult{Rate: 9000, Report: &loadgen.Report{Topics: 500, Subs: 500, Rate: 9000, Void: true, VoidReasons: []string{"x"}}}
	results := []*Result{
		{Name: "tp-500", S: tpS, Servers: 1, Daemons: 1, Runs: []*RunResult{one}, Main: one},
		{Name: "tp-500-fleet", S: &fleetS, Servers: 2, Daemons: 2, Runs: []*RunResult{two}, Main: two},
		{Name: "void-fleet", S: &fleetS, Servers: 2, Daemons: 2, Runs: []*RunResult{void}, Main: void},
		{Name: "failed", Servers: 1, Daemons: 3, Failures: []string{"daemon exited at start"}},
	}
	noteFleets(results)
	assert.Empty(t, results[0].Notes, "one daemon on one server is no fleet")
	assert.Equal(t, []string{
		"2 daemons on 2 beanstalkd servers: the daemon CPU is all daemons' summed, the peak RSS the largest daemon's, a CPU profile the first daemon's",
		"against tp-500 (1 daemon, 1 server) in this run: delivered 8000 vs 9000 msgs/s; 8000 vs 10000 msgs per daemon CPU-second " +
			"(daemon CPU 0.125 vs 0.100 s per 1k msgs, 1.25×); beanstalkd CPU 0.090 vs 0.080 s per 1k msgs",
	}, results[1].Notes)
	assert.Len(t, results[2].Notes, 1, "a void run is compared with nothing")

	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceiling.Result{CycleRate: 15000}, Results: results}
	md := RenderMarkdown(sum, Options{Out: "bench/out"})
	table, _, _ := strings.Cut(md[strings.Index(md, "| scenario |"):], "\n\n")
	rows := strings.Split(table, "\n")
	require.Len(t, rows, 6, "header, separator and 4 rows")
	for _, r := range rows[1:] {
		assert.Equal(t, cells(rows[0]), cells(r), "every row has the header's cells: %s", r)
	}
	assert.Contains(t, rows[0], "| beanstalkd CPU s / 1k msg | daemons × servers | daemon peak RSS MB |")
	for _, want := range []string{
		"| tp-500 | 500 × 1 | 9000 | 9000 | 60 % | — | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0 | 0 | 0 | 0.100 | 0.080 | 1 × 1 | 0 | ok |",
		"| 0.125 | 0.090 | 2 × 2 | 0 | ok |",
		"| 2 × 2 | | void: x |",
		"| 3 × 1 | | **failed**",
		"- **tp-500-fleet**: rate steps: 9000/s ✓; 2 daemons on 2 beanstalkd servers",
		// The ceiling is one server's: its goal is one daemon's on one server.
		"(tp-500, 500 topics): 9000/s",
	} {
		assert.Contains(t, md, want)
	}

	var console strings.Builder
	writeConsole(&console, sum)
	assert.Contains(t, console.String(), "daemon 0.125, beanstalkd 0.090 | 2 daemons, 2 beanstalkd servers\n")
}

// TestStartEnvFleet starts two daemons on two beanstalkd servers: each is
// ready and serves on its own addresses, their CPU adds up, and Stop ends
// every process.
func TestStartEnvFleet(t *testing.T) {
	testsrv.RequireBinary(t, testsrv.Beanstalkd)
	testsrv.RequireBinary(t, testsrv.Redis)
	bin, err := testsrv.BuildBinary(t.TempDir(), "medispatcher/cmd/medispatcher")
	require.NoError(t, err)
	ctx := context.Background()
	e, err := StartEnv(ctx, t.TempDir(), bin, Layout{Servers: 2, Daemons: 2, Binlog: BinlogOff, Source: "file"}, nil)
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			e.Stop()
		}
	}()
	require.Len(t, e.Beanstalkd, 2)
	require.Len(t, e.Daemons, 2)
	assert.NotEqual(t, e.Daemons[0].Proc.Pid(), e.Daemons[1].Proc.Pid())
	for _, d := range e.Daemons {
		assert.NoError(t, httpGet(ctx, "http://"+d.PromAddr+"/metrics", io.Discard), "daemon %d serves its metrics", d.N)
		assert.NoError(t, httpGet(ctx, "http://"+d.DebugAddr+"/debug/pprof/", io.Discard), "daemon %d serves pprof", d.N)
		b, err := os.ReadFile(d.Config)
		require.NoError(t, err)
		assert.Contains(t, string(b), strings.Join(e.Servers(), ","), "daemon %d reserves from both servers", d.N)
	}
	cpu := e.DaemonCPU()
	one, err := e.Daemons[0].Proc.CPUSeconds()
	require.NoError(t, err)
	two, err := e.Daemons[1].Proc.CPUSeconds()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cpu, one+two-0.02, "the fleet's CPU is both daemons'")
	assert.Positive(t, e.DaemonPeakRSSMB())

	e.Stop()
	stopped = true
	for _, p := range append([]*Proc{e.Daemons[0].Proc, e.Daemons[1].Proc, e.Redis}, e.Beanstalkd...) {
		select {
		case <-p.Exited():
		default:
			t.Errorf("%s still runs after Stop", p.Name)
		}
	}
}
