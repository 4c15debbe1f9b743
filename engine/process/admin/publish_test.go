package admin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
)

const publishToken = "publish-token-0123456789"

func TestPublishAuth(t *testing.T) {
	r := start(t, fmt.Sprintf("PublishTokens = [%q]\nPublishMaxBodyBytes = 200000\n", publishToken))
	msg := map[string]any{"topic": "t", "body": map[string]any{"a": 1}}
	var res adminapi.PublishResult
	require.Equal(t, 202, r.call("POST", "/api/v1/messages", token, msg, &res), "the admin token publishes")
	assert.NotZero(t, res.JobID)
	require.Equal(t, 202, r.call("POST", "/api/v1/messages", publishToken, msg, &res), "a publish token publishes")
	assert.NotZero(t, res.JobID)
	var batch adminapi.PublishBatchResult
	require.Equal(t, 200, r.call("POST", "/api/v1/messages/batch", publishToken, map[string]any{"messages": []any{msg, msg}}, &batch))
	assert.Len(t, batch.Results, 2)

	r.fail("GET", "/api/v1/subscriptions", publishToken, nil, 403, "forbidden")
	r.fail("POST", "/api/v1/kick", publishToken, map[string]any{}, 403, "forbidden")
	r.fail("POST", "/api/v1/messages", "wrong-token-0123456789", msg, 401, "unauthorized")
	r.fail("POST", "/api/v1/messages", "", msg, 401, "unauthorized")
	r.fail("GET", "/api/v1/messages", publishToken, nil, 405, "method_not_allowed")

	// The publish routes take bodies up to PublishMaxBodyBytes, the others
	// keep theirs.
	big := map[string]any{"topic": "t", "body": strings.Repeat("x", 100000)}
	require.Equal(t, 202, r.call("POST", "/api/v1/messages", publishToken, big, &res), "above adminapi.MaxBody")
	r.tooLarge("/api/v1/subscriptions")
	announceTooLarge(t, r.api, "/api/v1/messages", 200001)
}

// announceTooLarge asserts that a publish request announcing a body above
// PublishMaxBodyBytes is answered 413 before its body is sent.
func announceTooLarge(t *testing.T, api, path string, n int) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(api, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, publishToken, n)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 413, resp.StatusCode, "%s", data)
	var e apiErr
	require.NoError(t, json.Unmarshal(data, &e))
	assert.Equal(t, "too_large", e.Error.Code)
	assert.Contains(t, e.Error.Message, "200000")
}

func TestPublishWithoutTokensOnLoopback(t *testing.T) {
	r := startOn(t, "", "", "")
	var res adminapi.PublishResult
	require.Equal(t, 202, r.call("POST", "/api/v1/messages", "", map[string]any{"topic": "t", "body": nil}, &res))
	assert.NotZero(t, res.JobID)
	// Browser guards still apply: a write must be JSON.
	req, err := http.NewRequest("POST", r.api+"/api/v1/messages", strings.NewReader(`{"topic":"t","body":1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 415, resp.StatusCode)
}
