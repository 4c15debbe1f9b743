package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/testsrv"
)

// publishedBody is a body with what JSON bodies hold: nested objects and
// arrays, unicode, characters HTML escapes, small, large, negative and
// beyond-int64 integers, floats, booleans and null.
const publishedBody = `{"order":{"id":12345,"items":[{"sku":"é-中","qty":2,"price":9.99},{"sku":"<b>&amp;</b>","qty":-7,"price":1e-7}],
 "big":18446744073709551615,"neg":-9223372036854775808,"huge":1e300,"ratio":0.5,"none":null,"ok":true,"off":false,"emoji":"😀\u2028",
 "empty":{},"list":[]}}`

// producerBody is publishedBody as a msgpack producer encodes it, built by
// hand (keys in another order: subscribers receive them sorted anyway).
func producerBody() []byte {
	item := func(b []byte, sku string, qty int64, price float64) []byte {
		b = msgp.AppendMapHeader(b, 3)
		b = msgp.AppendString(b, "price")
		b = msgp.AppendFloat64(b, price)
		b = msgp.AppendString(b, "qty")
		b = msgp.AppendInt64(b, qty)
		b = msgp.AppendString(b, "sku")
		return msgp.AppendString(b, sku)
	}
	b := msgp.AppendMapHeader(nil, 1)
	b = msgp.AppendString(b, "order")
	b = msgp.AppendMapHeader(b, 12)
	b = msgp.AppendString(b, "list")
	b = msgp.AppendArrayHeader(b, 0)
	b = msgp.AppendString(b, "empty")
	b = msgp.AppendMapHeader(b, 0)
	b = msgp.AppendString(b, "emoji")
	b = msgp.AppendString(b, "😀\u2028")
	b = msgp.AppendString(b, "off")
	b = msgp.AppendBool(b, false)
	b = msgp.AppendString(b, "ok")
	b = msgp.AppendBool(b, true)
	b = msgp.AppendString(b, "none")
	b = msgp.AppendNil(b)
	b = msgp.AppendString(b, "ratio")
	b = msgp.AppendFloat64(b, 0.5)
	b = msgp.AppendString(b, "huge")
	b = msgp.AppendFloat64(b, 1e300)
	b = msgp.AppendString(b, "neg")
	b = msgp.AppendInt64(b, -9223372036854775808)
	b = msgp.AppendString(b, "big")
	b = msgp.AppendUint64(b, 18446744073709551615)
	b = msgp.AppendString(b, "items")
	b = msgp.AppendArrayHeader(b, 2)
	b = item(b, "é-中", 2, 9.99)
	b = item(b, "<b>&amp;</b>", -7, 1e-7)
	b = msgp.AppendString(b, "id")
	return msgp.AppendInt64(b, 12345)
}

// A body published over HTTP and the same body put by a msgpack producer
// reach the subscriber byte-identical.
func TestPublishOverHTTPReachesSubscriberLikeAProducer(t *testing.T) {
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "pub", URL: "/one", Concurrency: 2, AlertEnabled: true},
	)
	api := freeAddr(t)
	cfg := w.configVariant("publish.toml", map[string]string{"ListenAddr": `"` + api + `"`})
	w.startWith(cfg, w.logs)
	waitHTTP(t, "http://"+api+"/healthz", w.logs)

	req := `{"topic":"pub","sender":"shop","context":"ctx-http","body":` + publishedBody + `}`
	resp, err := http.Post("http://"+api+"/api/v1/messages", "application/json", strings.NewReader(req))
	require.NoError(t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 202, resp.StatusCode, "%s", data)
	var res adminapi.PublishResult
	require.NoError(t, json.Unmarshal(data, &res))
	require.NotZero(t, res.JobID)

	m := message.Message{Topic: []byte("pub"), Body: producerBody(), Sender: []byte("shop"), Context: []byte("ctx-producer"), Time: float64(time.Now().Unix())}
	_, err = beanstalk.NewTube(w.bc, "event_center_messages").Put(message.AppendMainJob(nil, &m), 1024, 0, time.Minute)
	require.NoError(t, err)

	hits := w.sub.WaitFor(20*time.Second, "both pushes", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	byContext := map[string]testsrv.Hit{}
	for _, h := range hits {
		byContext[h.Context] = h
	}
	require.Contains(t, byContext, "ctx-http")
	require.Contains(t, byContext, "ctx-producer")
	assert.Equal(t, byContext["ctx-producer"].Message, byContext["ctx-http"].Message, "the subscriber cannot tell them apart")
	assert.Contains(t, byContext["ctx-http"].Message, `"big":18446744073709551615`)
	assert.Contains(t, byContext["ctx-http"].Message, `\u003cb\u003e\u0026amp;\u003c/b\u003e`)
}

// waitHTTP waits for url to answer 200.
func waitHTTP(t *testing.T, url string, logs *testsrv.LogBuffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up: %v\n%s", url, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
