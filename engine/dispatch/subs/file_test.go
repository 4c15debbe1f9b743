package subs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileSourceFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	require.NoError(t, WriteFile(path, []*Subscription{sub(1, "order_paid"), sub(2, "user_new")}))
	log, _ := testLogger()
	src := NewFileSource(path, testLimits, log)
	sets := runSource(t, src)

	first := waitSet(t, sets, "the initial subscriptions", hasIDs(1, 2))
	assert.Equal(t, "order_paid", first.ByID(1).Topic)

	// A rewrite through WriteFile (temp file + rename).
	changed := sub(2, "user_new")
	changed.Concurrency = 9
	require.NoError(t, WriteFile(path, []*Subscription{changed, sub(3, "x")}))
	s := waitSet(t, sets, "the rewrite", hasIDs(2, 3))
	assert.Equal(t, 9, s.ByID(2).Concurrency)

	// An editor's save: write a new file next to it, rename it over.
	tmp := filepath.Join(filepath.Dir(path), "subs.toml~new")
	require.NoError(t, os.WriteFile(tmp, []byte("[[subscription]]\nid = 4\ntopic = \"t4\"\nurl = \"http://127.0.0.1/h\"\n"), 0o644))
	require.NoError(t, os.Rename(tmp, path))
	waitSet(t, sets, "the rename-replace", hasIDs(4))

	// An in-place rewrite (truncate, write, close).
	require.NoError(t, os.WriteFile(path, []byte("[[subscription]]\nid = 5\ntopic = \"t5\"\nurl = \"http://127.0.0.1/h\"\n"), 0o644))
	waitSet(t, sets, "the in-place write", hasIDs(5))

	// Other files in the directory do not matter; Reload re-reads on demand.
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "other.toml"), []byte("x"), 0o644))
	// An unchanged set is not applied again: the next one is the change.
	src.Reload()
	require.NoError(t, WriteFile(path, []*Subscription{sub(6, "t6")}))
	assert.Equal(t, []int64{6}, ids(nextSet(t, sets)))
}

func TestFileSourceKeepsTheLastGoodSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	require.NoError(t, WriteFile(path, []*Subscription{sub(1, "order_paid")}))
	log, logs := testLogger()
	src := NewFileSource(path, testLimits, log)
	sets := runSource(t, src)
	waitSet(t, sets, "the initial subscriptions", hasIDs(1))

	// Broken TOML on line 3: logged with line and column, the set stays.
	require.NoError(t, os.WriteFile(path, []byte("[[subscription]]\nid = 2\ntopic = \"unterminated\n"), 0o644))
	waitLog(t, logs, "not valid TOML")
	assert.Contains(t, logs.String(), "line=3")
	assert.Contains(t, logs.String(), "col=")

	// Removing the file keeps the set too.
	require.NoError(t, os.Remove(path))
	waitLog(t, logs, "disappeared")

	// The next good file is the next set applied: nothing came in between.
	require.NoError(t, WriteFile(path, []*Subscription{sub(1, "order_paid"), sub(2, "b")}))
	assert.Equal(t, []int64{1, 2}, ids(nextSet(t, sets)))
}

// A file missing at start is not an empty file: nothing is applied (an
// empty set would let the engine delete every message as unsubscribed),
// the problem is reported, and the file is picked up when it appears.
func TestFileSourceMissingAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	log, logs := testLogger()
	src := NewFileSource(path, testLimits, log)
	sets := runSource(t, src)
	waitLog(t, logs, "does not exist")
	assert.Contains(t, src.Problem(), "does not exist")
	select {
	case s := <-sets:
		t.Fatalf("a set was applied for a missing file: %v", ids(s))
	default:
	}

	require.NoError(t, WriteFile(path, []*Subscription{sub(8, "late")}))
	first := nextSet(t, sets)
	assert.Equal(t, []int64{8}, ids(first), "the first set applied is the file that appeared")
	assert.Empty(t, src.Problem())
}

// An empty file is a set with no subscription (applied: the engine decides
// with AllowEmptySubscriptionSet), and the source says so.
func TestFileSourceEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	log, _ := testLogger()
	src := NewFileSource(path, testLimits, log)
	sets := runSource(t, src)
	waitSet(t, sets, "no subscriptions", hasIDs())
	assert.Contains(t, src.Problem(), "no valid subscription")
}

func TestFileSourceLeavesOutBadEntries(t *testing.T) {
	const file = `
[[subscription]]
id = 1
topic = "good"
url = "http://127.0.0.1/a\n[T_ENV:prod]http://127.0.0.1/p"
concurrency = 3
rate = 2.5
colour = "blue"

[[subscription]]
id = 2
topic = "too_busy"
url = "http://127.0.0.1/b"
concurrency = 5000

[[subscription]]
id = 3
topic = "wrong_type"
url = "http://127.0.0.1/c"
concurrency = "many"

[[subscription]]
id = 1
topic = "duplicate"
url = "http://127.0.0.1/d"

[[subscription]]
id = 4
topic = "quiet"
url = "http://127.0.0.1/e"
alert_enabled = false
receive_bench = true
drop_threshold = 1000
drop_action = 1
alert_emails = "ops@example.com"
`
	path := filepath.Join(t.TempDir(), "subs.toml")
	require.NoError(t, os.WriteFile(path, []byte(file), 0o644))
	log, logs := testLogger()
	set := waitSet(t, runSource(t, NewFileSource(path, testLimits, log)), "the valid entries", hasIDs(1, 4))

	good := set.ByID(1)
	assert.Equal(t, "good", good.Topic)
	assert.Equal(t, 3, good.Concurrency)
	assert.Equal(t, 2.5, good.Rate)
	assert.True(t, good.AlertEnabled, "alert_enabled defaults to true")
	u, ok := good.URLs().Pick("prod", 0)
	require.True(t, ok)
	assert.Equal(t, "http://127.0.0.1/p", u)

	quiet := set.ByID(4)
	assert.False(t, quiet.AlertEnabled)
	assert.True(t, quiet.ReceiveBench)
	assert.Equal(t, 1000, quiet.DropThreshold)
	assert.Equal(t, DropLog, quiet.DropAction)
	assert.Equal(t, "ops@example.com", quiet.AlertEmails)

	out := logs.String()
	assert.Contains(t, out, "concurrency = 5000: must be 0..50")
	assert.Contains(t, out, "sub=3")
	assert.Contains(t, out, "id already used")
	assert.Contains(t, out, "subscription.colour")
}

func TestWriteFileRoundTrip(t *testing.T) {
	full := &Subscription{
		ID: 9, Topic: "order_paid", SubscriberID: 4,
		URL:       "http://127.0.0.1/a?x=1\n[T_ENV:prod] https://127.0.0.1/b",
		TimeoutMS: 3000, Concurrency: 2, RetryConcurrency: 1, IntervalMS: 10,
		Rate: 0.5, Burst: 3, ReceiveBench: true, AlertEnabled: false,
		DropThreshold: 10, DropAction: DropDrop,
		AlertEmails: "a@example.com,b@example.com", AlertPhones: "123", AlertReceiver: "team",
	}
	path := filepath.Join(t.TempDir(), "subs.toml")
	require.NoError(t, WriteFile(path, []*Subscription{full, sub(1, "x")}))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "[[subscription]]")
	assert.Contains(t, string(data), "retry_concurrency = 1")

	log, logs := testLogger()
	got, bad, err := decodeFile(data, testLimits, log)
	require.NoError(t, err)
	assert.Empty(t, bad)
	require.Len(t, got, 2)
	assert.True(t, full.Equal(got[0]), "got %+v", got[0])
	assert.NotContains(t, logs.String(), "unknown keys")

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

// The example file operators copy must load without a warning.
func TestExampleFileLoads(t *testing.T) {
	data, err := os.ReadFile("../../../scripts/subscriptions.example.toml")
	if os.IsNotExist(err) {
		t.Skip("scripts/subscriptions.example.toml not written yet")
	}
	require.NoError(t, err)
	log, logs := testLogger()
	got, bad, err := decodeFile(data, Limits{ChannelPrefix: DefaultChannelPrefix}, log)
	require.NoError(t, err)
	assert.NotEmpty(t, got)
	assert.Empty(t, bad)
	assert.NotContains(t, logs.String(), "level=WARN")
	assert.NotContains(t, logs.String(), "level=ERROR")
}

// A change inotify cannot see (the file is a symlink into another
// directory) is picked up by Reload.
func TestFileSourceReload(t *testing.T) {
	target := filepath.Join(t.TempDir(), "target.toml")
	require.NoError(t, WriteFile(target, []*Subscription{sub(1, "a")}))
	path := filepath.Join(t.TempDir(), "subs.toml")
	require.NoError(t, os.Symlink(target, path))
	log, _ := testLogger()
	src := NewFileSource(path, testLimits, log)
	sets := runSource(t, src)
	waitSet(t, sets, "the initial subscriptions", hasIDs(1))

	require.NoError(t, WriteFile(target, []*Subscription{sub(2, "b")}))
	src.Reload()
	assert.Equal(t, []int64{2}, ids(nextSet(t, sets)))
}
