package pubload

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// apiServer is a small in-test server of the publish wire: it accepts
// every message with a topic, counts requests and messages, and keeps the
// messages it took.
type apiServer struct {
	addr     string
	token    string        // required bearer token; "" = none
	delay    time.Duration // before each answer
	fallback bool          // answer recover_list instead of a job id
	requests atomic.Int64
	nextID   atomic.Uint64

	mu   sync.Mutex
	msgs []map[string]any
}

func startAPI(t *testing.T, s *apiServer) *apiServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	srv := &fasthttp.Server{Handler: s.handle}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

func (s *apiServer) handle(ctx *fasthttp.RequestCtx) {
	s.requests.Add(1)
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.token != "" && string(ctx.Request.Header.Peek("Authorization")) != "Bearer "+s.token {
		apiError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "bearer token required")
		return
	}
	switch string(ctx.Path()) {
	case PathMessages:
		var m map[string]any
		if json.Unmarshal(ctx.PostBody(), &m) != nil {
			apiError(ctx, fasthttp.StatusBadRequest, "bad_request", "not JSON")
			return
		}
		a, status := s.take(m)
		if a.Error != nil {
			apiError(ctx, status, a.Error.Code, a.Error.Message)
			return
		}
		answer(ctx, fasthttp.StatusAccepted, a)
	case PathBatch:
		var env struct {
			Messages []map[string]any `json:"messages"`
		}
		if json.Unmarshal(ctx.PostBody(), &env) != nil || env.Messages == nil {
			apiError(ctx, fasthttp.StatusBadRequest, "bad_request", "no messages array")
			return
		}
		res := make([]Answer, len(env.Messages))
		for i, m := range env.Messages {
			res[i], _ = s.take(m)
		}
		answer(ctx, fasthttp.StatusOK, map[string]any{"results": res})
	default:
		apiError(ctx, fasthttp.StatusNotFound, "not_found", "no such route")
	}
}

// take accepts m when it has a topic, answering as the API would.
func (s *apiServer) take(m map[string]any) (Answer, int) {
	if topic, _ := m["topic"].(string); topic == "" || strings.HasPrefix(topic, "bad") {
		return Answer{Error: &APIError{Code: "invalid", Message: "topic is required"}}, fasthttp.StatusUnprocessableEntity
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	if s.fallback {
		return Answer{RecoverList: "event_center_message_in_failure_log:publish"}, fasthttp.StatusAccepted
	}
	return Answer{JobID: s.nextID.Add(1), Server: "127.0.0.1:11300"}, fasthttp.StatusAccepted
}

func (s *apiServer) messages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.msgs...)
}

func answer(ctx *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func apiError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	answer(ctx, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
