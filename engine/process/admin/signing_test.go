package admin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/admin"
)

// TestSigningSecretsMasked: the API shows signing secrets only as
// "whsec_xxxxx" each (one subscription, the list, a change's answer), the
// overview, the status page and the statistics API show nothing of them,
// and only the token-gated export (?secrets=1) reads them. Sending back
// what GET showed keeps them; a mask that is not exactly that is refused,
// as is a bad secret, without echoing any value.
func TestSigningSecretsMasked(t *testing.T) {
	r := start(t, "")
	key := func(s string) string { return "whsec_" + base64.StdEncoding.EncodeToString([]byte(s)) }
	one, two := key("the first signing key, 32 bytes!"), key("the second signing key: 32 bytes")
	hidden := []string{one[len("whsec_"):], two[len("whsec_"):]}
	masked := []string{"whsec_xxxxx", "whsec_xxxxx"}
	stored := func() []string {
		raw, err := r.redis.Do(context.Background(), r.redis.B().Hget().Key(subs.RedisHashKey(r.cfg.Redis.KeyPrefix)).Field("21").Build()).ToString()
		require.NoError(t, err)
		var s subs.Subscription
		require.NoError(t, json.Unmarshal([]byte(raw), &s))
		return s.SigningSecrets
	}
	noSecret := func(what, text string) {
		t.Helper()
		for _, h := range hidden {
			assert.NotContains(t, text, h, "%s shows a secret", what)
		}
	}

	ch := r.create(21, "signed", "/hook", map[string]any{"signing_secrets": []string{one, two}})
	assert.Equal(t, masked, ch.Subscription.SigningSecrets)
	assert.Equal(t, []string{one, two}, stored())
	var (
		got                adminapi.SubView
		listed, exportList adminapi.SubList
	)
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions/21", token, nil, &got))
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions", token, nil, &listed))
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions?secrets=1", token, nil, &exportList))
	require.Len(t, listed.Subscriptions, 1)
	require.Len(t, exportList.Subscriptions, 1)
	assert.Equal(t, [][]string{masked, masked, {one, two}},
		[][]string{got.SigningSecrets, listed.Subscriptions[0].SigningSecrets, exportList.Subscriptions[0].SigningSecrets},
		"masked in one and in the list; the export reads them")

	for _, path := range []string{"/api/v1/subscriptions/21", "/api/v1/subscriptions", "/api/v1/overview"} {
		var raw json.RawMessage
		require.Equal(t, 200, r.call("GET", path, token, nil, &raw))
		noSecret(path, string(raw))
	}
	noSecret("the status page", r.scrape(r.api+"/status"))
	noSecret("the statistics API", r.scrape(r.stat+"/"))

	// PUT what GET showed, one setting changed: the secrets are kept.
	body := map[string]any{"topic": "signed", "url": got.URL, "concurrency": 2, "signing_secrets": got.SigningSecrets}
	require.Equal(t, 200, r.call("PUT", "/api/v1/subscriptions/21", token, body, &ch))
	assert.True(t, ch.Applied)
	assert.Equal(t, []string{one, two}, stored())
	// PATCH of another key keeps them too; PATCH of the secrets rotates.
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/21", token, map[string]any{"concurrency": 3}, &ch))
	assert.Equal(t, []string{one, two}, stored())
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/21", token, map[string]any{"signing_secrets": []string{two}}, &ch))
	assert.Equal(t, []string{"whsec_xxxxx"}, ch.Subscription.SigningSecrets)
	assert.Equal(t, []string{two}, stored())

	// A mask that is not what GET shows would store "xxxxx": refused.
	e := r.fail("PATCH", "/api/v1/subscriptions/21", token, map[string]any{"signing_secrets": []string{one, "whsec_xxxxx"}}, 422, admin.CodeInvalid)
	require.Len(t, e.Error.Details, 1)
	assert.Equal(t, "signing_secrets", e.Error.Details[0].Field)
	r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 22, "topic": "signed", "url": r.sub.URL, "signing_secrets": masked}, 422, admin.CodeInvalid)
	// A bad secret: 422 naming the field, never the value.
	var answer json.RawMessage
	require.Equal(t, 422, r.call("PATCH", "/api/v1/subscriptions/21", token, map[string]any{"signing_secrets": []string{two, "whsec_c2hvcnQ="}}, &answer))
	raw := string(answer)
	assert.Contains(t, raw, `"field": "signing_secrets"`)
	assert.Contains(t, raw, "its key is 5 bytes")
	assert.NotContains(t, raw, "c2hvcnQ")
	noSecret("an error", raw)
	assert.Equal(t, []string{two}, stored())
	noSecret("the log", r.logs.String())
}
