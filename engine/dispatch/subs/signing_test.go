package subs

import (
	"context"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// secretOf is the whsec_ form of an n-byte key filled with b.
func secretOf(n int, b byte) string {
	return SigningSecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), n)))
}

func TestValidateSigningSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		reason  string // "" = valid
	}{
		{"none", nil, ""},
		{"empty list", []string{}, ""},
		{"shortest key", []string{secretOf(MinSigningKey, 'a')}, ""},
		{"longest key, and a second", []string{secretOf(MaxSigningKey, 'b'), secretOf(32, 'c')}, ""},
		{"no prefix", []string{strings.TrimPrefix(secretOf(32, 'd'), SigningSecretPrefix)}, `does not start with "whsec_"`},
		{"not base64", []string{SigningSecretPrefix + "not*base64!!"}, "not standard base64"},
		{"url-safe base64", []string{SigningSecretPrefix + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 30)))}, "not standard base64"},
		{"key too short", []string{secretOf(MinSigningKey-1, 'e')}, "its key is 23 bytes"},
		{"key too long", []string{secretOf(MaxSigningKey+1, 'f')}, "its key is 65 bytes"},
		{"second of two", []string{secretOf(32, 'g'), secretOf(8, 'h')}, "secret 2 of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sub(1, "t")
			s.SigningSecrets = tt.secrets
			err := s.Validate(testLimits)
			if tt.reason == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, []string{"signing_secrets"}, InvalidFields(err))
			assert.Contains(t, err.Error(), tt.reason)
			for _, secret := range tt.secrets {
				rest := strings.TrimPrefix(secret, SigningSecretPrefix)
				assert.NotContains(t, err.Error(), rest, "the error shows a secret")
			}
		})
	}
}

// TestSetParsesSigningKeys: a Set holds each subscription's keys, decoded
// once, in the configured order; a subscription without secrets has none.
func TestSetParsesSigningKeys(t *testing.T) {
	signed := sub(1, "t")
	signed.SigningSecrets = []string{secretOf(32, 'k'), secretOf(24, 'l')}
	set := NewSet([]*Subscription{signed, sub(2, "t")})
	keys := set.ByID(1).SigningKeys()
	require.Len(t, keys, 2)
	assert.Equal(t, []byte(strings.Repeat("k", 32)), keys[0])
	assert.Equal(t, []byte(strings.Repeat("l", 24)), keys[1])
	assert.Nil(t, set.ByID(2).SigningKeys())
	assert.Nil(t, signed.SigningKeys(), "the caller's copy is left untouched")
}

// TestEqualSeesSigningSecrets: a change of secrets is a change of
// settings (the dispatcher applies it live); no secrets and an empty list
// are the same.
func TestEqualSeesSigningSecrets(t *testing.T) {
	a, b := sub(1, "t"), sub(1, "t")
	b.SigningSecrets = []string{}
	assert.True(t, a.Equal(b))
	b.SigningSecrets = []string{secretOf(32, 'a')}
	assert.False(t, a.Equal(b))
	a.SigningSecrets = []string{secretOf(32, 'a')}
	assert.True(t, a.Equal(b))
	b.SigningSecrets = append(b.SigningSecrets, secretOf(32, 'b'))
	assert.False(t, a.Equal(b), "a secret added for rotation")
	a.SigningSecrets = []string{secretOf(32, 'b'), secretOf(32, 'a')}
	assert.False(t, a.Equal(b), "the order is part of the setting")
	assert.True(t, NewSet([]*Subscription{b}).ByID(1).Equal(b), "the parsed keys are not a setting")
}

// TestFileSourceSigningSecrets: the file's signing_secrets decode; a bad
// secret keeps the last good version.
func TestFileSourceSigningSecrets(t *testing.T) {
	checkSigningSecretsHeld(t, fileSourceOf(t))
}

// TestRedisSourceSigningSecrets: the JSON entry's signing_secrets decode;
// a bad secret keeps the last good version.
func TestRedisSourceSigningSecrets(t *testing.T) {
	checkSigningSecretsHeld(t, redisSourceOf(t, "{signing}"))
}

// testSource makes a source (newSrc) and writes subscriptions where it
// reads them (write).
type testSource struct {
	newSrc func(*slog.Logger) hookedSource
	write  func(list ...*Subscription)
}

// fileSourceOf is a file source on a file of its own.
func fileSourceOf(t *testing.T) testSource {
	path := filepath.Join(t.TempDir(), "subs.toml")
	return testSource{
		newSrc: func(log *slog.Logger) hookedSource { return NewFileSource(path, testLimits, log) },
		write:  func(list ...*Subscription) { require.NoError(t, WriteFile(path, list)) },
	}
}

// redisSourceOf is a Redis source on a Redis server of its own.
func redisSourceOf(t *testing.T, prefix string) testSource {
	srv := testsrv.StartRedis(t)
	c := newRedisClient(t, srv.Addr)
	return testSource{
		newSrc: func(log *slog.Logger) hookedSource {
			return NewRedisSource(newRedisClient(t, srv.Addr), prefix, testLimits, log)
		},
		write: func(list ...*Subscription) {
			for _, s := range list {
				require.NoError(t, RedisPut(context.Background(), c, prefix, s))
			}
		},
	}
}

// hookedSource is a source taking Options.
type hookedSource interface {
	Source
	SetOptions(Options)
}

// checkSigningSecretsHeld writes (with write) a subscription with two
// secrets and runs the source newSrc makes: the set holds the secrets and
// their keys. Then it writes a version whose second secret is bad, with a
// new subscription 2: the first keeps its good version, and the hook and
// the log name signing_secrets, never a secret.
func checkSigningSecretsHeld(t *testing.T, ts testSource) {
	t.Helper()
	newSrc, write := ts.newSrc, ts.write
	good := sub(1, "order_paid")
	good.SigningSecrets = []string{secretOf(32, 'r'), secretOf(48, 's')}
	write(good)
	log, logs := testLogger()
	src := newSrc(log)
	opts, calls := hookCalls("")
	src.SetOptions(opts)
	sets := runSource(t, src)
	s := waitSet(t, sets, "the signed subscription", hasIDs(1))
	assert.Equal(t, good.SigningSecrets, s.ByID(1).SigningSecrets)
	assert.Len(t, s.ByID(1).SigningKeys(), 2)

	const tooShort = "dG9vc2hvcnQ=" // "tooshort"
	bad := *good
	bad.SigningSecrets = []string{good.SigningSecrets[0], SigningSecretPrefix + tooShort}
	write(&bad, sub(2, "b"))
	call := nextCall(t, calls)
	assert.Equal(t, invalidCall{id: 1, held: true, fields: []string{"signing_secrets"}}, invalidCall{id: call.id, held: call.held, fields: call.fields})
	assert.Contains(t, call.err.Error(), "its key is 8 bytes")
	s = waitSet(t, sets, "2 added", hasIDs(1, 2))
	assert.True(t, s.ByID(1).Equal(good), "1 keeps its last good secrets")
	waitLog(t, logs, "fields=signing_secrets")
	for _, secret := range append(bad.SigningSecrets, good.SigningSecrets...) {
		assert.NotContains(t, logs.String(), strings.TrimPrefix(secret, SigningSecretPrefix))
		assert.NotContains(t, call.err.Error(), strings.TrimPrefix(secret, SigningSecretPrefix))
	}
}
