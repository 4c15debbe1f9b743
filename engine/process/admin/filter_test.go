package admin_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/admin"
	"medispatcher/internal/testsrv"
)

// TestContentFilterInTheAPI: filter is a subscription setting of the API;
// a bad expression is refused with 422 naming the key and the position,
// an accepted one shows in the view, and the counts of what it left out
// or failed on show in the view and the overview.
func TestContentFilterInTheAPI(t *testing.T) {
	r := start(t, "")
	e := r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 51, "topic": "flt", "url": r.sub.URL + "/x",
		"filter": "body.i >= "}, 422, admin.CodeInvalid)
	require.Len(t, e.Error.Details, 1)
	require.Equal(t, "filter", e.Error.Details[0].Field)
	require.Contains(t, e.Error.Details[0].Allowed, "column 10: unexpected token EOF")

	ch := r.create(51, "flt", "/half", map[string]any{"filter": "body.i >= 5"})
	require.Equal(t, "body.i >= 5", ch.Subscription.Filter)
	r.create(52, "flt", "/failing", map[string]any{"filter": "body.nope > 1"})
	r.create(53, "flt", "/all", nil)

	r.produce("flt", 10)
	r.sub.WaitFor(20*time.Second, "5 + 10 + 10 pushes", func(h []testsrv.Hit) bool { return len(h) >= 25 })
	var v adminapi.SubView
	require.Eventually(t, func() bool {
		r.call("GET", "/api/v1/subscriptions/51", token, nil, &v)
		return v.Filtered == 5
	}, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, v.FilterErrors)
	var ov adminapi.Overview
	require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &ov))
	got := map[int64][2]uint64{}
	for _, s := range ov.Subscriptions {
		got[s.ID] = [2]uint64{s.Filtered, s.FilterErrors}
	}
	require.Equal(t, map[int64][2]uint64{51: {5, 0}, 52: {0, 10}, 53: {0, 0}}, got)
	paths := map[string]int{}
	for _, h := range r.sub.Hits() {
		paths[h.Path]++
	}
	require.Equal(t, map[string]int{"/half": 5, "/failing": 10, "/all": 10}, paths)
}
