package ctl

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
)

// TestSubsShowWindow: the list has a WINDOW column (channel/retry windows,
// "off" when they are the fixed concurrency, "-" from a daemon that does
// not tell); get shows the adaptive_window setting, its effective value
// and the windows.
func TestSubsShowWindow(t *testing.T) {
	s := &adminapi.Subscription{ID: 5, Topic: "t", URL: "http://x/", AdaptiveWindow: "on"}
	views := []*adminapi.SubView{
		{Subscription: s, Window: &adminapi.PushWindow{Channel: 3, Retry: 1}, Effective: adminapi.Effective{AdaptiveWindow: "on"}},
		{Subscription: &adminapi.Subscription{ID: 6, Topic: "t", URL: "http://y/"}, Window: &adminapi.PushWindow{Channel: 5, Retry: 2},
			Effective: adminapi.Effective{AdaptiveWindow: "off"}},
		{Subscription: &adminapi.Subscription{ID: 7, Topic: "t", URL: "http://z/"}},
	}
	var b bytes.Buffer
	require.NoError(t, printSubList(&b, &adminapi.SubList{Subscriptions: views}))
	out := b.String()
	assert.Regexp(t, `(?m)^ID .* WINDOW +BREAKER +URL$`, out)
	assert.Regexp(t, `(?m)^5 .* 3/1 +- +http://x/$`, out)
	assert.Regexp(t, `(?m)^6 .* off +- +http://y/$`, out)
	assert.Regexp(t, `(?m)^7 .* - +- +http://z/$`, out)

	b.Reset()
	require.NoError(t, printSubView(&b, views[0]))
	assert.Regexp(t, `(?m)^adaptive_window +on +on\s*$`, b.String())
	assert.Regexp(t, `(?m)^push window +3/1 +channel/retry\s*$`, b.String())
}
