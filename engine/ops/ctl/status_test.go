package ctl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
)

// TestStatusDirectShare: DIRECT% is the overview's direct share, "-"
// for a subscription without copies yet; the first line says whether
// cut-through is on.
func TestStatusDirectShare(t *testing.T) {
	var out strings.Builder
	o := &adminapi.Overview{Version: "1.2.3", UptimeS: 61, CutThrough: true, Subscriptions: []adminapi.SubOverview{
		{ID: 1, Topic: "orders", Direct: 3, Spilled: 1, DirectShare: 0.75},
		{ID: 2, Topic: "users"},
		{ID: 3, Topic: "billing", Spilled: 4},
	}}
	require.NoError(t, printStatus(&runner{env: Env{Stdout: &out}}, o))
	assert.Contains(t, out.String(), "medispatcher 1.2.3, up 1m1s, cut-through on\n")
	assert.Regexp(t, `(?m)^ID\s+TOPIC\s+CONC\s+RATE/S\s+PUSH_1M\s+FAIL_1M\s+FAIL%\s+DIRECT%\s+READY\s`, out.String())
	assert.Regexp(t, `(?m)^1\s+orders\s+0/0\s+0\s+0\s+0\s+0\.0%\s+75\.0%\s+0\s`, out.String())
	assert.Regexp(t, `(?m)^2\s+users\s+0/0\s+0\s+0\s+0\s+0\.0%\s+-\s+0\s`, out.String())
	assert.Regexp(t, `(?m)^3\s+billing\s+0/0\s+0\s+0\s+0\s+0\.0%\s+0\.0%\s+0\s`, out.String())

	out.Reset()
	o.CutThrough = false
	require.NoError(t, printStatus(&runner{env: Env{Stdout: &out}}, o))
	assert.Contains(t, out.String(), ", cut-through off\n")
}
