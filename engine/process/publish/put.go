package publish

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/wire"
)

// putTimeout bounds one message's put, fallback included.
const putTimeout = 10 * time.Second

// redisWait bounds the wait for a Redis connection being made.
const redisWait = 3 * time.Second

// buffers are the scratch space of one message: its msgpack body and its
// job, recycled between messages.
type buffers struct{ body, job []byte }

var bufPool = sync.Pool{New: func() any { return new(buffers) }}

// release returns b to the pool; the buffers of a very large message are
// left to the collector rather than kept.
func (b *buffers) release() {
	if cap(b.job) > 1<<20 || cap(b.body) > 1<<20 {
		b.body, b.job = nil, nil
	}
	bufPool.Put(b)
}

// put publishes one checked message: its main-tube job into beanstalkd,
// or, when no server takes it, onto the recover list. child, when set and
// tracing is on, becomes the context of a message without one.
func (a *API) put(m *adminapi.PublishMessage, child string) (adminapi.PublishResult, *problem) {
	b := bufPool.Get().(*buffers)
	defer b.release()
	job, p := a.job(b, m, child)
	if p != nil {
		return adminapi.PublishResult{}, p
	}
	pri := uint32(wire.Priority)
	if m.Priority != nil {
		pri = *m.Priority
	}
	var delay time.Duration
	if m.Delay != nil {
		delay = time.Duration(*m.Delay) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), putTimeout)
	defer cancel()
	res, err := a.d.Pool.Put(ctx, -1, a.d.Config.NameOfMainQueue, job, pri, delay, wire.TTR)
	switch {
	case err == nil:
		return adminapi.PublishResult{JobID: res.ID, Server: a.servers[res.Server]}, nil
	case errors.Is(err, connpool.ErrJobTooBig):
		// Never to the recover list: the replayer's put would fail alike.
		return adminapi.PublishResult{}, problemf(statusTooLarge, codeTooLarge,
			"job of %d bytes refused by beanstalkd as too big (its max-job-size)", len(job))
	case errors.Is(err, connpool.ErrBadTubeName):
		return adminapi.PublishResult{}, problemf(fasthttp.StatusInternalServerError, codeInternal, "%v", err)
	}
	return a.fallback(ctx, job, err)
}

// job encodes the message's main-tube job into b, exactly as a 2.x
// producer writes it.
func (a *API) job(b *buffers, m *adminapi.PublishMessage, child string) ([]byte, *problem) {
	var err error
	if b.body, err = message.AppendMsgpackJSON(b.body[:0], m.Body); err != nil {
		return nil, problemf(statusInvalid, codeInvalid, "body: %v", err)
	}
	msg := message.Message{
		Topic:      []byte(m.Topic),
		Body:       b.body,
		Sender:     []byte(m.Sender),
		Time:       float64(time.Now().UnixNano()) / 1e9,
		Context:    []byte(m.Context),
		OwlContext: []byte(m.OwlContext),
	}
	if m.Priority != nil {
		msg.Priority = *m.Priority
	}
	if m.Delay != nil {
		msg.Delay = *m.Delay
	}
	if a.d.Tracer != nil && child != "" && len(msg.Context) == 0 {
		msg.Context = []byte(child)
	}
	b.job = message.AppendMainJob(b.job[:0], &msg)
	return b.job, nil
}

// fallback pushes a job no beanstalkd server took onto the recover list,
// as a 2.x producer does; with Redis unreachable too the message is lost
// to this request, which says so (503) and leaves nothing half-done.
func (a *API) fallback(ctx context.Context, job []byte, putErr error) (adminapi.PublishResult, *problem) {
	wctx, cancel := context.WithTimeout(ctx, redisWait)
	c := a.d.Redis(wctx)
	cancel()
	if c == nil {
		return adminapi.PublishResult{}, problemf(statusUnavailable, codeUnavailable,
			"beanstalkd did not take the message (%v) and Redis %s, the recover list's, is not connected", putErr, a.d.Config.Redis.Addr)
	}
	err := c.Do(ctx, c.B().Lpush().Key(a.recoverList).Element(string(job)).Build()).Error()
	if err != nil {
		return adminapi.PublishResult{}, problemf(statusUnavailable, codeUnavailable,
			"beanstalkd did not take the message (%v) and the recover list %s did not either (%v)", putErr, a.recoverList, err)
	}
	if a.fallbackWarn.ok(10 * time.Second) {
		a.d.Log.Warn("publish: beanstalkd did not take a message: it waits in the recover list", "list", a.recoverList, "err", putErr)
	}
	return adminapi.PublishResult{RecoverList: a.recoverList}, nil
}
