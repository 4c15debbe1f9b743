package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen/bstalk"
)

// fixedScenario is the smallest valid scenario: one fixed-rate run of one topic.
const fixedScenario = "kind = \"fixed\"\nrate = 5\n[[class]]\nname = \"a\"\ntopics = 1\n"

func TestScenarioBinlogOption(t *testing.T) {
	s, err := LoadScenario(writeScenario(t, t.TempDir(), "s.toml", fixedScenario))
	require.NoError(t, err)
	assert.Equal(t, BinlogOff, s.Binlog, "in memory by default")
	for _, v := range []string{"off", "on", "fsync"} {
		s, err := LoadScenario(writeScenario(t, t.TempDir(), "s.toml", "binlog = \""+v+"\"\n"+fixedScenario))
		require.NoError(t, err, v)
		assert.Equal(t, v, s.Binlog)
	}
	for _, v := range []string{"yes", "true", "FSYNC"} {
		_, err := LoadScenario(writeScenario(t, t.TempDir(), "s.toml", "binlog = \""+v+"\"\n"+fixedScenario))
		assert.ErrorContains(t, err, "binlog", v)
	}
	_, err = LoadScenario(writeScenario(t, t.TempDir(), "s.toml", "binlog = true\n"+fixedScenario))
	assert.Error(t, err, "a boolean is not a setting")
}

func TestBinlogArgs(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"", BinlogOff} {
		args, err := binlogArgs(v, dir)
		require.NoError(t, err)
		assert.Empty(t, args, "%q: no flags", v)
	}
	on, err := binlogArgs(BinlogOn, dir)
	require.NoError(t, err)
	require.Len(t, on, 2)
	assert.Equal(t, "-b", on[0])
	assert.DirExists(t, on[1])
	fs, err := binlogArgs(BinlogFsync, dir)
	require.NoError(t, err)
	require.Len(t, fs, 4)
	assert.Equal(t, []string{"-b", "-f", "0"}, []string{fs[0], fs[2], fs[3]})
	assert.NotEqual(t, on[1], fs[1], "a directory per server")
	assert.Empty(t, binlogNote(BinlogOff))
	assert.Contains(t, binlogNote(BinlogFsync), "-f 0")
}

// TestBinlogServerWritesItsJobs starts a real beanstalkd with the fsync
// flags and finds the job it was given in its binlog.
func TestBinlogServerWritesItsJobs(t *testing.T) {
	dir := t.TempDir()
	args, err := binlogArgs(BinlogFsync, dir)
	require.NoError(t, err)
	p, err := StartServer("beanstalkd", dir, args...)
	require.NoError(t, err)
	defer p.Stop()
	c, err := bstalk.Dial(p.Addr, time.Second)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Put("binlog-test", []byte("kept-on-disk"))
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(args[1], "binlog.*"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "beanstalkd writes its binlog where it was told")
	found := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		found = found || strings.Contains(string(b), "kept-on-disk")
	}
	assert.True(t, found, "the job is in the binlog as soon as the put is answered")
}

func TestShippedDurabilityScenarios(t *testing.T) {
	by := shippedScenarios(t)
	plain := by["throughput-500"]
	require.NotNil(t, plain)
	assert.Equal(t, BinlogOff, plain.Binlog)
	for name, want := range map[string]string{"throughput-500-binlog": BinlogOn, "throughput-500-fsync": BinlogFsync} {
		s := by[name]
		require.NotNil(t, s, name)
		assert.Equal(t, want, s.Binlog, name)
		// The same load, found the same way, as throughput-500; fsync
		// starts lower, where a disk's syncs per second can keep up.
		assert.Equal(t, plain.Kind, s.Kind, name)
		assert.Equal(t, plain.Class, s.Class, name)
		assert.Equal(t, []any{plain.Size, plain.Step, plain.MaxRate, plain.Warmup, plain.Duration, plain.Drain, plain.Servers, plain.Source},
			[]any{s.Size, s.Step, s.MaxRate, s.Warmup, s.Duration, s.Drain, s.Servers, s.Source}, name)
		assert.LessOrEqual(t, s.Rate, plain.Rate, name)
	}
	quick, err := LoadScenarios("../../bench/scenarios/quick")
	require.NoError(t, err)
	for _, s := range quick {
		assert.Equal(t, BinlogOff, s.Binlog, "%s: --quick stays in memory", s.Name)
	}
}
