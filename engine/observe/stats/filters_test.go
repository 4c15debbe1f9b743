package stats

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFiltersInTheJSON: with WithFilters each subscription the engine
// runs carries its filtered and filter_errors counts; one it does not
// know, and every one without the func, carries none.
func TestFiltersInTheJSON(t *testing.T) {
	known := map[int64][2]uint64{1: {7, 2}}
	s := New(WithFilters(func(id int64) (uint64, uint64, bool) {
		c, ok := known[id]
		return c[0], c[1], ok
	}))
	s.Sub(1, "orders").Push(true, false)
	s.Sub(2, "orders").Push(true, false)
	body, err := json.Marshal(s.Snapshot())
	require.NoError(t, err)
	var doc struct {
		Subscriptions []map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Len(t, doc.Subscriptions, 2)
	assert.JSONEq(t, `7`, string(doc.Subscriptions[0]["filtered"]))
	assert.JSONEq(t, `2`, string(doc.Subscriptions[0]["filter_errors"]))
	assert.NotContains(t, doc.Subscriptions[1], "filtered")
	assert.NotContains(t, doc.Subscriptions[1], "filter_errors")

	plain := New()
	plain.Sub(1, "orders").Push(true, false)
	st := plain.Snapshot().Subscriptions[0]
	assert.Nil(t, st.Filtered)
	assert.Nil(t, st.FilterErrors)
}
