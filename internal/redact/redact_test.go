package redact

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://hooks.example/orders?x=1", "http://hooks.example/orders?x=1"},
		{"https://user:hunter2@hooks.example/p?q#f", "https://user:xxxxx@hooks.example/p?q#f"},
		{"https://tok3n@hooks.example", "https://xxxxx@hooks.example"},
		{"https://user:@hooks.example/", "https://user:xxxxx@hooks.example/"},
		{"http://@hooks.example/", "http://@hooks.example/"},
		{"http://u:p@ss;w,'rd@h:8080/x@y", "http://u:xxxxx@h:8080/x@y"},
		{"mail ops@example.com about http://h/", "mail ops@example.com about http://h/"},
		{"http://a:1@h/\n[T_ENV:qa]https://b:2@h2/p\nhttp://h3/", "http://a:xxxxx@h/\n[T_ENV:qa]https://b:xxxxx@h2/p\nhttp://h3/"},
		{`connection: push to "http://a:s3cret@10.0.0.1:80/x": dial tcp`, `connection: push to "http://a:xxxxx@10.0.0.1:80/x": dial tcp`},
		{"http://u:xxxxx@h/", "http://u:xxxxx@h/"},
		{"", ""},
	} {
		got := URL(c.in)
		assert.Equal(t, c.want, got, "URL(%q)", c.in)
		assert.Equal(t, c.want, URL(got), "masking twice changes nothing")
		assert.NotContains(t, got, "hunter2")
	}
	// Where net/url can parse it, the password is masked as Redacted does.
	u, err := url.Parse("https://user:pa%40ss@h/p")
	require.NoError(t, err)
	assert.Equal(t, u.Redacted(), URL("https://user:pa%40ss@h/p"))
}

// TestURLNoAlloc: the DATA log calls URL per push; a URL without userinfo
// costs no allocation, with or without an '@' elsewhere.
func TestURLNoAlloc(t *testing.T) {
	for _, s := range []string{"http://hooks.example/orders?jobid=1", "http://hooks.example/p?mail=a@b"} {
		n := testing.AllocsPerRun(100, func() { _ = URL(s) })
		assert.Zero(t, n, s)
	}
}

func TestMaskedUnmask(t *testing.T) {
	cur := "http://a:one@h1/x\n[T_ENV:qa]https://tok@h2/y\nhttp://h3/z"
	shown := URL(cur)
	require.True(t, Masked(shown))
	assert.False(t, Masked(cur))

	// Sent back as shown: every secret kept.
	got, ok := Unmask(shown, cur)
	assert.True(t, ok)
	assert.Equal(t, cur, got)

	// One line edited, the others as shown: the edit stays, the rest is
	// restored.
	edited := "http://a:xxxxx@h1/x\nhttp://new:pw@h4/\n[T_ENV:qa]https://xxxxx@h2/y"
	got, ok = Unmask(edited, cur)
	assert.True(t, ok)
	assert.Equal(t, "http://a:one@h1/x\nhttp://new:pw@h4/\n[T_ENV:qa]https://tok@h2/y", got)

	// A masked URL the current field does not hold cannot be restored.
	_, ok = Unmask("http://a:xxxxx@other/x", cur)
	assert.False(t, ok)

	// Nothing masked: unchanged.
	got, ok = Unmask("http://h9/", cur)
	assert.True(t, ok)
	assert.Equal(t, "http://h9/", got)
}

func TestSecretKey(t *testing.T) {
	for _, k := range []string{"AdminToken", "Redis.Password", "AlerterEmail.Password", "X.client_secret", "PostFieldsMap.API_KEY", "x.PASSWD"} {
		assert.True(t, SecretKey(k), k)
	}
	for _, k := range []string{"Redis.Addr", "Password.Addr", "AlerterEmail.User", "Redis.KeyPrefix", "", "LogDir"} {
		assert.False(t, SecretKey(k), k)
	}
}

func TestSecrets(t *testing.T) {
	assert.Nil(t, Secrets(nil))
	assert.Nil(t, Secrets([]string{}))
	got := Secrets([]string{"whsec_AAAA", "whsec_BBBB"})
	assert.Equal(t, []string{"whsec_xxxxx", "whsec_xxxxx"}, got)
	assert.True(t, SecretsMasked(got))
	assert.True(t, SecretsMasked([]string{"whsec_new", SecretMask}))
	assert.False(t, SecretsMasked([]string{"whsec_AAAA"}))
	assert.False(t, SecretsMasked(nil))
}
