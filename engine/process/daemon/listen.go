package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"medispatcher/connpool"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/process/admin"
	"medispatcher/internal/config"
)

// Limits of the observability servers (DebugAddr, PrometheusApiAddr,
// StatisticApiAddr): they answer GETs, so a request body is refused past a
// few bytes, and a slow or idle client is dropped. The admin API's limits
// are its own (admin.API.Server).
const (
	obsReadTimeout  = 10 * time.Second
	obsWriteTimeout = 10 * time.Second
	// debugWriteTimeout: pprof's answers (a heap profile, a long trace)
	// can be large and slow to send.
	debugWriteTimeout = 120 * time.Second
	obsIdleTimeout    = time.Minute
	obsMaxBody        = 1 << 10
)

// listeners are the daemon's HTTP servers: bound by New, so that an
// address that cannot be listened on stops the start; served by Run, each
// in a goroutine the listeners own; shut down together.
type listeners struct {
	log *slog.Logger
	eps []endpoint
	wg  sync.WaitGroup
}

// endpoint is one served address.
type endpoint struct {
	key  string // the configuration key: DebugAddr, ListenAddr...
	name string // in the start log line: debug, admin...
	addr string // as configured
	srv  *fasthttp.Server
	ln   net.Listener
}

// observability binds DebugAddr (pprof and /metrics), PrometheusApiAddr
// (/metrics only) and StatisticApiAddr (the statistics). An address beyond
// loopback without ExposeObservability is not served: an ERROR line says
// why and the daemon goes on dispatching.
func (l *listeners) observability(cfg *config.Config, pool *connpool.Pool, st *stats.Stats) error {
	for _, ep := range []struct {
		key, name, addr string
		h               fasthttp.RequestHandler
		write           time.Duration
	}{
		{"DebugAddr", "debug", cfg.DebugAddr, debugHandler(pool), debugWriteTimeout},
		{"PrometheusApiAddr", "metrics", cfg.PrometheusApiAddr, metricsHandler(pool), obsWriteTimeout},
		{"StatisticApiAddr", "statistics", cfg.StatisticApiAddr, st.Handler(), obsWriteTimeout},
	} {
		if ep.addr == "" {
			continue
		}
		if ep.key == "PrometheusApiAddr" && ep.addr == cfg.DebugAddr {
			continue // DebugAddr serves /metrics too
		}
		if why := cfg.ObservabilityRefused(ep.key); why != "" {
			// Not served is not served: DebugAddr sharing the address
			// does not make /metrics reachable either.
			l.log.Error(ep.key+" not served: set ExposeObservability = true or a loopback address",
				"addr", ep.addr, "why", why)
			continue
		}
		s := &fasthttp.Server{
			Handler:            ep.h,
			Name:               "medispatcher",
			ReadTimeout:        obsReadTimeout,
			WriteTimeout:       ep.write,
			IdleTimeout:        obsIdleTimeout,
			MaxRequestBodySize: obsMaxBody,
			CloseOnShutdown:    true,
		}
		ln, err := net.Listen("tcp", ep.addr)
		if err != nil {
			return fmt.Errorf("listen on %s %s: %w", ep.key, ep.addr, err)
		}
		l.eps = append(l.eps, endpoint{key: ep.key, name: ep.name, addr: ep.addr, srv: s, ln: ln})
	}
	return nil
}

// admin binds the admin API on ListenAddr, over TLS when
// AdminTLSCertFile and AdminTLSKeyFile are set; a certificate that does
// not load is an error at start.
func (l *listeners) admin(cfg *config.Config, api *admin.API) error {
	var tc *tls.Config
	if cfg.AdminTLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.AdminTLSCertFile, cfg.AdminTLSKeyFile)
		if err != nil {
			return fmt.Errorf("admin API TLS: load AdminTLSCertFile %s and AdminTLSKeyFile %s: %w",
				cfg.AdminTLSCertFile, cfg.AdminTLSKeyFile, err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("admin API: listen on ListenAddr %s: %w", cfg.ListenAddr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	l.eps = append(l.eps, endpoint{key: "ListenAddr", name: "admin", addr: cfg.ListenAddr, srv: api.Server(), ln: ln})
	return nil
}

// serve serves every bound endpoint until shutdown.
func (l *listeners) serve() {
	for _, ep := range l.eps {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := ep.srv.Serve(ep.ln); err != nil {
				l.log.Error("http server stopped", "key", ep.key, "addr", ep.addr, "err", err)
			}
		}()
	}
}

// served lists the endpoints for the start log line, as name, address
// pairs: only those served, at the address bound (an address with port 0
// gets its real port).
func (l *listeners) served() []any {
	out := make([]any, 0, 2*len(l.eps))
	for _, ep := range l.eps {
		out = append(out, ep.name, ep.ln.Addr().String())
	}
	return out
}

// shutdown stops every server, bounded: an idle browser connection must
// not hold the exit. Closing the listener too ends a Serve that had not
// yet registered it when Shutdown ran, or that never ran; then it waits
// for the Serve goroutines.
func (l *listeners) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, ep := range l.eps {
		_ = ep.srv.ShutdownWithContext(sctx)
		_ = ep.ln.Close()
	}
	l.wg.Wait()
}

var pprofRoute = pprofhandler.PprofHandler

// debugHandler serves pprof and /metrics (DebugAddr).
func debugHandler(pool *connpool.Pool) fasthttp.RequestHandler {
	m := metricsHandler(pool)
	return func(ctx *fasthttp.RequestCtx) {
		switch path := string(ctx.Path()); {
		case path == "/debug/pprof" || strings.HasPrefix(path, "/debug/pprof/"):
			pprofRoute(ctx)
		case path == "/metrics":
			m(ctx)
		default:
			ctx.Error("not found: try /metrics or /debug/pprof/", fasthttp.StatusNotFound)
		}
	}
}

// metricsHandler serves /metrics (the registry, Go runtime, and the pool's
// link gauges) and nothing else (PrometheusApiAddr).
func metricsHandler(pool *connpool.Pool) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/metrics" {
			ctx.Error("not found: try /metrics", fasthttp.StatusNotFound)
			return
		}
		ctx.SetContentType("text/plain; version=0.0.4")
		metrics.WritePrometheus(ctx, true)
		writePoolMetrics(ctx, pool)
	}
}
