package paneldb

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
)

// everyParam is a subscription whose every field with a parameter holds a
// value other than the default.
func everyParam() *subs.Subscription {
	return &subs.Subscription{
		ID: 7, Topic: "order.paid", SubscriberID: 3, URL: "http://a.example/hook\n[T_ENV:qa]http://qa.example/hook",
		TimeoutMS: 1500, Concurrency: 4, RetryConcurrency: 2, IntervalMS: 25, ReceiveBench: true,
		AlertEnabled: false, AlertEmails: "a@example.com,b@example.com", AlertPhones: "123,456", AlertReceiver: "ops",
		AlertIntervalS: 60, AlertFailureWindowS: 120, AlertRetryThreshold: 5, AlertFailureThreshold: 50,
		AlertBacklogThreshold: 1000, DropThreshold: 20000, DropAction: subs.DropLog,
		SigningSecrets: []string{testSecret, "whsec_" + base64.StdEncoding.EncodeToString([]byte("a second key, 24 bytes!!"))},
		CircuitBreaker: subs.BreakerOn, AdaptiveWindow: subs.WindowOn, Filter: `body.status == "paid"`,
	}
}

// testSecret is a valid signing secret.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the signing key of 32 bytes....."))

func rowOf(s *subs.Subscription) row {
	return row{topic: s.Topic, id: s.ID, subscriber: s.SubscriberID, channel: s.URL, timeout: s.TimeoutMS}
}

func TestParamsRoundTrip(t *testing.T) {
	for _, want := range []*subs.Subscription{
		everyParam(),
		{ID: 1, Topic: "t", URL: "http://x/", AlertEnabled: true}, // every default: no row
	} {
		got, unknown, err := build(rowOf(want), ParamsOf(want), subs.Limits{})
		require.NoError(t, err)
		assert.Empty(t, unknown)
		assert.True(t, want.Equal(got), "want %+v\n got %+v", want, got)
	}
	assert.Empty(t, ParamsOf(&subs.Subscription{ID: 1, AlertEnabled: true}), "defaults need no row")
	// Every parameter but the two that override a column has a row.
	assert.Len(t, ParamsOf(everyParam()), len(params)-2)
}

func TestParamsOverrideTheColumns(t *testing.T) {
	s, _, err := build(row{id: 2, topic: "t", channel: "http://column/", timeout: 100},
		[]Param{{ParamReceptionURI, "http://param/"}, {ParamProcessTimeout, " 900 "}}, subs.Limits{})
	require.NoError(t, err)
	assert.Equal(t, "http://param/", s.URL)
	assert.Equal(t, 900, s.TimeoutMS)
}

func TestParamErrorsNameTheParamAndTheSubscription(t *testing.T) {
	_, unknown, err := build(row{id: 9, topic: "t", channel: "http://x/"},
		[]Param{{"Concurrency", "five"}, {"AlerterEnabled", "maybe"}, {"Concurency", "2"}}, subs.Limits{})
	require.ErrorIs(t, err, subs.ErrInvalid)
	assert.Equal(t, []string{"Concurrency", "AlerterEnabled"}, subs.InvalidFields(err))
	assert.Contains(t, err.Error(), `subscription 9: Concurrency = "five": must be an integer`)
	assert.Equal(t, []string{"Concurency"}, unknown)

	// Out of bounds: Validate's keys become the parameter's or the column's.
	_, _, err = build(row{id: 9, topic: "t", channel: "ftp://x/", timeout: 5000},
		[]Param{{"Concurrency", "99"}}, subs.Limits{MaxConcurrency: 10, MaxTimeoutMS: 3000})
	assert.Equal(t, []string{"reception_channel", "timeout", "Concurrency"}, subs.InvalidFields(err))
	_, _, err = build(row{id: 9, topic: "t", channel: "http://x/"},
		[]Param{{ParamReceptionURI, "ftp://x/"}, {ParamProcessTimeout, "5000"}}, subs.Limits{MaxTimeoutMS: 3000})
	assert.Equal(t, []string{ParamReceptionURI, ParamProcessTimeout}, subs.InvalidFields(err))
}

// TestSigningSecretsParam: the secrets are one row, a JSON array; a value
// that is not one names the parameter and never quotes the value.
func TestSigningSecretsParam(t *testing.T) {
	s := &subs.Subscription{ID: 4, Topic: "t", URL: "http://x/", AlertEnabled: true, SigningSecrets: []string{testSecret}}
	assert.Equal(t, []Param{{"SigningSecrets", `["` + testSecret + `"]`}}, ParamsOf(s))
	_, _, err := build(row{id: 4, topic: "t", channel: "http://x/"}, []Param{{"SigningSecrets", testSecret}}, subs.Limits{})
	require.ErrorIs(t, err, subs.ErrInvalid)
	assert.Equal(t, []string{"SigningSecrets"}, subs.InvalidFields(err))
	assert.Contains(t, err.Error(), "must be a JSON array of strings")
	assert.NotContains(t, err.Error(), testSecret[len("whsec_"):])
	// A bad secret in a good array: Validate's key becomes the parameter.
	_, _, err = build(row{id: 4, topic: "t", channel: "http://x/"}, []Param{{"SigningSecrets", `["whsec_c2hvcnQ="]`}}, subs.Limits{})
	assert.Equal(t, []string{"SigningSecrets"}, subs.InvalidFields(err))
	assert.NotContains(t, err.Error(), "c2hvcnQ")
}

// TestCircuitBreakerParam: circuit_breaker is one row when set, none when
// empty (the daemon's default); a value other than on or off names the
// parameter.
func TestCircuitBreakerParam(t *testing.T) {
	checkOnOffParam(t, "CircuitBreaker", func(s *subs.Subscription) *string { return &s.CircuitBreaker })
}

// TestAdaptiveWindowParam: adaptive_window likewise.
func TestAdaptiveWindowParam(t *testing.T) {
	checkOnOffParam(t, "AdaptiveWindow", func(s *subs.Subscription) *string { return &s.AdaptiveWindow })
}

// TestFilterParam: a content filter is stored as the parameter Filter,
// and a bad expression read back makes the subscription invalid (its
// last good version stays).
func TestFilterParam(t *testing.T) {
	s := &subs.Subscription{ID: 4, Topic: "t", URL: "http://x/", AlertEnabled: true, Filter: `body.amount > 100`}
	assert.Equal(t, []Param{{"Filter", `body.amount > 100`}}, ParamsOf(s))
	got, _, err := build(row{id: 4, topic: "t", channel: "http://x/"}, []Param{{"Filter", `sender == "shop"`}}, subs.Limits{})
	require.NoError(t, err)
	assert.Equal(t, `sender == "shop"`, got.Filter)
	_, _, err = build(row{id: 4, topic: "t", channel: "http://x/"}, []Param{{"Filter", `body.amount >`}}, subs.Limits{})
	require.ErrorIs(t, err, subs.ErrInvalid)
	assert.Equal(t, []string{"Filter"}, subs.InvalidFields(err), "the error names the parameter")
}

func checkOnOffParam(t *testing.T, name string, field func(*subs.Subscription) *string) {
	t.Helper()
	s := &subs.Subscription{ID: 4, Topic: "t", URL: "http://x/", AlertEnabled: true}
	*field(s) = "off"
	assert.Equal(t, []Param{{name, "off"}}, ParamsOf(s))
	*field(s) = ""
	assert.Empty(t, ParamsOf(s))
	_, _, err := build(row{id: 4, topic: "t", channel: "http://x/"}, []Param{{name, "maybe"}}, subs.Limits{})
	require.ErrorIs(t, err, subs.ErrInvalid)
	assert.Equal(t, []string{name}, subs.InvalidFields(err))
}
