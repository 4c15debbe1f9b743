package push

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// Secrets of the tests, as subscribers are given them: whsec_ and the
// base64 of the key.
var (
	testSecret1 = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuv"))
	testSecret2 = "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of twenty-eight!"))
)

// keyOf is the HMAC key of a whsec_ secret, decoded here as a subscriber
// does (not by the daemon's parser).
func keyOf(t testing.TB, secret string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	return k
}

// signedHit is what a subscriber received of one push.
type signedHit struct {
	id, ts, sig string // the webhook-* headers
	webhook     int    // how many headers start with "webhook-"
	jobid       string // the form's jobid
	body        []byte // the raw body
}

// headerSubscriber is a fasthttp subscriber on loopback TCP that records
// the headers and body of each push and answers {"status":1}.
func headerSubscriber(t testing.TB) (string, <-chan signedHit) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hits := make(chan signedHit, 16)
	serveFast(t, ln, func(ctx *fasthttp.RequestCtx) {
		h := signedHit{
			id:    string(ctx.Request.Header.Peek("webhook-id")),
			ts:    string(ctx.Request.Header.Peek("webhook-timestamp")),
			sig:   string(ctx.Request.Header.Peek("webhook-signature")),
			jobid: string(ctx.PostArgs().Peek("jobid")),
			body:  append([]byte(nil), ctx.PostBody()...),
		}
		for k := range ctx.Request.Header.All() {
			if strings.HasPrefix(strings.ToLower(string(k)), "webhook-") {
				h.webhook++
			}
		}
		hits <- h
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":1}`)
	})
	return "http://" + ln.Addr().String(), hits
}

// verifyWebhook checks a push as the Standard Webhooks specification
// tells a subscriber to: the signed content is id "." timestamp "." body,
// the signature header is space-separated "v1,<base64>" entries, and an
// entry is good when it equals the base64 of HMAC-SHA256(key, content).
// It returns, per entry, the index of the secret it verifies with (-1:
// none).
func verifyWebhook(t testing.TB, h signedHit, secrets ...string) []int {
	t.Helper()
	content := h.id + "." + h.ts + "." + string(h.body)
	var out []int
	for _, entry := range strings.Split(h.sig, " ") {
		version, b64, ok := strings.Cut(entry, ",")
		require.True(t, ok, "entry %q", entry)
		require.Equal(t, "v1", version)
		got, err := base64.StdEncoding.DecodeString(b64)
		require.NoError(t, err, "entry %q", entry)
		match := -1
		for i, secret := range secrets {
			mac := hmac.New(sha256.New, keyOf(t, secret))
			mac.Write([]byte(content))
			if hmac.Equal(got, mac.Sum(nil)) {
				match = i
			}
		}
		out = append(out, match)
	}
	return out
}

func nextHit(t testing.TB, hits <-chan signedHit) signedHit {
	t.Helper()
	select {
	case h := <-hits:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber saw no push")
		return signedHit{}
	}
}

// TestPushSigned: a push with a key carries the three headers; the
// signature verifies with the secret, webhook-id is the form's jobid, the
// timestamp is now; a retry (another retry_times, so another body) is
// signed over its own body.
func TestPushSigned(t *testing.T) {
	base, hits := headerSubscriber(t)
	c := NewClient(Config{})
	msg := exampleMsg()
	var r Result
	for _, retry := range []int{0, 3} {
		before := time.Now().Unix()
		c.Push(context.Background(), &Push{URL: base + "/hook?x=1", Msg: msg, SubID: 17, RetryTimes: retry,
			Timeout: 5 * time.Second, Keys: [][]byte{keyOf(t, testSecret1)}}, &r)
		require.True(t, r.OK, "%v %v", r.Kind, r.Err)
		h := nextHit(t, hits)
		assert.Equal(t, 3, h.webhook, "three webhook- headers")
		assert.Equal(t, h.jobid, h.id, "webhook-id is the jobid")
		assert.Equal(t, "1732500000.123456-1-17", h.id)
		ts, err := strconv.ParseInt(h.ts, 10, 64)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, ts, before)
		assert.LessOrEqual(t, ts, time.Now().Unix())
		assert.Equal(t, []int{0}, verifyWebhook(t, h, testSecret1))
		form, err := url.ParseQuery(string(h.body))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(retry), form.Get("retry_times"))
		assert.Equal(t, oldForm(h.jobid, exampleJSON(t), retry), string(h.body), "the body is the 2.x form")
	}
}

// TestPushSignedRotation: two keys give two entries in their order, each
// verifying with its own secret only.
func TestPushSignedRotation(t *testing.T) {
	base, hits := headerSubscriber(t)
	c := NewClient(Config{})
	var r Result
	c.Push(context.Background(), &Push{URL: base + "/hook", Msg: exampleMsg(), SubID: 3, Timeout: 5 * time.Second,
		Keys: [][]byte{keyOf(t, testSecret1), keyOf(t, testSecret2)}}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	h := nextHit(t, hits)
	assert.Len(t, strings.Split(h.sig, " "), 2)
	assert.Equal(t, []int{0, 1}, verifyWebhook(t, h, testSecret1, testSecret2))
	assert.Equal(t, []int{-1, 0}, verifyWebhook(t, h, testSecret2), "a subscriber holding only the new secret verifies the second entry")
}

// TestPushUnsignedHasNoWebhookHeaders: without keys nothing is added.
func TestPushUnsignedHasNoWebhookHeaders(t *testing.T) {
	base, hits := headerSubscriber(t)
	c := NewClient(Config{})
	var r Result
	c.Push(context.Background(), &Push{URL: base + "/hook", Msg: exampleMsg(), SubID: 3, Timeout: 5 * time.Second}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	assert.Zero(t, nextHit(t, hits).webhook)
}

// TestPushSignedLongKey: a key longer than SHA-256's block is hashed
// first, as HMAC defines (validation allows none, the signer copes).
func TestPushSignedLongKey(t *testing.T) {
	base, hits := headerSubscriber(t)
	c := NewClient(Config{})
	long := "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 100)))
	var r Result
	c.Push(context.Background(), &Push{URL: base + "/hook", Msg: exampleMsg(), SubID: 3, Timeout: 5 * time.Second,
		Keys: [][]byte{keyOf(t, long)}}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	assert.Equal(t, []int{0}, verifyWebhook(t, nextHit(t, hits), long))
}
