package ctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/cli"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// exportSecret is a signing secret the API only shows masked.
const exportSecret = "whsec_dGhlIHNpZ25pbmcga2V5IG9mIHRoZSBleHBvcnQ="

// exportWorld is a daemon running two subscriptions from Redis, one URL
// with a password and one signing secret the API only shows masked.
func exportWorld(t *testing.T) (*daemon, []*subs.Subscription) {
	d := startDaemon(t)
	cfg, _, err := config.Load(d.cfg)
	require.NoError(t, err)
	want := []*subs.Subscription{
		{ID: 3, Topic: "orders", SubscriberID: 2, URL: "http://user:pa55@" + strings.TrimPrefix(d.sub.URL, "http://") + "/o", Concurrency: 4, AlertEnabled: true,
			SigningSecrets: []string{exportSecret}},
		{ID: 8, Topic: "users", URL: d.sub.URL + "/u\n[T_ENV:dev]" + d.sub.URL + "/dev", Rate: 20, AlertEmails: "ops@example.com"},
	}
	for _, s := range want {
		require.NoError(t, subs.RedisPut(context.Background(), d.redis, cfg.Redis.KeyPrefix, s))
	}
	require.Eventually(t, func() bool {
		return strings.Count(d.ok("subs").stdout, "\n") == 4 // source, header, two rows
	}, 10*time.Second, 50*time.Millisecond)
	return d, want
}

// TestExportToFile: the file is what the daemon's own writer makes of the
// same subscriptions, secrets included, and is not overwritten unasked.
func TestExportToFile(t *testing.T) {
	d, want := exportWorld(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "subs.toml")
	r := d.ok("subs", "export", "--to", "file:"+path)
	assert.Contains(t, r.stdout, "2 subscriptions exported to file:"+path)

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	ref := filepath.Join(dir, "ref.toml")
	require.NoError(t, subs.WriteFile(ref, want))
	expected, err := os.ReadFile(ref)
	require.NoError(t, err)
	assert.Equal(t, string(expected), string(got))
	assert.Contains(t, string(got), "pa55", "the URL as stored, not as shown")
	assert.Contains(t, string(got), exportSecret, "the signing secret as stored, not as shown")

	r = d.ctl(Env{}, "subs", "export", "--to", "file:"+path)
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, "exists; --force replaces it")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	d.ok("subs", "export", "--to", "file:"+path, "--force")
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(expected), string(got))
}

// TestExportToRedis: the hash of the -f config's [Redis] gets each
// subscription as the daemon's Redis source reads it, under the names
// that source uses; a hash that holds subscriptions is added to only with
// --force.
func TestExportToRedis(t *testing.T) {
	d, want := exportWorld(t)
	for _, prefix := range []string{"", "{p}"} {
		hash, channel := redisKeys(prefix)
		assert.Equal(t, subs.RedisHashKey(prefix), hash)
		assert.Equal(t, subs.RedisChannel(prefix), channel)
	}

	rd := testsrv.StartRedis(t)
	src, err := os.ReadFile(d.cfg)
	require.NoError(t, err)
	cfgPath := filepath.Join(t.TempDir(), "to-redis.toml")
	i := strings.LastIndex(string(src), "Addr = ")
	require.Positive(t, i)
	require.NoError(t, os.WriteFile(cfgPath, []byte(string(src[:i])+"Addr = \""+rd.Addr+"\"\nKeyPrefix = \"{exp}\"\n"), 0o644))

	r := d.ok("-f", cfgPath, "subs", "export", "--to", "redis")
	assert.Contains(t, r.stdout, "2 subscriptions exported to redis")
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	stored, err := c.Do(context.Background(), c.B().Hgetall().Key(subs.RedisHashKey("{exp}")).Build()).AsStrMap()
	require.NoError(t, err)
	require.Len(t, stored, 2)
	for _, s := range want {
		got, unknown, err := subs.DecodeJSON([]byte(stored[itoa(s.ID)]))
		require.NoError(t, err)
		assert.Empty(t, unknown)
		assert.True(t, got.Equal(s), "subscription %d: %+v", s.ID, got)
	}

	r = d.ctl(Env{}, "-f", cfgPath, "subs", "export", "--to", "redis")
	assert.Equal(t, cli.ExitFailed, r.code)
	assert.Contains(t, r.stderr, "holds 2 subscriptions; --force")
	d.ok("-f", cfgPath, "subs", "export", "--to", "redis", "--force")

	r = d.ctl(Env{}, "subs", "export", "--to", "redis")
	assert.Equal(t, cli.ExitUsage, r.code, "redis needs the config: %s", r.stderr)
	r = d.ctl(Env{}, "subs", "export", "--to", "s3:x")
	assert.Equal(t, cli.ExitUsage, r.code)
}
