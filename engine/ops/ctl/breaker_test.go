package ctl

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
)

// TestSubsShowBreaker: the list has a BREAKER column (the state, "off"
// when the breaker counts nothing, "-" from a daemon that does not tell);
// get shows the circuit_breaker setting, its effective value and the
// state.
func TestSubsShowBreaker(t *testing.T) {
	s := &adminapi.Subscription{ID: 5, Topic: "t", URL: "http://x/", CircuitBreaker: "on"}
	views := []*adminapi.SubView{
		{Subscription: s, Breaker: "open", Effective: adminapi.Effective{CircuitBreaker: "on"}},
		{Subscription: &adminapi.Subscription{ID: 6, Topic: "t", URL: "http://y/"}, Breaker: "closed",
			Effective: adminapi.Effective{CircuitBreaker: "off"}},
		{Subscription: &adminapi.Subscription{ID: 7, Topic: "t", URL: "http://z/"}},
	}
	var b bytes.Buffer
	require.NoError(t, printSubList(&b, &adminapi.SubList{Subscriptions: views}))
	out := b.String()
	assert.Contains(t, out, "BREAKER")
	assert.Regexp(t, `(?m)^5 .* open +http://x/$`, out)
	assert.Regexp(t, `(?m)^6 .* off +http://y/$`, out)
	assert.Regexp(t, `(?m)^7 .* - +http://z/$`, out)

	b.Reset()
	require.NoError(t, printSubView(&b, views[0]))
	assert.Regexp(t, `(?m)^circuit_breaker +on +on\s*$`, b.String())
	assert.Regexp(t, `(?m)^breaker state +open\s*$`, b.String())
}
