package admin_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/admin"
	"medispatcher/internal/testsrv"
)

// TestSubscriptionURLMasked: the API never shows a URL's password, yet
// sending back what it showed keeps the password; a masked URL that
// matches nothing current is refused; the push, the failure records, the
// DATA log and the process log behave accordingly.
func TestSubscriptionURLMasked(t *testing.T) {
	r := start(t, "EnableMsgSentLog = true")
	host := strings.TrimPrefix(r.sub.URL, "http://")
	full := "http://user:hunter2@" + host + "/fail"
	shown := "http://user:xxxxx@" + host + "/fail"
	stored := func() string {
		raw, err := r.redis.Do(context.Background(), r.redis.B().Hget().Key(subs.RedisHashKey(r.cfg.Redis.KeyPrefix)).Field("11").Build()).ToString()
		require.NoError(t, err)
		var s subs.Subscription
		require.NoError(t, json.Unmarshal([]byte(raw), &s))
		return s.URL
	}

	var ch adminapi.Changed
	require.Equal(t, 201, r.call("POST", "/api/v1/subscriptions", token, map[string]any{"id": 11, "topic": "secret", "url": full}, &ch))
	require.True(t, ch.Applied)
	assert.Equal(t, shown, ch.Subscription.URL)
	assert.Equal(t, full, stored())

	var got adminapi.SubView
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions/11", token, nil, &got))
	assert.Equal(t, shown, got.URL)
	var list adminapi.SubList
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions", token, nil, &list))
	require.Len(t, list.Subscriptions, 1)
	assert.Equal(t, shown, list.Subscriptions[0].URL)
	var ov adminapi.Overview
	require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &ov))
	require.Len(t, ov.Subscriptions, 1)
	assert.Equal(t, shown, ov.Subscriptions[0].URL)

	// PUT what GET showed, one setting changed: the password is kept.
	body := map[string]any{"topic": "secret", "url": got.URL, "concurrency": 2}
	require.Equal(t, 200, r.call("PUT", "/api/v1/subscriptions/11", token, body, &ch))
	assert.True(t, ch.Applied)
	assert.Equal(t, 2, ch.Subscription.Concurrency)
	assert.Equal(t, full, stored())
	// PATCH with the shown URL as one line of two: kept, the new line added.
	both := shown + "\nhttp://other:pw2@" + host + "/fail"
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/11", token, map[string]any{"url": both}, &ch))
	assert.Equal(t, full+"\nhttp://other:pw2@"+host+"/fail", stored())
	assert.Equal(t, shown+"\nhttp://other:xxxxx@"+host+"/fail", ch.Subscription.URL)
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/11", token, map[string]any{"url": shown}, &ch))
	assert.Equal(t, full, stored())

	// A masked URL matching no current line, or in a new subscription,
	// would store "xxxxx" as the password: refused.
	e := r.fail("PATCH", "/api/v1/subscriptions/11", token, map[string]any{"url": "http://user:xxxxx@" + host + "/elsewhere"}, 422, admin.CodeInvalid)
	require.Len(t, e.Error.Details, 1)
	assert.Equal(t, "url", e.Error.Details[0].Field)
	r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 12, "topic": "secret", "url": shown}, 422, admin.CodeInvalid)
	assert.Equal(t, full, stored())

	// The push uses the full URL; what records it shows it masked.
	r.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 500, "no", 0 })
	r.produce("secret", 1)
	var recs struct {
		Records []adminapi.Failure `json:"records"`
	}
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("GET", "/api/v1/failures?sub=11&final=given_up", token, nil, &recs))
		return len(recs.Records) == 1
	}, 15*time.Second, 50*time.Millisecond)
	assert.Equal(t, shown, recs.Records[0].URL)
	raw, err := r.redis.Do(context.Background(), r.redis.B().Xrange().Key(r.cfg.Redis.KeyPrefix+":failures").Start("-").End("+").Build()).ToAny()
	require.NoError(t, err)
	rawJSON, err := json.Marshal(raw)
	require.NoError(t, err)
	assert.Contains(t, string(rawJSON), "user:xxxxx@")
	assert.NotContains(t, string(rawJSON), "hunter2", "failure records in Redis")
	assert.NotContains(t, r.logs.String(), "hunter2", "process log")
	require.Eventually(t, func() bool {
		data := readDir(t, r.cfg.LogDir)
		return strings.Contains(data, "RESENT") && strings.Contains(data, "dest="+shown)
	}, 10*time.Second, 50*time.Millisecond, "the DATA log's SENT/RESENT lines")
	assert.NotContains(t, readDir(t, r.cfg.LogDir), "hunter2")
}

// readDir concatenates the files under dir.
func readDir(t *testing.T, dir string) string {
	var b strings.Builder
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.Write(data)
		return err
	}))
	return b.String()
}

// TestPushLimitsFromConfig: the daemon gives its push client
// FailureAnswerMaxBytes and PushDenyCIDRs. A subscriber outside the denied
// networks is pushed to and its answer is cut in the failure record; one
// inside them is refused and given up like any failure.
func TestPushLimitsFromConfig(t *testing.T) {
	givenUp := func(r *rig, sub int64) adminapi.Failure {
		var recs struct {
			Records []adminapi.Failure `json:"records"`
		}
		require.Eventually(t, func() bool {
			require.Equal(t, 200, r.call("GET", "/api/v1/failures?final=given_up&sub="+strconv.FormatInt(sub, 10), token, nil, &recs))
			return len(recs.Records) == 1
		}, 15*time.Second, 50*time.Millisecond)
		return recs.Records[0]
	}

	r := start(t, "FailureAnswerMaxBytes = 3\nPushDenyCIDRs = [\"10.0.0.0/8\"]")
	r.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 500, "abcdefgh", 0 })
	r.create(1, "cut", "/x", nil)
	r.produce("cut", 1)
	assert.Equal(t, "http_status: status 500: abc", givenUp(r, 1).Error)
	assert.Len(t, r.sub.Hits(), 2, "pushed, then retried once")

	r = start(t, "PushDenyCIDRs = [\"127.0.0.0/8\"]")
	r.create(2, "denied", "/x", nil)
	r.produce("denied", 1)
	rec := givenUp(r, 2)
	assert.Contains(t, rec.Error, "connection: ")
	assert.Contains(t, rec.Error, "is in a denied network 127.0.0.0/8")
	assert.Empty(t, r.sub.Hits(), "nothing reached the subscriber")
}

// TestCancelledSubscriptionReleased: once a subscription is cancelled,
// the statistics and the status page no longer list it (its pushes stay
// in the totals).
func TestCancelledSubscriptionReleased(t *testing.T) {
	r := start(t, "")
	r.create(5, "gone", "/x", nil)
	r.create(6, "kept", "/y", nil)
	r.produce("gone", 3)
	r.produce("kept", 3)
	r.sub.WaitFor(10*time.Second, "6 pushes", func(h []testsrv.Hit) bool { return len(h) >= 6 })
	var snap struct {
		Subscriptions []struct {
			ID int64 `json:"id"`
		} `json:"subscriptions"`
	}
	require.Equal(t, 200, r.call("GET", "/api/v1/stats", token, nil, &snap))
	require.Len(t, snap.Subscriptions, 2)

	var del adminapi.Changed
	require.Equal(t, 200, r.call("DELETE", "/api/v1/subscriptions/5", token, nil, &del))
	require.True(t, del.Applied)
	require.Equal(t, 200, r.call("GET", "/api/v1/stats", token, nil, &snap))
	require.Len(t, snap.Subscriptions, 1)
	assert.Equal(t, int64(6), snap.Subscriptions[0].ID)
	var ov adminapi.Overview
	require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &ov))
	require.Len(t, ov.Subscriptions, 1)
	assert.Equal(t, uint64(6), ov.Totals.Pushes, "the cancelled subscription's pushes stay in the totals")
}
