// Package ceiling measures what the machine can do without medispatcher:
// the bare beanstalkd dispatch cycle (put main → reserve → put channel →
// delete → reserve channel → delete) over raw pipelined connections, and
// fasthttp client→server requests per second on loopback. Benchmark
// scenarios are reported as a ratio to these figures, measured in the same
// run on the same machine.
//
// It uses its own tubes ("ceiling.*") on the server it is given and must
// never be pointed at a server that carries real traffic.
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

	"medispatcher/internal/wire"
	"medispatcher/loadgen/bstalk"
)

// Config of a measurement.
type Config struct {
	Beanstalkd string        // loopback beanstalkd
	Duration   time.Duration // of each of the two measurements; default 5 s
	Size       int           // job / form body size; default 512
	Pipelines  int           // concurrent dispatch cycles; default 4
	Batch      int           // jobs per pipelined step; default 64
	HTTPConns  int           // concurrent HTTP requests; default 64
}

// Result of a measurement.
type Result struct {
	CycleRate float64 `json:"beanstalkd_cycle_per_s"`
	HTTPRate  float64 `json:"fasthttp_req_per_s"`
}

// Measure runs both measurements one after the other.
func Measure(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Size <= 0 {
		cfg.Size = 512
	}
	if cfg.Pipelines <= 0 {
		cfg.Pipelines = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.HTTPConns <= 0 {
		cfg.HTTPConns = 64
	}
	var r Result
	var err error
	if r.CycleRate, err = Cycle(ctx, cfg); err != nil {
		return r, err
	}
	r.HTTPRate, err = HTTP(ctx, cfg)
	return r, err
}

// Cycle returns full dispatch cycles per second.
func Cycle(ctx context.Context, cfg Config) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Pipelines)
	start := time.Now()
	for w := range cfg.Pipelines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pipeline(ctx, cfg, w, &done); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(done.Load()) / el, nil
}

func pipeline(ctx context.Context, cfg Config, w int, done *atomic.Int64) error {
	mainTube := fmt.Sprintf("ceiling.main.%d", w)
	chTube := fmt.Sprintf("ceiling.ch.%d", w)
	var conns [3]*bstalk.Conn // producer, main reserver, channel reserver
	for i := range conns {
		c, err := bstalk.Dial(cfg.Beanstalkd, 5*time.Second)
		if err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		defer c.Close()
		conns[i] = c
	}
	prod, resMain, resCh := conns[0], conns[1], conns[2]
	for _, s := range []struct {
		c    *bstalk.Conn
		tube string
	}{{resMain, mainTube}, {resCh, chTube}} {
		if err := s.c.Do(&bstalk.Request{Op: bstalk.OpWatch, Tube: s.tube}); err != nil {
			return fmt.Errorf("ceiling: watch %s: %w", s.tube, err)
		}
		if err := s.c.Do(&bstalk.Request{Op: bstalk.OpIgnore, Tube: "default"}); err != nil {
			return fmt.Errorf("ceiling: ignore default: %w", err)
		}
	}
	body := []byte(strings.Repeat("x", cfg.Size))
	B := cfg.Batch
	puts := make([]bstalk.Request, B)
	res := make([]bstalk.Request, B)
	dels := make([]bstalk.Request, B)
	wait := func(rs []bstalk.Request) error {
		for i := range rs {
			if err := rs[i].Wait(); err != nil {
				return fmt.Errorf("ceiling: op %d: %w", rs[i].Op, err)
			}
		}
		return nil
	}
	for ctx.Err() == nil {
		for i := range puts { // put main
			puts[i] = bstalk.Request{Op: bstalk.OpPut, Tube: mainTube, Body: body, Pri: wire.Priority, TTR: wire.TTRSeconds}
			prod.Send(&puts[i])
		}
		if err := wait(puts); err != nil {
			return err
		}
		for _, stage := range []struct {
			res  *bstalk.Conn
			next string
		}{{resMain, chTube}, {resCh, ""}} {
			for i := range res { // reserve
				res[i].Op, res[i].Timeout = bstalk.OpReserve, 1
				stage.res.Send(&res[i])
			}
			if err := wait(res); err != nil {
				return err
			}
			for i := range res { // put channel, delete
				if stage.next != "" {
					puts[i] = bstalk.Request{Op: bstalk.OpPut, Tube: stage.next, Body: res[i].Body, Pri: wire.Priority, TTR: wire.TTRSeconds}
					prod.Send(&puts[i])
				}
				dels[i] = bstalk.Request{Op: bstalk.OpDelete, ID: res[i].ID}
				stage.res.Send(&dels[i])
			}
			if stage.next != "" {
				if err := wait(puts); err != nil {
					return err
				}
			}
			if err := wait(dels); err != nil {
				return err
			}
		}
		done.Add(int64(B))
	}
	return nil
}

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
