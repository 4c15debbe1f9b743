package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/ops/cli"
)

func TestPublishCommand(t *testing.T) {
	d := startDaemon(t)

	r := d.ok("publish", "pubtopic", `{"a":[1,"<x>"]}`, "--sender", "shop", "--priority", "7", "--delay", "60", "--context", "c1")
	assert.Regexp(t, `^published: job \d+ on `+d.bs.Addr+"\n$", r.stdout)

	var res adminapi.PublishResult
	decodeStrict(t, d.ok("publish", "pubtopic", `null`, "--json", "--idempotency-key", "k-1").stdout, &res)
	require.NotZero(t, res.JobID)
	var again adminapi.PublishResult
	decodeStrict(t, d.ok("publish", "pubtopic", `null`, "--json", "--idempotency-key", "k-1").stdout, &again)
	assert.Equal(t, res, again, "the repeat is answered as the first time")
	assert.Equal(t, 2, d.tubeStat("event_center_messages", "total-jobs"))

	raw, err := d.bc.Peek(res.JobID)
	require.NoError(t, err)
	var m message.Message
	require.NoError(t, message.Decode(raw, &m))
	assert.Equal(t, "pubtopic", string(m.Topic))

	delayed, _, err := beanstalk.NewTube(d.bc, "event_center_messages").PeekDelayed()
	require.NoError(t, err)
	st, err := d.bc.StatsJob(delayed)
	require.NoError(t, err)
	assert.Equal(t, "7", st["pri"])

	// A batch file: one bad message is reported by its line.
	file := filepath.Join(t.TempDir(), "msgs.jsonl")
	lines := []string{`{"topic":"pubtopic","body":1}`, ``, `{"body":2}`, `{"topic":"pubtopic","body":{"x":3}}`}
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	r = d.ctl(Env{}, "publish", "--batch", file)
	assert.Equal(t, cli.ExitFailed, r.code, "%s", r.stderr)
	assert.Contains(t, r.stdout, "2 published, 0 in the recover list, 1 failed")
	assert.Contains(t, r.stderr, "line 3: invalid: messages[1]: topic is required")
	assert.Equal(t, 4, d.tubeStat("event_center_messages", "total-jobs"))
}

func TestPublishCommandUsage(t *testing.T) {
	addr := deadAddr(t)
	for _, args := range [][]string{
		{"publish"},
		{"publish", "t"},
		{"publish", "t", "not json"},
		{"publish", "", "1"},
		{"publish", "t", "1", "--priority", "4294967296"},
		{"publish", "t", "1", "--delay", "-1"},
		{"publish", "t", "1", "--batch", "x"},
	} {
		r := ctl(t, Env{}, append(args, "--addr", addr)...)
		assert.Equal(t, cli.ExitUsage, r.code, "%v: %s", args, r.stderr)
	}
}
