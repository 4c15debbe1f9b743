package subs

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

func TestFilterValidation(t *testing.T) {
	s := sub(1, "order_paid")
	s.Filter = `body.amount > 100`
	require.NoError(t, s.Validate(testLimits))

	s.Filter = `body.amount >`
	err := s.Validate(testLimits)
	assert.Equal(t, []string{"filter"}, InvalidFields(err))
	assert.Contains(t, err.Error(), `filter = "body.amount >": column `)

	s.Filter = `sender`
	assert.Equal(t, []string{"filter"}, InvalidFields(s.Validate(testLimits)), "a string is no bool")
}

func TestSetCompilesFilters(t *testing.T) {
	a, b := sub(1, "order_paid"), sub(2, "order_paid")
	a.Filter = `body.status == "paid"`
	set := NewSet([]*Subscription{a, b})
	f := set.ByID(1).ContentFilter()
	require.NotNil(t, f)
	assert.Equal(t, a.Filter, f.Source())
	assert.Nil(t, set.ByID(2).ContentFilter(), "no filter: every message")
	assert.Nil(t, a.ContentFilter(), "NewSet leaves its input alone")

	assert.True(t, set.ByID(1).Equal(a), "the compiled form is no setting")
	c := *a
	c.Filter = `body.status == "new"`
	assert.False(t, set.ByID(1).Equal(&c))
	assert.Same(t, f, NewSet([]*Subscription{a}).ByID(1).ContentFilter(), "one expression, compiled once")
}

// A bad expression in the file holds the last good version, the key and
// the position named.
func TestFileSourceFilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.toml")
	good := sub(1, "order_paid")
	good.Filter = `body.amount > 100`
	require.NoError(t, WriteFile(path, []*Subscription{good}))
	log, logs := testLogger()
	src := NewFileSource(path, testLimits, log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	s := waitSet(t, sets, "the filtered subscription", hasIDs(1))
	require.NotNil(t, s.ByID(1).ContentFilter())

	bad := *good
	bad.Filter = `body.amount > > 100`
	require.NoError(t, WriteFile(path, []*Subscription{&bad}))
	c := nextCall(t, calls)
	assert.Equal(t, invalidCall{id: 1, held: true, fields: []string{"filter"}}, invalidCall{id: c.id, held: c.held, fields: c.fields})
	assert.Contains(t, c.err.Error(), "column 15")
	waitLog(t, logs, `msg="subscription invalid; keeping its last good version"`)
	waitLog(t, logs, "held_at_last_good=1")
}

// The Redis JSON key is "filter" too; a bad one holds the last good
// version.
func TestRedisSourceFilter(t *testing.T) {
	srv := testsrv.StartRedis(t)
	ctx := context.Background()
	c := newRedisClient(t, srv.Addr)
	const prefix = "{filter}"
	hset := func(field, value string) {
		require.NoError(t, c.Do(ctx, c.B().Hset().Key(RedisHashKey(prefix)).FieldValue().FieldValue(field, value).Build()).Error())
		require.NoError(t, c.Do(ctx, c.B().Publish().Channel(RedisChannel(prefix)).Message(field).Build()).Error())
	}
	hset("1", `{"topic":"order_paid","url":"http://127.0.0.1:8080/hook","filter":"body.kind in [\"a\", \"b\"]"}`)
	log, _ := testLogger()
	src := NewRedisSource(newRedisClient(t, srv.Addr), prefix, testLimits, log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	s := waitSet(t, sets, "the filtered subscription", hasIDs(1))
	assert.Equal(t, `body.kind in ["a", "b"]`, s.ByID(1).Filter)
	require.NotNil(t, s.ByID(1).ContentFilter())

	hset("1", `{"topic":"order_paid","url":"http://127.0.0.1:8080/hook","filter":"nope == 1"}`)
	call := nextCall(t, calls)
	assert.Equal(t, []string{"filter"}, call.fields)
	assert.True(t, call.held)
	assert.Contains(t, call.err.Error(), "column 1: unknown name nope")
}
