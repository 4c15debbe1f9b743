package subs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// invalidCall is one call of Options.OnInvalid.
type invalidCall struct {
	id     int64
	held   bool
	fields []string
	err    error
}

// hookCalls returns options whose OnInvalid sends its calls to the
// returned channel.
func hookCalls(env string) (Options, <-chan invalidCall) {
	calls := make(chan invalidCall, 64)
	return Options{Env: env, OnInvalid: func(id int64, held bool, err error) {
		calls <- invalidCall{id: id, held: held, fields: InvalidFields(err), err: err}
	}}, calls
}

func nextCall(t *testing.T, calls <-chan invalidCall) invalidCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatalf("OnInvalid not called within %v", waitTimeout)
		return invalidCall{}
	}
}

// noCall asserts that OnInvalid has not been called (the caller knows the
// source has finished the read that could have called it).
func noCall(t *testing.T, calls <-chan invalidCall, why string) {
	t.Helper()
	select {
	case c := <-calls:
		t.Errorf("%s: OnInvalid called again: %+v", why, c)
	default:
	}
}

func TestFileSourceKeepsTheLastGoodVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	good := sub(1, "order_paid")
	good.Concurrency = 3
	require.NoError(t, WriteFile(path, []*Subscription{good, sub(2, "user_new")}))
	log, logs := testLogger()
	src := NewFileSource(path, testLimits, log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	waitSet(t, sets, "the initial subscriptions", hasIDs(1, 2))

	// 1 turns invalid (two fields), 2 changes, 3 is new and invalid.
	bad := *good
	bad.Concurrency, bad.URL = -1, "ftp://127.0.0.1/x"
	two := sub(2, "user_new")
	two.Concurrency = 4
	newBad := sub(3, "new")
	newBad.DropAction = 7
	require.NoError(t, WriteFile(path, []*Subscription{&bad, two, newBad}))
	s := waitSet(t, sets, "the change of 2", func(s *Set) bool { return s.ByID(2) != nil && s.ByID(2).Concurrency == 4 })
	assert.Equal(t, []int64{1, 2}, ids(s), "1 kept, 3 left out")
	assert.True(t, s.ByID(1).Equal(good), "1 is its last good version: %+v", s.ByID(1))

	got := map[int64]invalidCall{}
	for range 2 {
		c := nextCall(t, calls)
		got[c.id] = c
	}
	assert.True(t, got[1].held)
	assert.Equal(t, []string{"url", "concurrency"}, got[1].fields)
	assert.ErrorIs(t, got[1].err, ErrInvalid)
	assert.False(t, got[3].held)
	assert.Equal(t, []string{"drop_action"}, got[3].fields)
	out := logs.String()
	assert.Contains(t, out, `level=ERROR msg="subscription invalid; keeping its last good version" path=`+path+` table=1 sub=1 fields=url,concurrency`)
	assert.Contains(t, out, `level=ERROR msg="subscription invalid; left out (no earlier good version)" path=`+path+` table=3 sub=3 fields=drop_action`)
	assert.Contains(t, out, "held_at_last_good=1 left_out=1")

	// Another change of 2 reloads the file: the same invalid versions are
	// not reported again, and 1 is still held.
	two.Concurrency = 5
	require.NoError(t, WriteFile(path, []*Subscription{&bad, two, newBad}))
	s = waitSet(t, sets, "the second change of 2", func(s *Set) bool { return s.ByID(2).Concurrency == 5 })
	assert.True(t, s.ByID(1).Equal(good))
	noCall(t, calls, "same invalid versions")
	assert.Equal(t, 1, strings.Count(logs.String(), "sub=1 fields="), "one ERROR line for one invalid version")

	// Another invalid version of 1 is reported.
	bad.Concurrency = 0
	require.NoError(t, WriteFile(path, []*Subscription{&bad, two, newBad}))
	c := nextCall(t, calls)
	assert.Equal(t, int64(1), c.id)
	assert.Equal(t, []string{"url"}, c.fields)

	// The fixed version applies.
	fixed := *good
	fixed.Concurrency = 6
	require.NoError(t, WriteFile(path, []*Subscription{&fixed, two}))
	s = waitSet(t, sets, "the fixed version", func(s *Set) bool { return s.ByID(1).Concurrency == 6 })
	assert.Equal(t, []int64{1, 2}, ids(s))

	// A table whose value has the wrong type names its key too.
	require.NoError(t, os.WriteFile(path, []byte("[[subscription]]\nid = 1\ntopic = \"order_paid\"\nurl = \"http://127.0.0.1:8080/hook\"\nconcurrency = \"many\"\n"), 0o644))
	c = nextCall(t, calls)
	assert.Equal(t, invalidCall{id: 1, held: true, fields: []string{"concurrency"}}, invalidCall{id: c.id, held: c.held, fields: c.fields})
	// 2 left the file: the next set has only the held 1.
	s = waitSet(t, sets, "2 removed", hasIDs(1))
	assert.Equal(t, 6, s.ByID(1).Concurrency)
}

// A subscription with no URL for the daemon's RECEPTION_ENV is warned
// about once per version.
func TestFileSourceWarnsNoURLForEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	staging := sub(1, "only_staging")
	staging.URL = "[T_ENV:staging]http://127.0.0.1/s"
	prod := sub(2, "prod")
	prod.URL = "[T_ENV:PROD]http://127.0.0.1/p"
	require.NoError(t, WriteFile(path, []*Subscription{staging, prod, sub(3, "untagged")}))
	log, logs := testLogger()
	src := NewFileSource(path, testLimits, log)
	src.SetOptions(Options{Env: "prod"})
	sets := runSource(t, src)
	waitSet(t, sets, "the initial subscriptions", hasIDs(1, 2, 3))
	const warn = "no URL for this daemon's RECEPTION_ENV"
	assert.Equal(t, 1, strings.Count(logs.String(), warn), logs.String())
	assert.Contains(t, logs.String(), "sub=1 topic=only_staging env=prod")

	// A change of another subscription: 1's version is the same, no warning.
	three := sub(3, "untagged")
	three.Concurrency = 2
	require.NoError(t, WriteFile(path, []*Subscription{staging, prod, three}))
	waitSet(t, sets, "the change of 3", func(s *Set) bool { return s.ByID(3).Concurrency == 2 })
	assert.Equal(t, 1, strings.Count(logs.String(), warn))

	// A new version of 1, still without a prod URL: warned again.
	staging.Concurrency = 2
	require.NoError(t, WriteFile(path, []*Subscription{staging, prod, three}))
	waitSet(t, sets, "the change of 1", func(s *Set) bool { return s.ByID(1).Concurrency == 2 })
	assert.Equal(t, 2, strings.Count(logs.String(), warn))
}

func TestRedisSourceKeepsTheLastGoodVersion(t *testing.T) {
	srv := testsrv.StartRedis(t)
	ctx := context.Background()
	c := newRedisClient(t, srv.Addr)
	const prefix = "{lastgood}"
	hash, channel := RedisHashKey(prefix), RedisChannel(prefix)
	hset := func(field, value string) {
		require.NoError(t, c.Do(ctx, c.B().Hset().Key(hash).FieldValue().FieldValue(field, value).Build()).Error())
	}
	publish := func(msg string) {
		require.NoError(t, c.Do(ctx, c.B().Publish().Channel(channel).Message(msg).Build()).Error())
	}
	good := sub(1, "order_paid")
	good.Concurrency = 3
	require.NoError(t, RedisPut(ctx, c, prefix, good))
	hset("9", `{"topic":"never_good","url":"http://127.0.0.1/n","rate":-1}`)

	log, logs := testLogger()
	src := NewRedisSource(newRedisClient(t, srv.Addr), prefix, testLimits, log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	waitSet(t, sets, "the initial subscriptions", hasIDs(1))
	call := nextCall(t, calls)
	assert.Equal(t, invalidCall{id: 9, held: false, fields: []string{"rate"}}, invalidCall{id: call.id, held: call.held, fields: call.fields})

	// 1 turns invalid: the hook hears of it, the set keeps version 1.
	hset("1", `{"id":1,"topic":"order_paid","url":"http://127.0.0.1:8080/hook","concurrency":-1}`)
	publish("1")
	call = nextCall(t, calls)
	assert.Equal(t, invalidCall{id: 1, held: true, fields: []string{"concurrency"}}, invalidCall{id: call.id, held: call.held, fields: call.fields})
	assert.Contains(t, call.err.Error(), "concurrency = -1")
	waitLog(t, logs, `msg="subscription invalid; keeping its last good version"`)
	// A put of 2 is the next set: 1 is still the good version.
	require.NoError(t, RedisPut(ctx, c, prefix, sub(2, "user_new")))
	s := nextSet(t, sets)
	assert.Equal(t, []int64{1, 2}, ids(s))
	assert.True(t, s.ByID(1).Equal(good), "%+v", s.ByID(1))

	// A full re-read (an entry added without its own notice, then "*")
	// holds 1 again without reporting the same versions again.
	require.NoError(t, RedisPut(ctx, c, prefix, sub(3, "third")))
	waitSet(t, sets, "3 added", hasIDs(1, 2, 3))
	hset("4", `{"topic":"fourth","url":"http://127.0.0.1/4"}`)
	publish("*")
	s = waitSet(t, sets, "the full re-read", hasIDs(1, 2, 3, 4))
	assert.True(t, s.ByID(1).Equal(good))
	noCall(t, calls, "same invalid versions on a full re-read")
	assert.Contains(t, logs.String(), "held_at_last_good=1")

	// The fixed version applies.
	fixed := *good
	fixed.Concurrency = 7
	require.NoError(t, RedisPut(ctx, c, prefix, &fixed))
	s = waitSet(t, sets, "the fixed version", func(s *Set) bool { return s.ByID(1).Concurrency == 7 })
	assert.Equal(t, []int64{1, 2, 3, 4}, ids(s))

	// Broken JSON is invalid too; the fixed version stays.
	hset("1", `{"id":1,`)
	publish("1")
	call = nextCall(t, calls)
	assert.Equal(t, int64(1), call.id)
	assert.True(t, call.held)
	assert.ErrorIs(t, call.err, ErrInvalid)

	// Deleting an entry held at its last good version removes it.
	require.NoError(t, RedisDelete(ctx, c, prefix, 1))
	waitSet(t, sets, "1 deleted", hasIDs(2, 3, 4))
	noCall(t, calls, "delete")
}

func TestInvalidFields(t *testing.T) {
	s := sub(5, "bad topic")
	s.Concurrency, s.Rate = -2, -1
	assert.Equal(t, []string{"topic", "concurrency", "rate"}, InvalidFields(s.Validate(testLimits)))

	_, _, err := DecodeJSON([]byte(`{"timeout_ms":"soon"}`))
	assert.Equal(t, []string{"timeout_ms"}, InvalidFields(err))
	_, _, err = DecodeJSON([]byte(`{`))
	assert.Nil(t, InvalidFields(err))
	assert.Nil(t, InvalidFields(nil))
}
