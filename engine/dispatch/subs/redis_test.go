package subs

import (
	"context"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

func newRedisClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestRedisSourceFollowsChanges(t *testing.T) {
	srv := testsrv.StartRedis(t)
	ctx := context.Background()
	writer := newRedisClient(t, srv.Addr)
	const prefix = "{test}"
	require.NoError(t, RedisPut(ctx, writer, prefix, sub(1, "order_paid")))
	require.NoError(t, RedisPut(ctx, writer, prefix, sub(2, "user_new")))

	// Two daemons, each with its own client.
	var sources []<-chan *Set
	for range 2 {
		log, _ := testLogger()
		sources = append(sources, runSource(t, NewRedisSource(newRedisClient(t, srv.Addr), prefix, testLimits, log)))
	}
	for _, sets := range sources {
		s := waitSet(t, sets, "the initial subscriptions", hasIDs(1, 2))
		assert.Equal(t, "user_new", s.ByID(2).Topic)
	}

	changed := sub(2, "user_new")
	changed.Concurrency = 7
	require.NoError(t, RedisPut(ctx, writer, prefix, changed))
	require.NoError(t, RedisPut(ctx, writer, prefix, sub(3, "added")))
	for _, sets := range sources {
		s := waitSet(t, sets, "the put", func(s *Set) bool {
			return hasIDs(1, 2, 3)(s) && s.ByID(2).Concurrency == 7
		})
		assert.Equal(t, "added", s.ByID(3).Topic)
	}

	require.NoError(t, RedisDelete(ctx, writer, prefix, 1))
	for _, sets := range sources {
		waitSet(t, sets, "the delete", hasIDs(2, 3))
	}
	require.NoError(t, RedisDelete(ctx, writer, prefix, 1), "deleting a missing id is no error")
}

func TestRedisSourceLeavesOutBadEntries(t *testing.T) {
	srv := testsrv.StartRedis(t)
	ctx := context.Background()
	c := newRedisClient(t, srv.Addr)
	hash, channel := RedisHashKey(""), RedisChannel("")
	assert.Equal(t, "{medispatcher}:subs", hash)
	assert.Equal(t, "{medispatcher}:subs:changed", channel)

	hset := func(field, value string) {
		require.NoError(t, c.Do(ctx, c.B().Hset().Key(hash).FieldValue().FieldValue(field, value).Build()).Error())
	}
	hset("1", `{"id":1,"topic":"good","url":"http://127.0.0.1/a","colour":"blue"}`)
	hset("2", `{"id":2,"topic":"bad","url":"http://127.0.0.1/b","drop_action":9}`)
	hset("3", `not json`)
	hset("4", `{"id":5,"topic":"mismatch","url":"http://127.0.0.1/c"}`)
	hset("x", `{"id":6,"topic":"field","url":"http://127.0.0.1/d"}`)
	hset("7", `{"topic":"id_from_field","url":"http://127.0.0.1/e","alert_enabled":false}`)

	log, logs := testLogger()
	sets := runSource(t, NewRedisSource(c, "", testLimits, log))
	s := waitSet(t, sets, "the valid entries", hasIDs(1, 7))
	assert.True(t, s.ByID(1).AlertEnabled, "alert_enabled defaults to true")
	assert.False(t, s.ByID(7).AlertEnabled)

	out := logs.String()
	assert.Contains(t, out, "drop_action = 9")
	assert.Contains(t, out, "subscription 3: decode JSON")
	assert.Contains(t, out, "must equal the hash field 4")
	assert.Contains(t, out, `hash field \"x\" is not a subscription id`)
	assert.Contains(t, out, "keys=colour")

	// An entry made invalid by a change keeps its last good version; one
	// made valid joins the set.
	hset("1", `{"id":1,"topic":"good","url":"ftp://127.0.0.1/a"}`)
	hset("2", `{"id":2,"topic":"bad","url":"http://127.0.0.1/b","drop_action":2}`)
	require.NoError(t, c.Do(ctx, c.B().Publish().Channel(channel).Message("1").Build()).Error())
	require.NoError(t, c.Do(ctx, c.B().Publish().Channel(channel).Message("2").Build()).Error())
	s = waitSet(t, sets, "the changed entries", hasIDs(1, 2, 7))
	assert.Equal(t, "http://127.0.0.1/a", s.ByID(1).URL, "the last good version of 1 stays")

	// A message that is not an id re-reads the whole hash.
	hset("8", `{"topic":"t8","url":"http://127.0.0.1/h"}`)
	require.NoError(t, c.Do(ctx, c.B().Publish().Channel(channel).Message("*").Build()).Error())
	waitSet(t, sets, "the full re-read", hasIDs(1, 2, 7, 8))
}

func TestRedisSourceReconnects(t *testing.T) {
	srv := testsrv.StartRedis(t)
	ctx := context.Background()
	writer := newRedisClient(t, srv.Addr)
	require.NoError(t, RedisPut(ctx, writer, "", sub(1, "before")))

	log, logs := testLogger()
	sets := runSource(t, NewRedisSource(newRedisClient(t, srv.Addr), "", testLimits, log))
	waitSet(t, sets, "the initial subscriptions", hasIDs(1))

	// Redis runs without persistence: after the restart the hash is empty.
	// No notification announces that, so seeing it proves the source
	// re-read the hash after reconnecting.
	srv.Kill()
	srv.Restart(t)
	waitSet(t, sets, "the empty hash after the restart", hasIDs())

	// The re-subscription works too: a put after the restart is seen.
	require.NoError(t, RedisPut(ctx, writer, "", sub(2, "after")))
	waitSet(t, sets, "the put after the restart", hasIDs(2))
	assert.Contains(t, logs.String(), "subscriptions loaded")
}

func TestRedisPutRejectsNoID(t *testing.T) {
	srv := testsrv.StartRedis(t)
	c := newRedisClient(t, srv.Addr)
	err := RedisPut(context.Background(), c, "", sub(0, "x"))
	assert.ErrorIs(t, err, ErrInvalid)
	n, err := c.Do(context.Background(), c.B().Hlen().Key(RedisHashKey("")).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// An empty (or missing) hash is applied as an empty set, and the source
// says why, so the daemon can tell an operator that the key prefix or
// database may be wrong; the first subscription written ends it.
func TestRedisSourceReportsAnEmptyHash(t *testing.T) {
	srv := testsrv.StartRedis(t)
	c := newRedisClient(t, srv.Addr)
	log, _ := testLogger()
	src := NewRedisSource(c, "{typo}", testLimits, log)
	sets := runSource(t, src)
	waitSet(t, sets, "the empty hash", hasIDs())
	require.Contains(t, src.Problem(), "{typo}:subs is empty or missing")

	require.NoError(t, RedisPut(context.Background(), c, "{typo}", sub(3, "t")))
	waitSet(t, sets, "the first subscription", hasIDs(3))
	require.Empty(t, src.Problem())
}
