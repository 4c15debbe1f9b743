package ctl

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
)

// TestSubsShowWindow: the list has a WINDOW column (channel/retry windows,
// "off" when they are the fixed concurrency, "-" from a daemon that does
// not tell); get shows the adaptive_window setting, its effective value
// and the windows.
func TestSubsShowWindow(t *testing.T) {
	views := []*adminapi.SubView{
		windowView(5, "http://x/", "on", &adminapi.PushWindow{Channel: 3, Retry: 1}),
		windowView(6, "http://y/", "off", &adminapi.PushWindow{Channel: 5, Retry: 2}),
		windowView(7, "http://z/", "", nil),
	}
	views[0].AdaptiveWindow = "on"
	var b bytes.Buffer
	require.NoError(t, printSubList(&b, &adminapi.SubList{Subscriptions: views}))
	out := b.String()
	require.Regexp(t, `(?m)^ID .* WINDOW +BREAKER +URL$`, out)
	require.Regexp(t, `(?m)^5 .* 3/1 +- +http://x/$`, out)
	require.Regexp(t, `(?m)^6 .* off +- +http://y/$`, out)
	require.Regexp(t, `(?m)^7 .* - +- +http://z/$`, out)

	b.Reset()
	require.NoError(t, printSubView(&b, views[0]))
	require.Regexp(t, `(?m)^adaptive_window +on +on\s*$`, b.String())
	require.Regexp(t, `(?m)^push window +3/1 +channel/retry\s*$`, b.String())
}

// windowView is subscription id's view with its effective adaptive_window
// and its windows (nil: a daemon that does not tell).
func windowView(id int64, url, effective string, w *adminapi.PushWindow) *adminapi.SubView {
	return &adminapi.SubView{Subscription: &adminapi.Subscription{ID: id, Topic: "t", URL: url}, Window: w,
		Effective: adminapi.Effective{AdaptiveWindow: effective}}
}
