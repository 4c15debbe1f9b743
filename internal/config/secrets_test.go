package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSyntaxErrorHidesSecretValues: a configuration error quotes the lines
// around it, but never the value of a secret key, whichever section it is
// in and whatever the parser's message would quote of it.
func TestSyntaxErrorHidesSecretValues(t *testing.T) {
	for _, tc := range []struct {
		name, body, secret string
		shown              []string // still quoted, so the operator finds the line
	}{
		{"unterminated Redis.Password", "[Redis]\nAddr = \"127.0.0.1:6379\"\nPassword = \"hunter2\n", "hunter2",
			[]string{`Addr = "127.0.0.1:6379"`, "Password = (hidden)", ":3:"}},
		{"AlerterEmail.Password, error on the next line", "[AlerterEmail]\nPassword = \"hunter2\"\nUser = = 1\n", "hunter2",
			[]string{"Password = (hidden)", "User = = 1", "expected value but found '='"}},
		{"AdminToken out of range", "AdminToken = 987654321987654321987654321\n", "987654321987654321987654321",
			[]string{"AdminToken = (hidden)", "out of range"}},
		{"bad escape in a token", "ListenAddr = \"127.0.0.1:5601\"\nAdminToken = \"abc\\qdefghijklmnop\"\n", `\q`,
			[]string{"AdminToken = (hidden)", `ListenAddr = "127.0.0.1:5601"`, "invalid escape"}},
		{"quoted key, lower case", "[Redis]\n\"password\" = 'hunter2\n", "hunter2", []string{`"password" = (hidden)`}},
		{"inline table", "Redis = { Addr = \"h:1\", Password = \"hunter2\" \nx = 1\n", "hunter2", []string{"Password = (hidden)"}},
		{"custom secret key", "[AlarmPlatform.PostFieldsMap]\napi_secret = \"hunter2\nx = 1\n", "hunter2", []string{"api_secret = (hidden)"}},
		{"unterminated multi-line secret", "[Redis]\nPassword = \"\"\"hunter2\nand-more-secret\n", "more-secret",
			[]string{"Password = (hidden)", "unexpected EOF"}},
		{"userinfo of a gateway", "[AlerterSms]\nGateway = \"https://sms:hunter2@gw.example/send\nx = 1\n", "hunter2",
			[]string{"https://sms:xxxxx@gw.example/send"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(writeConfig(t, tc.body))
			require.Error(t, err)
			msg := err.Error()
			assert.NotContains(t, msg, tc.secret)
			if tc.secret == "hunter2" {
				assert.NotContains(t, msg, "hunter")
			}
			for _, s := range tc.shown {
				assert.Contains(t, msg, s)
			}
		})
	}
}

// TestTypeErrorHidesSecretValue: a value of the wrong type for a secret key
// is named by key and line, not shown.
func TestTypeErrorHidesSecretValue(t *testing.T) {
	_, _, err := Load(writeConfig(t, "[Redis]\nPassword = 4242424242\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Redis.Password")
	assert.Contains(t, err.Error(), "line 2")
	assert.NotContains(t, err.Error(), "4242424242")
}

// TestFieldErrorHidesSecrets: a FieldError on a secret key shows
// "(hidden)"; any other value shows URLs without their userinfo.
func TestFieldErrorHidesSecrets(t *testing.T) {
	for _, key := range []string{"AdminToken", "Redis.Password", "AlerterEmail.Password", "X.ClientSecret"} {
		e := &FieldError{Key: key, Value: "hunter2", Want: "something"}
		assert.Equal(t, key+" = (hidden): want something", e.Error())
	}
	e := &FieldError{Key: "AlerterEmail.Gateway", Value: "smtp://mail:hunter2@mx.example:bad", Want: "w",
		Detail: `parse "smtp://mail:hunter2@mx.example:bad": invalid port`}
	assert.NotContains(t, e.Error(), "hunter2")
	assert.Contains(t, e.Error(), `"smtp://mail:xxxxx@mx.example:bad"`)

	// Through Load: an invalid gateway URL with a password.
	_, _, err := Load(writeConfig(t, "[AlerterEmail]\nGateway = \"smtp://mail:hunter2@mx.example:bad\"\nPassword = \"hunter2\"\n"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "AlerterEmail.Gateway")
	assert.NotContains(t, err.Error(), "hunter2")
}
