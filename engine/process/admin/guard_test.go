package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/process/admin"
)

// raw does one request with exactly the headers given (a "Host" entry
// replaces the Host header) and returns the status and the error code of
// the answer ("" when it is not an error).
func (r *rig) raw(method, path, body string, headers map[string]string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.api+path, strings.NewReader(body))
	require.NoError(r.t, err)
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	var e apiErr
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e.Error.Code
}

// TestBrowserCannotDriveTheAPI: what a web page in a browser can send to
// the admin API (a cross-site form post, a no-cors fetch, a DNS-rebound
// page) is refused before it acts, and the queue it aimed at keeps its
// jobs; the same clean sent as JSON from the API's own origin deletes
// them.
func TestBrowserCannotDriveTheAPI(t *testing.T) {
	r := start(t, `AdminAllowedHosts = ["medispatcher.internal", "ops.example:8443"]`)
	ch := r.create(1, "guarded", "/g", nil)
	// Delayed jobs in the subscription's channel tube: the engine leaves
	// them alone for an hour, a clean with "delayed" deletes them.
	tube := beanstalk.NewTube(r.bc, ch.Subscription.Tubes.Channel)
	for i := 0; i < 5; i++ {
		_, err := tube.Put([]byte("job"), 1024, time.Hour, time.Minute)
		require.NoError(t, err)
	}
	delayed := func() string {
		st, err := tube.Stats()
		require.NoError(t, err)
		return st["current-jobs-delayed"]
	}
	require.Equal(t, "5", delayed())

	const clean = "/api/v1/subscriptions/1/clean"
	body := `{"delayed": true}`
	bearer := "Bearer " + token
	self := strings.TrimPrefix(r.api, "http://")
	for _, c := range []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string]string
		status  int
		code    string
	}{
		{"cross-site text/plain form post", "POST", clean, body, map[string]string{
			"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example", "Authorization": bearer,
		}, 403, admin.CodeCrossSite},
		{"text/plain from a browser without fetch metadata", "POST", clean, body, map[string]string{
			"Content-Type": "text/plain", "Authorization": bearer,
		}, 415, admin.CodeUnsupportedMediaType},
		{"form-urlencoded", "POST", clean, "delayed=true", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Authorization": bearer,
		}, 415, admin.CodeUnsupportedMediaType},
		{"no Content-Type", "POST", clean, body, map[string]string{"Authorization": bearer}, 415, admin.CodeUnsupportedMediaType},
		{"JSON with a foreign Origin", "POST", clean, body, map[string]string{
			"Content-Type": "application/json", "Origin": "http://evil.example", "Authorization": bearer,
		}, 403, admin.CodeCrossSite},
		{"JSON with Origin null (sandboxed frame)", "POST", clean, body, map[string]string{
			"Content-Type": "application/json", "Origin": "null", "Authorization": bearer,
		}, 403, admin.CodeCrossSite},
		{"same-site page", "POST", clean, body, map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "same-site", "Authorization": bearer,
		}, 403, admin.CodeCrossSite},
		{"DNS rebinding: foreign Host", "POST", clean, body, map[string]string{
			"Content-Type": "application/json", "Host": "evil.example:5601", "Authorization": bearer,
		}, 421, admin.CodeHostNotAllowed},
		{"DELETE with a text/plain body", "DELETE", "/api/v1/subscriptions/1", "x", map[string]string{
			"Content-Type": "text/plain", "Authorization": bearer,
		}, 415, admin.CodeUnsupportedMediaType},
		{"read through a rebound name", "GET", "/api/v1/info", "", map[string]string{
			"Host": "evil.example:5601", "Authorization": bearer,
		}, 421, admin.CodeHostNotAllowed},
		{"status page through a rebound name", "GET", "/", "", map[string]string{"Host": "evil.example"}, 421, admin.CodeHostNotAllowed},
		{"allowed host on another port than listed", "GET", "/api/v1/info", "", map[string]string{
			"Host": "ops.example:9443", "Authorization": bearer,
		}, 421, admin.CodeHostNotAllowed},
		{"a name ending like an allowed one", "GET", "/api/v1/info", "", map[string]string{
			"Host": "medispatcher.internal.evil.example", "Authorization": bearer,
		}, 421, admin.CodeHostNotAllowed},
		{"cross-site read", "GET", "/api/v1/info", "", map[string]string{
			"Sec-Fetch-Site": "cross-site", "Authorization": bearer,
		}, 403, admin.CodeCrossSite},
	} {
		status, code := r.raw(c.method, c.path, c.body, c.headers)
		assert.Equal(t, c.status, status, c.name)
		assert.Equal(t, c.code, code, c.name)
	}
	assert.Equal(t, "5", delayed(), "no refused request touched the queue")
	drops, err := os.ReadDir(r.cfg.DropMessageLogDir)
	if err == nil {
		assert.Empty(t, drops, "nothing was cleaned into the drop log")
	}

	// What the API answers to: its address, loopback names with its port,
	// AdminAllowedHosts (an entry without a port: any port), the status
	// page's own same-origin fetch, a navigation, and /healthz by any name.
	port := self[strings.LastIndexByte(self, ':'):]
	for _, h := range []map[string]string{
		{"Host": self},
		{"Host": "localhost" + port},
		{"Host": "LOCALHOST" + port},
		{"Host": "[::1]" + port},
		{"Host": "medispatcher.internal"},
		{"Host": "medispatcher.internal:443"},
		{"Host": "ops.example:8443"},
		{"Sec-Fetch-Site": "same-origin", "Origin": r.api},
		{"Sec-Fetch-Site": "none"},
	} {
		h["Authorization"] = bearer
		status, code := r.raw("GET", "/api/v1/info", "", h)
		assert.Equal(t, 200, status, "%v: %s", h, code)
	}
	status, _ := r.raw("GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, 200, status, "a link to the status page from another site opens it")
	status, _ = r.raw("GET", "/healthz", "", map[string]string{"Host": "10.1.2.3:5601"})
	assert.Equal(t, 200, status, "a load balancer probes /healthz by address")

	// The same clean, as JSON from the API's own origin, deletes the jobs:
	// the refusals above were the headers', not the request's.
	status, code := r.raw("POST", clean, body, map[string]string{
		"Content-Type": "application/json; charset=utf-8", "Sec-Fetch-Site": "same-origin", "Origin": r.api, "Authorization": bearer,
	})
	require.Equal(t, 200, status, code)
	assert.Equal(t, "0", delayed())
}
