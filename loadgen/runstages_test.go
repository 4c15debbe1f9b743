package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stageText is a daemon's stage histogram with fast observations at or
// under 1 ms (push) or 2 ms (total) and slow ones above, at or under 5 ms
// (push) or 10 ms (total), among its other metrics.
func stageText(fast, slow int) string {
	var b strings.Builder
	b.WriteString("# TYPE medispatcher_pushes_total counter\nmedispatcher_pushes_total 12345\n")
	for _, s := range []struct{ stage, fastLE, slowLE string }{{"push", "0.001", "0.005"}, {"total", "0.002", "0.01"}} {
		fmt.Fprintf(&b, "medispatcher_stage_seconds_bucket{stage=%q,le=%q} %d\n", s.stage, s.fastLE, fast)
		fmt.Fprintf(&b, "medispatcher_stage_seconds_bucket{stage=%q,le=%q} %d\n", s.stage, s.slowLE, fast+slow)
		fmt.Fprintf(&b, "medispatcher_stage_seconds_bucket{stage=%q,le=\"+Inf\"} %d\n", s.stage, fast+slow)
	}
	return b.String()
}

// The daemon's /metrics read before and after the run: the report holds
// the difference, in its text right after the latency line and in its JSON.
func TestRunReportsDaemonStages(t *testing.T) {
	var hits atomic.Int64
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		text := stageText(987, 23) // after: 980 more fast, 20 more slow
		if hits.Add(1) == 1 {
			text = stageText(7, 3)
		}
		_, _ = io.WriteString(w, text)
	}))
	defer daemon.Close()
	cfg := smallConfig(t)
	cfg.Metrics = []string{daemon.URL + "/metrics"}
	rep := runWith(t, &miniDispatcher{}, cfg)
	assert.Equal(t, int64(2), hits.Load(), "one snapshot before, one after")
	assert.False(t, rep.Void, rep.VoidReasons)

	var txt bytes.Buffer
	require.NoError(t, rep.WriteText(&txt))
	lines := strings.Split(txt.String(), "\n")
	i := 0
	for i < len(lines) && !strings.HasPrefix(lines[i], "  latency:") {
		i++
	}
	require.Less(t, i+1, len(lines), txt.String())
	assert.Equal(t, "  stages p50/p99/p99.9 ms: push ≤1/≤5/≤5, total ≤2/≤10/≤10", lines[i+1])

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var doc struct{ Stages json.RawMessage }
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	assert.JSONEq(t, `[{"stage":"push","count":1000,"p50_ms":1,"p99_ms":5,"p999_ms":5},
		{"stage":"total","count":1000,"p50_ms":2,"p99_ms":10,"p999_ms":10}]`, string(doc.Stages))
}

// A daemon that does not answer leaves the run without stage figures and
// with a note saying why; the run itself stands.
func TestRunWithoutDaemonStagesSaysWhy(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	cfg := smallConfig(t)
	cfg.Metrics = []string{gone.URL + "/metrics"}
	rep := runWith(t, &miniDispatcher{}, cfg)
	assert.False(t, rep.Void, rep.VoidReasons)
	assert.Equal(t, ExitOK, rep.ExitCode(true))
	assert.Nil(t, rep.Stages)
	require.NotEmpty(t, rep.Notes)
	assert.Contains(t, rep.Notes[0], "no stage timings: before the run: "+gone.URL+"/metrics did not answer")

	var txt, js bytes.Buffer
	require.NoError(t, rep.WriteText(&txt))
	assert.NotContains(t, txt.String(), "stages p50")
	assert.Contains(t, txt.String(), "  note: no stage timings: before the run: "+gone.URL+"/metrics did not answer")
	require.NoError(t, rep.WriteJSON(&js))
	assert.NotContains(t, js.String(), `"stages"`)
}
