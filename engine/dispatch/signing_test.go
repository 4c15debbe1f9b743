package dispatch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webhookPush is one push as a signature-checking subscriber saw it.
type webhookPush struct {
	path             string
	id, ts, sig      string // the webhook-* headers ("" when absent)
	jobid, retry     string // form fields
	body             []byte
	webhookHeaderCnt int
}

// webhookSubscriber is an HTTP subscriber recording the signature
// headers and raw body of every push; answer decides the status of the
// n-th push (1-based).
type webhookSubscriber struct {
	url    string
	mu     sync.Mutex
	pushes []webhookPush
}

func newWebhookSubscriber(t *testing.T, answer func(n int) int) *webhookSubscriber {
	t.Helper()
	ws := &webhookSubscriber{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		form, _ := url.ParseQuery(string(body))
		p := webhookPush{path: req.URL.Path, body: body, jobid: form.Get("jobid"), retry: form.Get("retry_times"),
			id: req.Header.Get("webhook-id"), ts: req.Header.Get("webhook-timestamp"), sig: req.Header.Get("webhook-signature")}
		for name := range req.Header {
			if strings.HasPrefix(strings.ToLower(name), "webhook-") {
				p.webhookHeaderCnt++
			}
		}
		ws.mu.Lock()
		ws.pushes = append(ws.pushes, p)
		n := len(ws.pushes)
		ws.mu.Unlock()
		w.WriteHeader(answer(n))
		_, _ = io.WriteString(w, `{"status":1}`)
	}))
	t.Cleanup(srv.Close)
	ws.url = srv.URL
	return ws
}

// waitPushes waits until the subscriber saw at least n pushes.
func (ws *webhookSubscriber) waitPushes(t *testing.T, n int) []webhookPush {
	t.Helper()
	var out []webhookPush
	require.Eventually(t, func() bool {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		out = append(out[:0], ws.pushes...)
		return len(out) >= n
	}, 20*time.Second, 10*time.Millisecond, "%d pushes", n)
	return out
}

// signedBy reports whether entry ("v1,<base64>") of webhook-signature is
// the Standard Webhooks signature of p with secret ("whsec_<base64 key>"):
// HMAC-SHA256 over id "." timestamp "." body.
func signedBy(t *testing.T, p webhookPush, entry, secret string) bool {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	want := hmac.New(sha256.New, key)
	want.Write([]byte(p.id + "." + p.ts + "." + string(p.body)))
	b64, ok := strings.CutPrefix(entry, "v1,")
	require.True(t, ok, entry)
	got, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err, entry)
	return hmac.Equal(got, want.Sum(nil))
}

// TestSignedPushesAndRetries: a subscription with signing secrets has its
// first push and its retry signed with each secret (webhook-id the jobid
// of that push, the timestamp now); one without secrets on the same topic
// gets no webhook header; a change of secrets applies live.
func TestSignedPushesAndRetries(t *testing.T) {
	oldSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the old signing key, 32 bytes!!!"))
	newSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the new signing key of 30 bytes"))
	var failed sync.Once
	ws := newWebhookSubscriber(t, func(int) int {
		status := 200
		failed.Do(func() { status = 503 }) // the first push fails: a retry follows
		return status
	})
	signed := sub(1, "order_paid", ws.url+"/signed")
	signed.SigningSecrets = []string{newSecret, oldSecret}
	r := newRig(t, Options{RetryCoe: 10 * time.Millisecond, MaxRetries: 3}, signed)
	r.produce("order_paid", msgpackBody("a", 1), "")
	pushes := ws.waitPushes(t, 2)
	for i, p := range pushes[:2] {
		assert.Equal(t, strconv.Itoa(i), p.retry, "first push, then its retry")
		assert.Equal(t, 3, p.webhookHeaderCnt)
		assert.Equal(t, p.jobid, p.id, "webhook-id is the push's jobid")
		ts, err := strconv.ParseInt(p.ts, 10, 64)
		require.NoError(t, err)
		assert.InDelta(t, time.Now().Unix(), ts, 10)
		entries := strings.Split(p.sig, " ")
		require.Len(t, entries, 2)
		assert.True(t, signedBy(t, p, entries[0], newSecret))
		assert.True(t, signedBy(t, p, entries[1], oldSecret))
		assert.False(t, signedBy(t, p, entries[0], oldSecret))
	}

	// The old secret retired, an unsigned subscription added: live.
	signed2 := *signed
	signed2.SigningSecrets = []string{newSecret}
	applied := r.eng.Changed()
	r.src.set(t, &signed2, sub(2, "order_paid", ws.url+"/plain"))
	select {
	case <-applied:
	case <-time.After(10 * time.Second):
		t.Fatal("the new set was not applied")
	}
	require.True(t, r.eng.Subscriptions().ByID(1).Equal(&signed2))
	r.produce("order_paid", msgpackBody("b", 2), "")
	pushes = ws.waitPushes(t, 4)
	byPath := map[string]webhookPush{}
	for _, p := range pushes[2:] {
		byPath[p.path] = p
	}
	require.Len(t, byPath, 2)
	assert.Zero(t, byPath["/plain"].webhookHeaderCnt, "no webhook header without secrets")
	s := byPath["/signed"]
	require.NotContains(t, s.sig, " ", "one secret, one entry")
	assert.True(t, signedBy(t, s, s.sig, newSecret))
	r.stop()
}
