package stats

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// TestHandoffsInTheJSON: with WithHandoffs each subscription the engine
// runs carries its direct and spilled copies and the direct share; one the
// engine does not know carries none.
func TestHandoffsInTheJSON(t *testing.T) {
	known := map[int64][2]uint64{1: {3, 1}, 2: {0, 0}}
	s := New(WithHandoffs(func(id int64) (uint64, uint64, bool) {
		h, ok := known[id]
		return h[0], h[1], ok
	}))
	for id, topic := range map[int64]string{1: "orders", 2: "orders", 3: "users"} {
		s.Sub(id, topic).Push(true, false)
	}
	status, body, _ := get(t, fasthttp.MethodGet, serve(t, s.Handler())+"/")
	require.Equal(t, fasthttp.StatusOK, status, string(body))

	var doc struct {
		Subscriptions []map[string]json.RawMessage `json:"subscriptions"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Len(t, doc.Subscriptions, 3)
	assert.JSONEq(t, `{"direct":3,"spilled":1,"direct_share":0.75}`, string(doc.Subscriptions[0]["handoffs"]))
	assert.JSONEq(t, `{"direct":0,"spilled":0,"direct_share":0}`, string(doc.Subscriptions[1]["handoffs"]))
	assert.NotContains(t, doc.Subscriptions[2], "handoffs")

	var snap Snapshot
	require.NoError(t, json.Unmarshal(body, &snap))
	assert.Equal(t, &Handoffs{Direct: 3, Spilled: 1, DirectShare: 0.75}, snap.Subscriptions[0].Handoffs)
}

// TestNoHandoffsWithoutTheFunc: a Stats without WithHandoffs shows none.
func TestNoHandoffsWithoutTheFunc(t *testing.T) {
	s := New()
	s.Sub(1, "orders").Push(true, false)
	assert.Nil(t, s.Snapshot().Subscriptions[0].Handoffs)
}
