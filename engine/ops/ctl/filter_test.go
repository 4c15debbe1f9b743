package ctl

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSubShowsFilter: get shows the filter setting and its counts; set
// takes an expression holding "=" whole (only the first one splits).
func TestSubShowsFilter(t *testing.T) {
	v := windowView(5, "http://x/", "on", nil)
	v.Filter = `body.status == "paid"`
	v.Filtered, v.FilterErrors = 12, 3
	var b bytes.Buffer
	require.NoError(t, printSubView(&b, v))
	require.Regexp(t, `(?m)^filter +body.status == "paid"\s*$`, b.String())
	require.Regexp(t, `(?m)^filtered +12 +3 filter errors \(delivered\)\s*$`, b.String())

	patch, err := subSchema.parse([]string{`filter=body.status == "paid" && sender == "shop"`})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"filter": `body.status == "paid" && sender == "shop"`}, patch)
}
