package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
	"medispatcher/loadgen"
)

const oneClass = "kind = \"fixed\"\nrate = 5\n[[class]]\nname = \"a\"\ntopics = 1\n"

// source = "mysql" is a scenario's third source; an unknown one, or a
// rate-limited class the 2.x tables cannot hold, fails the scenario.
func TestScenarioSource(t *testing.T) {
	for text, want := range map[string]string{
		"source = \"mysql\"\n" + oneClass: "",
		oneClass:                          "",
		"source = \"mongo\"\n" + oneClass: "source = \"mongo\"",
		"source = \"mysql\"\n" + oneClass + "rate_limit = 5\n": "rate limit",
	} {
		p := filepath.Join(t.TempDir(), "s.toml")
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		s, err := LoadScenario(p)
		if want != "" {
			assert.ErrorContains(t, err, want, text)
			continue
		}
		require.NoError(t, err, text)
		assert.Equal(t, s.Source, s.layout().Source)
	}
}

// A mysql daemon's configuration names the run's MariaDB in [Database],
// with the scenario's own [daemon.Database] keys on top, and loads as the
// daemon loads it.
func TestMySQLDaemonConfig(t *testing.T) {
	e := fakeEnv(t)
	e.Database = &config.DatabaseConfig{Host: "127.0.0.1", Port: 33061, User: "medispatcher", Password: "pw", DbName: "medispatcher"}
	d, err := newDaemon(e.Dir, 1)
	require.NoError(t, err)
	extra := map[string]any{"Database": map[string]any{"PollInterval": int64(500)}}
	require.NoError(t, e.writeDaemonConfig(d, SourceMySQL, extra))
	c, _, err := config.Load(d.Config)
	require.NoError(t, err)
	assert.Equal(t, "mysql", c.SubscriptionSource)
	want := *e.Database
	want.PollInterval, want.FailureLog = 500, true
	assert.Equal(t, want, c.Database)
	assert.Equal(t, "127.0.0.1:6379", c.Redis.Addr, "Redis still holds the recover lists")
}

// The daemons' database counters are read from their exposition, and
// the run's database work is their difference per second, with MariaDB's
// CPU per 1000 messages.
func TestDatabaseWork(t *testing.T) {
	sum := map[string]float64{}
	text := "# TYPE x counter\n" + metricProbes + " 10\n" + metricReads + " 2\nmedispatcher_paneldb_queries_total{kind=\"other\"} 9\n" +
		metricRowsInserted + " 40\n"
	addCounters(bytes.NewBufferString(text), sum)
	addCounters(bytes.NewBufferString(metricProbes+" 4\n"), sum)
	assert.Equal(t, map[string]float64{metricProbes: 14, metricReads: 2, metricRowsInserted: 40}, sum)

	t0 := time.Now()
	before := sample{at: t0, dbCPU: 1, db: sum}
	after := sample{at: t0.Add(10 * time.Second), dbCPU: 1.5, db: map[string]float64{metricProbes: 34, metricReads: 3,
		metricRowsInserted: 140, metricRowsUpdated: 60, metricErrors: 1, metricCommits: 30}}
	w := databaseWork(before, after, 5000)
	assert.Equal(t, &DatabaseWork{ProbesPerS: 2, ReadsPerS: 0.1, Errors: 1, RowsInserted: 100, RowsUpdated: 60, Commits: 30, CPUPer1k: 0.1}, w)
	assert.Equal(t, "database: 2.00 probes/s, 0.10 full reads/s, 1 failed queries; failure rows 100 inserted, 60 updated, 0 not written, 30 commits; "+
		"CPU s/1k msg: mariadbd 0.100, beanstalkd 0.050", databaseText(w, 0.05))
	assert.Nil(t, databaseWork(sample{}, after, 5000), "no counters before: nothing to say")
	assert.Empty(t, databaseText(nil, 0))

	rep := &loadgen.Report{Topics: 50, Subs: 50, Rate: 1000, DeliveredRate: 1000, Drained: true, Latency: loadgen.Latency{Count: 5000, P99: 2}}
	main := &RunResult{Rate: 1000, Report: rep, Sustained: true, Database: w, BeanstalkdCPUPer1k: 0.05}
	md := RenderMarkdown(&Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Results: []*Result{
		{Name: "retry-storm-mysql", S: &Scenario{Kind: KindFixed, Source: SourceMySQL}, Runs: []*RunResult{main}, Main: main}}},
		Options{Out: "bench/out"})
	assert.Contains(t, md, "database: 2.00 probes/s", "the quoted run's database work is in its scenario's notes")
}

// An Env of source mysql starts a MariaDB holding the 2.x tables, its
// daemon watches them (its probe counter moves), MariaDB's CPU is read,
// and Stop ends it too.
func TestStartEnvMySQL(t *testing.T) {
	testsrv.RequireBinary(t, testsrv.Beanstalkd)
	testsrv.RequireBinary(t, testsrv.Redis)
	testsrv.RequireBinary(t, testsrv.MariaDB)
	bin, err := testsrv.BuildBinary(t.TempDir(), "medispatcher/cmd/medispatcher")
	require.NoError(t, err)
	ctx := context.Background()
	e, err := StartEnv(ctx, t.TempDir(), bin, Layout{Source: SourceMySQL},
		map[string]any{"Database": map[string]any{"PollInterval": int64(100)}})
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			e.Stop()
		}
	}()
	require.NotNil(t, e.MariaDB)
	require.Equal(t, e.MariaDB.Addr, e.Database.Addr())
	require.Eventually(t, func() bool {
		c := e.DatabaseCounters(ctx)
		return c != nil && c[metricProbes] >= 2
	}, 10*time.Second, 50*time.Millisecond, "the daemon probes the tables; log: %s", readFile(e.Daemons[0].Log))
	assert.Positive(t, e.DatabaseCPU())

	e.Stop()
	stopped = true
	select {
	case <-e.MariaDB.Exited():
	default:
		t.Error("mariadbd still runs after Stop")
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// retry-storm-mysql is retry-storm's load with the subscriptions in
// MySQL: everything but the source (and the separate profile run) is the
// same, so that their fast classes' p99 compare.
func TestShippedMySQLScenario(t *testing.T) {
	by := shippedScenarios(t)
	plain, my := by["retry-storm"], by["retry-storm-mysql"]
	require.NotNil(t, plain)
	require.NotNil(t, my)
	assert.Equal(t, SourceMySQL, my.Source)
	assert.Equal(t, []any{plain.Kind, plain.Rate, plain.Size, plain.Warmup, plain.Duration, plain.Drain, plain.Servers, plain.Daemons, plain.Binlog, plain.Daemon, plain.Class},
		[]any{my.Kind, my.Rate, my.Size, my.Warmup, my.Duration, my.Drain, my.Servers, my.Daemons, my.Binlog, my.Daemon, my.Class})
}
