package ctl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
)

// TestOutputMasksUserinfo: medictl's tables mask URL userinfo even when a
// daemon (an older one) sends it unmasked.
func TestOutputMasksUserinfo(t *testing.T) {
	s := &adminapi.Subscription{ID: 3, Topic: "t", URL: "http://user:hunter2@h/a\n[T_ENV:qa]https://tok3n@h/b"}
	var b strings.Builder
	require.NoError(t, printSubList(&b, &adminapi.SubList{Subscriptions: []*adminapi.SubView{{Subscription: s}}}))
	assert.Contains(t, b.String(), "http://user:xxxxx@h/a")
	b.Reset()
	require.NoError(t, printSubView(&b, &adminapi.SubView{Subscription: s}))
	assert.Contains(t, b.String(), "http://user:xxxxx@h/a")
	assert.Contains(t, b.String(), "[T_ENV:qa]https://xxxxx@h/b")
	assert.NotContains(t, b.String(), "hunter2")
	assert.NotContains(t, b.String(), "tok3n")
}

// TestOutputMasksSigningSecrets: "sub get" and a change's answer show
// each signing secret as whsec_xxxxx, whatever the daemon sent.
func TestOutputMasksSigningSecrets(t *testing.T) {
	s := &adminapi.Subscription{ID: 3, Topic: "t", URL: "http://h/a", SigningSecrets: []string{"whsec_c2VjcmV0LW9uZQ==", "whsec_c2VjcmV0LXR3bw=="}}
	var b strings.Builder
	require.NoError(t, printSubView(&b, &adminapi.SubView{Subscription: s}))
	assert.Regexp(t, `signing_secrets +whsec_xxxxx whsec_xxxxx`, b.String())
	b.Reset()
	require.NoError(t, printChanged(&b, "stored", &adminapi.Changed{Subscription: &adminapi.SubView{Subscription: s}}, []string{"signing_secrets"}))
	assert.Contains(t, b.String(), "whsec_xxxxx whsec_xxxxx")
	b.Reset()
	require.NoError(t, printSubList(&b, &adminapi.SubList{Subscriptions: []*adminapi.SubView{{Subscription: s}}}))
	assert.NotContains(t, b.String(), "whsec_c2V")
}
