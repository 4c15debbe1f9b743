package ceiling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// HTTP returns form POSTs per second from a fasthttp client to a fasthttp
// server answering {"status":1}, both on loopback.
func HTTP(ctx context.Context, cfg Config) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("ceiling: listen: %w", err)
	}
	ok := []byte(`{"status":1}`)
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		_ = c.PostArgs().Peek("message")
		c.Response.SetBodyRaw(ok)
	}, NoDefaultServerHeader: true, NoDefaultDate: true}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown(); _ = ln.Close() }()

	url := "http://" + ln.Addr().String() + "/s/1?jobid=1.000000-1-1&retry_times=0"
	form := []byte("jobid=1.000000-1-1&message=" + strings.Repeat("x", cfg.Size) + "&retry_times=0")
	client := &fasthttp.Client{MaxConnsPerHost: cfg.HTTPConns}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var n atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.HTTPConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for ctx.Err() == nil {
				req.Reset()
				req.SetRequestURI(url)
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/x-www-form-urlencoded")
				req.SetBodyRaw(form)
				if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if p := firstErr.Load(); p != nil && n.Load() == 0 {
		return 0, fmt.Errorf("ceiling: http: %w", *p)
	} else if p != nil && !errors.Is(*p, context.DeadlineExceeded) {
		return float64(n.Load()) / el, nil
	}
	return float64(n.Load()) / el, nil
}
