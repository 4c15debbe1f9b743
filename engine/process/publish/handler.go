package publish

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/ops/adminapi"
)

// HTTP statuses and error codes of the answers (the admin API's codes).
const (
	statusBadRequest  = fasthttp.StatusBadRequest
	statusInvalid     = fasthttp.StatusUnprocessableEntity
	statusTooLarge    = fasthttp.StatusRequestEntityTooLarge
	statusUnavailable = fasthttp.StatusServiceUnavailable

	codeBadRequest       = "bad_request"
	codeInvalid          = "invalid"
	codeTooLarge         = "too_large"
	codeConflict         = "conflict"
	codeUnavailable      = "unavailable"
	codeMethodNotAllowed = "method_not_allowed"
	codeInternal         = "internal"
)

// problem is an error answer: its HTTP status and the error object.
type problem struct {
	status int
	adminapi.Problem
}

func (p *problem) Error() string { return p.Code + ": " + p.Message }

func problemf(status int, code, format string, args ...any) *problem {
	return &problem{status: status, Problem: adminapi.Problem{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// answer is a complete answer: status and JSON body.
type answer struct {
	status int
	body   []byte
}

func jsonAnswer(status int, v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		// The answer types always encode; this is a bug.
		b = []byte(`{"error":{"code":"internal","message":"answer not encodable"}}`)
		status = fasthttp.StatusInternalServerError
	}
	return answer{status: status, body: append(b, '\n')}
}

func problemAnswer(p *problem) answer {
	return jsonAnswer(p.status, adminapi.ErrorAnswer{Error: &p.Problem})
}

// Serve answers a publish request on route (RouteMessages or RouteBatch)
// that the caller authorized with token (empty when none was needed); the
// Idempotency-Key of a request is scoped by that token.
func (a *API) Serve(ctx *fasthttp.RequestCtx, route string, token []byte) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", fasthttp.MethodPost)
		a.write(ctx, problemAnswer(problemf(fasthttp.StatusMethodNotAllowed, codeMethodNotAllowed, "%s not allowed here", ctx.Method())), false)
		return
	}
	body := ctx.PostBody()
	var msgs []json.RawMessage
	var p *problem
	switch {
	case len(body) > a.d.Config.PublishMaxBodyBytes:
		p = problemf(statusTooLarge, codeTooLarge, "request body above %d bytes (PublishMaxBodyBytes)", a.d.Config.PublishMaxBodyBytes)
	case route == RouteBatch:
		msgs, p = decodeBatch(body, a.d.Config.PublishMaxBatch)
	default:
		msgs = []json.RawMessage{body}
	}
	child, end := a.startTrace(ctx, route, len(msgs))
	ans, replay := a.idempotent(ctx, token, p, func() answer {
		if p != nil {
			return problemAnswer(p)
		}
		return a.publish(route, msgs, child)
	})
	a.write(ctx, ans, replay)
	if end != nil {
		var err error
		if ans.status >= 400 {
			err = fmt.Errorf("publish: %s", ans.body)
		}
		end(ans.status, err)
	}
}

func (a *API) startTrace(ctx *fasthttp.RequestCtx, route string, n int) (string, func(int, error)) {
	if a.d.Tracer == nil {
		return "", nil
	}
	return a.d.Tracer.StartPublish(string(ctx.Request.Header.Peek("traceparent")), route, n)
}

func (a *API) write(ctx *fasthttp.RequestCtx, ans answer, replay bool) {
	ctx.SetStatusCode(ans.status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if replay {
		ctx.Response.Header.Set(adminapi.ReplayHeader, "true")
	}
	ctx.SetBody(ans.body)
}

// publish puts the messages of a request and makes its answer: a single
// message is 202 with its result or its error's status; a batch is 200
// with one result per message, errors included.
func (a *API) publish(route string, msgs []json.RawMessage, child string) answer {
	if route != RouteBatch {
		m, p := decodeMessage(msgs[0], "body")
		if p == nil {
			var res adminapi.PublishResult
			if res, p = a.put(m, child); p == nil {
				return jsonAnswer(fasthttp.StatusAccepted, res)
			}
		}
		return problemAnswer(p)
	}
	results := make([]adminapi.PublishResult, len(msgs))
	eachParallel(len(msgs), func(i int) {
		m, p := decodeMessage(msgs[i], messageName(i))
		if p == nil {
			results[i], p = a.put(m, child)
		}
		if p != nil {
			results[i] = adminapi.PublishResult{Error: &p.Problem}
		}
	})
	return jsonAnswer(fasthttp.StatusOK, adminapi.PublishBatchResult{Results: results})
}

// batchWorkers bounds the puts of one batch in flight at once: the pool
// pipelines them, so a few dozen keep its links busy.
const batchWorkers = 32

// eachParallel calls f for 0..n-1 on up to batchWorkers goroutines.
func eachParallel(n int, f func(i int)) {
	workers := min(n, batchWorkers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// warnEvery lets a warning through at most once per interval.
type warnEvery struct{ last atomic.Int64 }

func (w *warnEvery) ok(every time.Duration) bool {
	now := time.Now().UnixNano()
	last := w.last.Load()
	return now-last >= int64(every) && w.last.CompareAndSwap(last, now)
}
