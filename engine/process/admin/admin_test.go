package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/stage"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/admin"
	"medispatcher/engine/process/daemon"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

const token = "test-token-0123456789"

// rig is a daemon running in this process with its admin API, against
// real beanstalkd, Redis and subscribers.
type rig struct {
	t       *testing.T
	cfg     *config.Config
	api     string // http://127.0.0.1:port
	metrics string
	stat    string
	sub     *testsrv.Subscriber
	bc      *beanstalk.Conn
	redis   rueidis.Client
	logs    *testsrv.LogBuffer
	done    chan error // the daemon's Run returned
	exited  bool       // done was read by the start
}

func freeAddr(t *testing.T) string {
	p, err := testsrv.FreePort()
	require.NoError(t, err)
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// start runs a daemon whose config is the given extra lines on top of a
// base with a Redis subscription source.
func start(t *testing.T, extra string) *rig {
	t.Helper()
	return startOn(t, "", token, extra)
}

// startOn is start with the admin API's address ("": a free one) and
// token given. A free port can be taken by another process between the
// probe and the daemon's bind (other packages' tests start servers on
// free ports too): the daemon then exits at once, and the start is tried
// again on new ports.
func startOn(t *testing.T, listen, tok, extra string) *rig {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := listen
		if addr == "" {
			addr = freeAddr(t)
		}
		r, err := tryStart(t, addr, tok, extra)
		if err == nil {
			return r
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("daemon did not start: %v", err)
		}
		t.Logf("attempt %d: %v; again on other ports", attempt, err)
	}
}

// tryStart runs one daemon; the error is the daemon's, when it exited
// before its admin API answered.
func tryStart(t *testing.T, listen, tok, extra string) (*rig, error) {
	t.Helper()
	bs, rd := testsrv.StartBeanstalkd(t), testsrv.StartRedis(t)
	r := &rig{t: t, sub: testsrv.NewSubscriber(t), logs: &testsrv.LogBuffer{}}
	prom, stat := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "medispatcher.toml")
	if !strings.Contains(extra, "SubscriptionSource") {
		extra = "SubscriptionSource = \"redis\"\n" + extra
	}
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`
QueueServerAddr = %q
LOG_DIR = "logs"
DropMessageLogDir = "drops"
ListenAddr = %q
AdminToken = %q
DebugAddr = ""
StatisticApiAddr = %q
PrometheusApiAddr = %q
MaxMessageProcessTime = 2000
DefaultMaxMessageProcessTime = 2000
MaxSendersPerChannel = 50
CoeOfIntervalForRetrySendingMsg = 0
MaxRetryTimesOfSendingMessage = 1
LogLevel = "info"
%s
[Redis]
Addr = %q
`, bs.Addr, listen, tok, stat, prom, extra, rd.Addr)), 0o644))
	cfg, _, err := config.Load(path)
	require.NoError(t, err)
	r.cfg = cfg
	r.api, r.metrics, r.stat = "http://"+listen, "http://"+prom, "http://"+stat
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, cfg, log) }()
	r.done = done
	t.Cleanup(func() {
		cancel()
		if r.exited {
			return // its error was the start's
		}
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	r.bc, err = beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.bc.Close() })
	r.redis, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(r.redis.Close)
	if cfg.AdminAPIRefused() == "" {
		if err := r.waitUp(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// waitUp waits for /healthz, the only thing with no signal to wait on; it
// returns the daemon's error if it exits first.
func (r *rig) waitUp() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-r.done:
			r.exited = true
			return fmt.Errorf("daemon exited before its admin API answered: %w", err)
		default:
		}
		resp, err := http.Get(r.api + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("admin API not up: %v\n%s", err, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call does one request and decodes the JSON answer into out (when not
// nil); it returns the status.
func (r *rig) call(method, path, tok string, body any, out any) int {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(r.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, r.api+path, rd)
	require.NoError(r.t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	// Writes are JSON; a DELETE without a body goes without.
	if method != "GET" && (method != "DELETE" || body != nil) {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	if out != nil {
		require.NoError(r.t, json.Unmarshal(data, out), "answer: %s", data)
	}
	return resp.StatusCode
}

// tooLarge asserts that a POST announcing a body above the limit is
// answered 413 with the API's error shape. The request goes over a raw
// connection with its headers only: a client still writing 64 KiB when
// the server answers and closes may see its write reset before it reads
// the answer, which would test the network, not the API.
func (r *rig) tooLarge(path string) {
	r.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.api, "http://"))
	require.NoError(r.t, err)
	defer conn.Close()
	require.NoError(r.t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, token, adminapi.MaxBody+1)
	require.NoError(r.t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	assert.Equal(r.t, 413, resp.StatusCode)
	var e apiErr
	require.NoError(r.t, json.Unmarshal(data, &e), "answer: %s", data)
	assert.Equal(r.t, admin.CodeTooLarge, e.Error.Code)
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Allowed string `json:"allowed"`
		} `json:"details"`
	} `json:"error"`
}

// fail asserts an error answer with status and code.
func (r *rig) fail(method, path, tok string, body any, status int, code string) apiErr {
	r.t.Helper()
	var e apiErr
	got := r.call(method, path, tok, body, &e)
	assert.Equal(r.t, status, got, "%s %s", method, path)
	assert.Equal(r.t, code, e.Error.Code, "%s %s: %s", method, path, e.Error.Message)
	return e
}

func (r *rig) produce(topic string, n int) {
	r.t.Helper()
	tube := beanstalk.NewTube(r.bc, r.cfg.NameOfMainQueue)
	for i := 0; i < n; i++ {
		// Stamped now, as a producer does: the stages timed from the
		// producer's timestamp then show the daemon's own latency.
		now := float64(time.Now().UnixNano()) / 1e9
		m := message.Message{Topic: []byte(topic), Body: []byte{0x81, 0xa1, 'i', 0xcd, byte(i >> 8), byte(i)}, Time: now}
		_, err := tube.Put(message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
		require.NoError(r.t, err)
	}
}

func (r *rig) scrape(url string) string {
	r.t.Helper()
	resp, err := http.Get(url)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	return string(b)
}

func (r *rig) create(id int64, topic, path string, extra map[string]any) adminapi.Changed {
	r.t.Helper()
	body := map[string]any{"id": id, "topic": topic, "url": r.sub.URL + path}
	for k, v := range extra {
		body[k] = v
	}
	var ch adminapi.Changed
	require.Equal(r.t, 201, r.call("POST", "/api/v1/subscriptions", token, body, &ch))
	require.True(r.t, ch.Applied, "the engine runs the new subscription before the answer")
	return ch
}

func TestAuth(t *testing.T) {
	r := start(t, "")
	r.fail("GET", "/api/v1/info", "", nil, 401, admin.CodeUnauthorized)
	r.fail("GET", "/api/v1/info", "wrong-token-0123456789", nil, 401, admin.CodeUnauthorized)
	r.fail("GET", "/api/v1/subscriptions", token[:len(token)-1], nil, 401, admin.CodeUnauthorized)
	var info adminapi.Info
	require.Equal(t, 200, r.call("GET", "/api/v1/info", token, nil, &info))
	assert.Equal(t, "redis", info.Source)
	require.Len(t, info.Servers, 1)
	assert.True(t, info.Servers[0].Healthy)
	assert.Greater(t, info.UptimeS, 0.0)
	// Health and the page carry no data: no token needed.
	var h map[string]string
	require.Equal(t, 200, r.call("GET", "/healthz", "", nil, &h))
	assert.Equal(t, "ok", h["status"])
	resp, err := http.Get(r.api + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
}

// TestExposedWithoutTokenIsNotServed: a non-loopback ListenAddr without a
// token (an old 2.x file) runs the dispatcher but not the admin API. The
// address is TEST-NET-1, which no interface here has: had the daemon tried
// to listen, Run would fail, and nothing is ever exposed.
func TestExposedWithoutTokenIsNotServed(t *testing.T) {
	r := startOn(t, "192.0.2.1:5601", "", "")
	require.NotEmpty(t, r.cfg.AdminAPIRefused())
	require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), "admin API not served") }, 10*time.Second, 20*time.Millisecond)
	// Dispatching goes on: a subscription written to Redis is served.
	require.NoError(t, subs.RedisPut(context.Background(), r.redis, r.cfg.Redis.KeyPrefix,
		&subs.Subscription{ID: 1, Topic: "t", URL: r.sub.URL + "/x", AlertEnabled: true}))
	// Messages of a topic nobody subscribes to are deleted: produce only
	// once the daemon runs the subscription (its log says so).
	require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), "added=1") }, 10*time.Second, 20*time.Millisecond)
	r.produce("t", 3)
	r.sub.WaitFor(10*time.Second, "3 pushes", func(h []testsrv.Hit) bool { return len(h) >= 3 })
}

func TestSubscriptionLifecycleAndValidation(t *testing.T) {
	r := start(t, "")
	ch := r.create(7, "orders", "/seven", map[string]any{"concurrency": 3})
	assert.Equal(t, 3, ch.Subscription.Effective.Concurrency)
	assert.Equal(t, "orders/sub-queue/7", ch.Subscription.Tubes.Channel)

	// The engine runs it: messages are delivered.
	r.produce("orders", 20)
	r.sub.WaitFor(10*time.Second, "20 pushes", func(h []testsrv.Hit) bool { return len(h) >= 20 })

	var list adminapi.SubList
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions", token, nil, &list))
	require.Len(t, list.Subscriptions, 1)
	assert.True(t, list.Writable)

	// A live change of one parameter.
	var patched adminapi.Changed
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/7", token, map[string]any{"concurrency": 9, "rate": 100}, &patched))
	assert.True(t, patched.Applied)
	assert.Equal(t, 9, patched.Subscription.Effective.Concurrency)
	assert.Equal(t, 5, patched.Subscription.Effective.Burst, "50 ms worth of rate 100")
	var got adminapi.SubView
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions/7", token, nil, &got))
	assert.Equal(t, 9, got.Concurrency)
	assert.Equal(t, r.sub.URL+"/seven", got.URL, "PATCH keeps what it does not name")
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/7", token, map[string]any{"Concurrency": 8}, &patched))
	assert.Equal(t, 8, patched.Subscription.Concurrency, "keys match without regard to case")
	require.Equal(t, 200, r.call("PATCH", "/api/v1/subscriptions/7", token, map[string]any{"concurrency": 9}, &patched))

	// Validation with the old bounds: every problem at once, by field.
	e := r.fail("PATCH", "/api/v1/subscriptions/7", token, map[string]any{"concurrency": 51, "timeout_ms": -1}, 422, admin.CodeInvalid)
	var fields []string
	for _, d := range e.Error.Details {
		fields = append(fields, d.Field)
	}
	assert.ElementsMatch(t, []string{"concurrency", "timeout_ms"}, fields)
	r.fail("PATCH", "/api/v1/subscriptions/7", token, map[string]any{"concurency": 5}, 400, admin.CodeBadRequest)
	r.fail("PATCH", "/api/v1/subscriptions/7", token, `{"concurrency": "five"}`, 400, admin.CodeBadRequest)
	r.fail("PATCH", "/api/v1/subscriptions/7", token, `[1]`, 400, admin.CodeBadRequest)
	r.fail("PATCH", "/api/v1/subscriptions/8", token, map[string]any{"concurrency": 5}, 404, admin.CodeNotFound)
	r.fail("GET", "/api/v1/subscriptions/x", token, nil, 400, admin.CodeBadRequest)
	r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 7, "topic": "orders", "url": r.sub.URL}, 409, admin.CodeConflict)
	r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 9, "topic": "bad topic", "url": "ftp://x"}, 422, admin.CodeInvalid)
	r.fail("PUT", "/api/v1/subscriptions/7", token, map[string]any{"id": 8, "topic": "orders", "url": r.sub.URL}, 422, admin.CodeInvalid)
	r.fail("POST", "/api/v1/info", token, nil, 405, admin.CodeMethodNotAllowed)
	r.fail("GET", "/api/v1/nothing", token, nil, 404, admin.CodeNotFound)
	r.tooLarge("/api/v1/subscriptions")
	// Nothing invalid reached the engine.
	require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions/7", token, nil, &got))
	assert.Equal(t, 9, got.Concurrency)

	// PUT replaces: absent keys go back to their defaults.
	var put adminapi.Changed
	require.Equal(t, 200, r.call("PUT", "/api/v1/subscriptions/7", token, map[string]any{"topic": "orders", "url": r.sub.URL + "/seven"}, &put))
	assert.Equal(t, r.cfg.SendersPerChannel, put.Subscription.Effective.Concurrency)

	var del adminapi.Changed
	require.Equal(t, 200, r.call("DELETE", "/api/v1/subscriptions/7", token, nil, &del))
	assert.True(t, del.Applied)
	assert.Equal(t, int64(7), del.Deleted)
	r.fail("GET", "/api/v1/subscriptions/7", token, nil, 404, admin.CodeNotFound)
}

func TestDefaultsAndAlertSettings(t *testing.T) {
	r := start(t, "NameOfMainQueueBlockedAlertThreshold = 500")
	var d adminapi.Defaults
	require.Equal(t, 200, r.call("GET", "/api/v1/defaults", token, nil, &d))
	assert.Equal(t, r.cfg.SendersPerChannel, d.Concurrency)
	assert.Equal(t, 50, d.MaxConcurrency)
	assert.Equal(t, 2000, d.MaxTimeoutMS)
	assert.Equal(t, 1, d.MaxRetries)
	assert.Equal(t, r.cfg.MessageBlockedAlertThreshold, d.AlertBacklogThreshold)

	var s map[string]any
	require.Equal(t, 200, r.call("GET", "/api/v1/alerts/settings", token, nil, &s))
	assert.EqualValues(t, 500, s["main_queue_blocked_alert_threshold"])
	require.Equal(t, 200, r.call("PUT", "/api/v1/alerts/settings", token,
		map[string]any{"default_alarm_receiver": "ops", "global_message_blocked_alert_threshold": 1234}, &s))
	assert.Equal(t, "ops", s["default_alarm_receiver"])
	assert.EqualValues(t, 1234, s["global_message_blocked_alert_threshold"])
	assert.EqualValues(t, 500, s["main_queue_blocked_alert_threshold"], "keys not named keep their value")
	r.fail("PUT", "/api/v1/alerts/settings", token, map[string]any{"global_message_blocked_alarm_interval_s": 0}, 422, admin.CodeInvalid)
	r.fail("PUT", "/api/v1/alerts/settings", token, map[string]any{"nope": 1}, 400, admin.CodeBadRequest)
	var alerts struct {
		Alerts []any `json:"alerts"`
	}
	require.Equal(t, 200, r.call("GET", "/api/v1/alerts", token, nil, &alerts))
	assert.NotNil(t, alerts.Alerts)
}

func TestCleanKickFailuresResendRecover(t *testing.T) {
	r := start(t, "")
	ctx := context.Background()

	// Clean: jobs waiting in the channel tube of a subscription whose
	// subscriber is slow; the engine holds a few, the rest are ready.
	r.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if strings.HasPrefix(h.Path, "/slow") {
			return 200, `{"status":1}`, 300 * time.Millisecond
		}
		if strings.HasPrefix(h.Path, "/fail") {
			return 500, "down", 0
		}
		return 200, `{"status":1}`, 0
	})
	r.create(1, "slow", "/slow", map[string]any{"concurrency": 1, "retry_concurrency": 1})
	r.produce("slow", 200)
	var cleaned adminapi.OpResult[adminapi.CleanReport]
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("POST", "/api/v1/subscriptions/1/clean", token, map[string]any{"dry_run": true}, &cleaned))
		return len(cleaned.Reports) > 0 && cleaned.Reports[0].Found > 50
	}, 10*time.Second, 50*time.Millisecond, "redistributed jobs wait in the channel tube")
	assert.Zero(t, cleaned.Reports[0].Deleted, "a dry run deletes nothing")
	require.Equal(t, 200, r.call("POST", "/api/v1/subscriptions/1/clean", token, nil, &cleaned))
	deleted := 0
	for _, rep := range cleaned.Reports {
		deleted += rep.Deleted
	}
	assert.Greater(t, deleted, 50)
	drops, err := filepath.Glob(filepath.Join(r.cfg.DropMessageLogDir, "*"))
	require.NoError(t, err)
	assert.NotEmpty(t, drops, "cleaned jobs are in the drop log")

	// Kick: a buried job in a channel tube goes back to ready.
	tube := beanstalk.NewTube(r.bc, "gone/sub-queue/99")
	id, err := tube.Put([]byte("x"), 1024, 0, time.Minute)
	require.NoError(t, err)
	ts := beanstalk.NewTubeSet(r.bc, "gone/sub-queue/99")
	rid, _, err := ts.Reserve(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, id, rid)
	require.NoError(t, r.bc.Bury(id, 1024))
	var kicked adminapi.OpResult[adminapi.KickReport]
	require.Equal(t, 200, r.call("POST", "/api/v1/kick", token, map[string]any{"dry_run": true}, &kicked))
	require.Len(t, kicked.Reports, 1)
	assert.Equal(t, adminapi.KickReport{Server: r.cfg.QueueServers[0], Tube: "gone/sub-queue/99", Buried: 1}, kicked.Reports[0])
	require.Equal(t, 200, r.call("POST", "/api/v1/kick", token, nil, &kicked))
	assert.Equal(t, 1, kicked.Reports[0].Kicked)
	st, err := r.bc.StatsJob(id)
	require.NoError(t, err)
	assert.Equal(t, "ready", st["state"])

	// Failures: one message fails its push and its only retry.
	r.create(2, "fails", "/fail", nil)
	r.produce("fails", 1)
	var recs struct {
		Records []adminapi.Failure `json:"records"`
	}
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("GET", "/api/v1/failures?sub=2&final=given_up", token, nil, &recs))
		return len(recs.Records) == 1
	}, 15*time.Second, 50*time.Millisecond)
	assert.Contains(t, recs.Records[0].Error, "500")
	assert.True(t, recs.Records[0].HasJob)
	require.Equal(t, 200, r.call("GET", "/api/v1/failures?sub=2&final=retrying", token, nil, &recs))
	assert.Len(t, recs.Records, 1)
	r.fail("GET", "/api/v1/failures?since=yesterday", token, nil, 400, admin.CodeBadRequest)
	r.fail("GET", "/api/v1/failures?final=done", token, nil, 400, admin.CodeBadRequest)

	// Re-send once the subscriber is healthy: delivered with the same jobid.
	jobid := recs.Records[0].JobID
	r.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 0 })
	var res adminapi.ResendResult
	require.Equal(t, 200, r.call("POST", "/api/v1/failures/resend", token, map[string]any{"sub": 2}, &res))
	assert.Len(t, res.Resent, 1)
	assert.Empty(t, res.Errors)
	r.sub.WaitFor(10*time.Second, "the re-sent message", func(h []testsrv.Hit) bool {
		for _, x := range h {
			if x.Path == "/fail" && x.JobID == jobid && x.RetryTimes == 0 && x.At.After(recs.Records[0].Time) {
				return true
			}
		}
		return false
	})
	r.fail("POST", "/api/v1/failures/resend", token, map[string]any{}, 400, admin.CodeBadRequest)

	// Recover lists: an entry a producer left is counted, then delivered.
	var rec adminapi.RecoverStatus
	require.Equal(t, 200, r.call("GET", "/api/v1/recover", token, nil, &rec))
	assert.Equal(t, r.cfg.MsgQueueFaultToleranceListNamePrefix, rec.Prefix)
	assert.Zero(t, rec.Total)
	require.NoError(t, r.redis.Do(ctx, r.redis.B().Set().Key(r.cfg.MsgQueueFaultToleranceListNamePrefix+"str").Value("x").Build()).Error())
	require.Equal(t, 200, r.call("GET", "/api/v1/recover", token, nil, &rec))
	assert.Empty(t, rec.Lists, "keys that are not lists are not recover lists")
}

func TestOverviewStatsAndMetricsAfterKnownTraffic(t *testing.T) {
	r := start(t, "")
	r.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if h.Path == "/bad" {
			return 500, "no", 0
		}
		return 200, `{"status":1}`, 0
	})
	r.create(3, "good", "/good", nil)
	r.create(4, "bad", "/bad", nil)
	// Engine-wide counters live in the process's metrics registry, which
	// earlier tests of this package share: compare differences.
	var o0 adminapi.Overview
	require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &o0))
	m0 := r.scrape(r.metrics + "/metrics")
	r.produce("good", 30)
	r.produce("bad", 5)
	// Each bad message: a first push and its one retry, both failing.
	r.sub.WaitFor(15*time.Second, "30 good pushes and 10 bad ones", func(h []testsrv.Hit) bool { return len(h) >= 40 })

	// The subscriber sees a push before the daemon has read its answer and
	// counted it: wait for the last good push's count too.
	var o adminapi.Overview
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &o))
		return o.Totals.GivenUp == 5 && o.Totals.Pushes >= 40
	}, 10*time.Second, 50*time.Millisecond)
	o.Totals.Redistributed -= o0.Totals.Redistributed
	assert.Equal(t, adminapi.Totals{Pushes: 40, Successes: 30, Failures: 10, Retries: 5, GivenUp: 5, Redistributed: 35}, o.Totals)
	require.Len(t, o.Subscriptions, 2)
	byID := map[int64]adminapi.SubOverview{}
	for _, s := range o.Subscriptions {
		byID[s.ID] = s
	}
	assert.Equal(t, uint64(30), byID[3].Pushes1m)
	assert.Equal(t, uint64(10), byID[4].Failures1m)
	assert.InDelta(t, 1.0, byID[4].FailureRatio1m, 1e-9)
	// Cut-through is on by default: every copy is counted once, direct or
	// spilled, and a subscription whose workers were free took some
	// directly.
	assert.True(t, o.CutThrough)
	assert.Equal(t, uint64(30), byID[3].Direct+byID[3].Spilled)
	assert.Positive(t, byID[3].Direct)
	assert.InDelta(t, float64(byID[3].Direct)/30, byID[3].DirectShare, 1e-9)
	assert.Equal(t, uint64(5), byID[4].Direct+byID[4].Spilled)
	assertStages(t, o.Stages)
	assertRecentStages(t, o.StagesRecent, o.StagesRecentS)

	// The statistics API (StatisticApiAddr and /api/v1/stats) holds the
	// same counts per subscription and topic over every window.
	var snap struct {
		Subscriptions []struct {
			ID      int64 `json:"id"`
			Windows map[string]struct {
				Pushes, Failures uint64
			} `json:"windows"`
			Handoffs *struct {
				Direct, Spilled uint64
				DirectShare     float64 `json:"direct_share"`
			} `json:"handoffs"`
		} `json:"subscriptions"`
		Topics []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	// The unfiltered statistics carry the same latency by stage.
	var whole struct {
		Stages        []adminapi.Stage `json:"stages"`
		StagesRecent  []adminapi.Stage `json:"stages_recent"`
		StagesRecentS float64          `json:"stages_recent_s"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.scrape(r.stat+"/")), &whole))
	assertStages(t, whole.Stages)
	assertRecentStages(t, whole.StagesRecent, whole.StagesRecentS)
	require.NoError(t, json.Unmarshal([]byte(r.scrape(r.stat+"/?sub=4")), &snap))
	require.Len(t, snap.Subscriptions, 1)
	for _, w := range []string{"1m", "1h", "1d"} {
		assert.Equal(t, uint64(10), snap.Subscriptions[0].Windows[w].Failures, w)
	}
	require.NotNil(t, snap.Subscriptions[0].Handoffs)
	assert.Equal(t, byID[4].Direct, snap.Subscriptions[0].Handoffs.Direct)
	assert.Equal(t, byID[4].Spilled, snap.Subscriptions[0].Handoffs.Spilled)
	require.NoError(t, json.Unmarshal([]byte(r.scrape(r.stat+"/?sub=3")), &snap))
	require.Len(t, snap.Subscriptions, 1)
	require.NotNil(t, snap.Subscriptions[0].Handoffs)
	h3 := snap.Subscriptions[0].Handoffs
	assert.Equal(t, byID[3].Direct, h3.Direct)
	assert.Equal(t, byID[3].Spilled, h3.Spilled)
	assert.InDelta(t, float64(byID[3].Direct)/30, h3.DirectShare, 1e-9)
	require.Equal(t, 200, r.call("GET", "/api/v1/stats?topic=good", token, nil, &snap))
	require.Len(t, snap.Topics, 1)
	assert.Equal(t, "good", snap.Topics[0].Topic)

	// Metrics: names and values after the traffic.
	m := r.scrape(r.metrics + "/metrics")
	for _, want := range []string{
		`medispatcher_pushes_total{sub="3",topic="good",lane="channel",result="ok"} 30`,
		`medispatcher_pushes_total{sub="4",topic="bad",lane="channel",result="fail"} 5`,
		`medispatcher_pushes_total{sub="4",topic="bad",lane="retry",result="fail"} 5`,
		`medispatcher_push_failures_total{sub="4",topic="bad",kind="http_status"} 10`,
		`medispatcher_given_up_total{sub="4",topic="bad"} 5`,
		fmt.Sprintf(`medispatcher_handoffs_total{sub="3",topic="good",path="direct"} %d`, byID[3].Direct),
		fmt.Sprintf(`medispatcher_handoffs_total{sub="3",topic="good",path="spilled"} %d`, byID[3].Spilled),
		`medispatcher_beanstalkd_links{server="` + r.cfg.QueueServers[0] + `",kind="cmd"}`,
		`medispatcher_beanstalkd_links_connected{`,
		`medispatcher_beanstalkd_rtt_seconds{`,
		`medispatcher_beanstalkd_writes_total{`,
		`medispatcher_datalog_lost_lines_total{reason="write_error"}`,
		`medispatcher_push_duration_seconds_bucket{sub="3",topic="good",vmrange=`,
		`go_goroutines `,
	} {
		assert.Contains(t, m, want)
	}
	assert.Equal(t, metricValue(t, m0, "medispatcher_redistributed_total")+35, metricValue(t, m, "medispatcher_redistributed_total"))
	// Backlog gauges appear after the sampler's first sweep.
	require.Eventually(t, func() bool {
		return strings.Contains(r.scrape(r.metrics+"/metrics"), `medispatcher_backlog_jobs{sub="3",topic="good",lane="channel",state="ready"} 0`)
	}, 15*time.Second, 100*time.Millisecond)
	assert.Contains(t, r.scrape(r.metrics+"/metrics"), `medispatcher_recover_list_entries 0`)
}

// TestFileSourceIsReadOnly: subscriptions from a file are changed in the
// file, not through the API.
func TestFileSourceIsReadOnly(t *testing.T) {
	dir := t.TempDir()
	subsFile := filepath.Join(dir, "subs.toml")
	require.NoError(t, os.WriteFile(subsFile, []byte("[[subscription]]\nid = 5\ntopic = \"t\"\nurl = \"http://127.0.0.1:9/x\"\n"), 0o644))
	r := start(t, fmt.Sprintf("SubscriptionSource = %q", "file:"+subsFile))
	var list adminapi.SubList
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("GET", "/api/v1/subscriptions", token, nil, &list))
		return len(list.Subscriptions) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.False(t, list.Writable)
	e := r.fail("PATCH", "/api/v1/subscriptions/5", token, map[string]any{"concurrency": 2}, 409, admin.CodeReadOnlySource)
	assert.Contains(t, e.Error.Message, subsFile)
}

// metricValue returns the value of one series in a Prometheus text page.
func metricValue(t *testing.T, page, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

// receiver is an alarm platform on loopback recording every form post.
type receiver struct {
	url   string
	mu    sync.Mutex
	posts []map[string]string
	got   chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan struct{}, 100)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rc.url = "http://" + ln.Addr().String() + "/alarm"
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		post := map[string]string{}
		for k, v := range ctx.PostArgs().All() {
			post[string(k)] = string(v)
		}
		rc.mu.Lock()
		rc.posts = append(rc.posts, post)
		rc.mu.Unlock()
		ctx.SetBodyString("accepted")
		rc.got <- struct{}{}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return rc
}

func (rc *receiver) all() []map[string]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]string(nil), rc.posts...)
}

// TestFailureAlertFiresOncePerInterval: a failing subscription with its
// own threshold raises one sub_failures alert, delivered to its receiver
// through the alarm platform, and no second one within its interval.
func TestFailureAlertFiresOncePerInterval(t *testing.T) {
	rc := newReceiver(t)
	r := start(t, fmt.Sprintf(`
[AlarmPlatform]
Gateway = %q
AckStr = "accepted"
[AlarmPlatform.PostFieldsMap]
Recipient = "to"
Subject = "title"
Content = "body"
project = "medispatcher"
`, rc.url))
	r.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 500, "down", 0 })
	r.create(11, "alerting", "/x", map[string]any{"alert_failure_threshold": 3, "alert_interval_s": 3600, "alert_receiver": "oncall"})
	r.produce("alerting", 5)
	select {
	case <-rc.got:
	case <-time.After(15 * time.Second):
		t.Fatal("no alert delivered")
	}
	// Five more failing messages after the alert: still within the
	// interval, so no second alert is raised.
	r.produce("alerting", 5)
	var recs struct {
		Records []adminapi.Failure `json:"records"`
	}
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("GET", "/api/v1/failures?sub=11&final=given_up", token, nil, &recs))
		return len(recs.Records) == 10
	}, 15*time.Second, 50*time.Millisecond, "all ten messages fail and are given up")
	var alerts struct {
		Alerts []struct {
			Kind      string   `json:"kind"`
			Sub       int64    `json:"sub"`
			Delivered []string `json:"delivered"`
		} `json:"alerts"`
	}
	require.Equal(t, 200, r.call("GET", "/api/v1/alerts", token, nil, &alerts))
	require.Len(t, alerts.Alerts, 1, "one alert per interval")
	assert.Equal(t, "sub_failures", alerts.Alerts[0].Kind)
	assert.Equal(t, int64(11), alerts.Alerts[0].Sub)
	posts := rc.all()
	require.Len(t, posts, 1)
	assert.Equal(t, "oncall", posts[0]["to"])
	assert.Equal(t, "medispatcher", posts[0]["project"])
	assert.Contains(t, posts[0]["title"], "alerting")
	assert.Contains(t, r.scrape(r.metrics+"/metrics"), `medispatcher_alerts_raised_total{kind="sub_failures"} 1`)
}

// assertRecentStages checks the latency by stage over the recent window
// after the traffic of TestOverviewStatsAndMetricsAfterKnownTraffic. The
// window began before the traffic, at the latest with the test's first
// overview, so until the engine has run a minute it holds all of it.
func assertRecentStages(t *testing.T, got []adminapi.Stage, spanS float64) {
	t.Helper()
	assert.Positive(t, spanS)
	if spanS >= stage.RecentWindow.Seconds() {
		t.Logf("the engine ran %.0f s: the recent window may have left the traffic behind", spanS)
		require.Len(t, got, 6)
		return
	}
	assertStages(t, got)
}

// assertStages checks the latency by stage after the traffic of
// TestOverviewStatsAndMetricsAfterKnownTraffic: 35 messages, 40 pushes of
// which 30 succeeded at once.
func assertStages(t *testing.T, got []adminapi.Stage) {
	t.Helper()
	count := map[string]uint64{}
	var names []string
	for _, s := range got {
		names = append(names, s.Stage)
		count[s.Stage] = s.Count
		if s.Count > 0 {
			assert.Positive(t, s.P50MS, s.Stage)
			assert.LessOrEqual(t, s.P50MS, s.P99MS, s.Stage)
			assert.Positive(t, s.MeanMS, s.Stage)
		}
	}
	assert.Equal(t, []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}, names)
	assert.Equal(t, uint64(35), count["main_wait"])
	assert.Equal(t, uint64(35), count["redist_queue"])
	assert.Equal(t, uint64(40), count["push"])
	assert.Equal(t, uint64(30), count["total"])
}
