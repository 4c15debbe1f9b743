package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
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

// listeners are the daemon's HTTP servers, shut down together.
type listeners struct {
	log     *slog.Logger
	servers []*fasthttp.Server
}

// observability serves DebugAddr (pprof and /metrics), PrometheusApiAddr
// (/metrics only) and StatisticApiAddr (the statistics). An address beyond
// loopback without ExposeObservability is not served: an ERROR line says
// why and the daemon goes on dispatching.
func (l *listeners) observability(cfg *config.Config, pool *connpool.Pool, st *stats.Stats) error {
	for _, ep := range []struct {
		key, addr string
		h         fasthttp.RequestHandler
		write     time.Duration
	}{
		{"DebugAddr", cfg.DebugAddr, debugHandler(pool), debugWriteTimeout},
		{"PrometheusApiAddr", cfg.PrometheusApiAddr, metricsHandler(pool), obsWriteTimeout},
		{"StatisticApiAddr", cfg.StatisticApiAddr, st.Handler(), obsWriteTimeout},
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
		l.serve(s, ln, ep.key, ep.addr)
	}
	return nil
}

// admin serves the admin API on ListenAddr, over TLS when
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
	l.serve(api.Server(), ln, "ListenAddr", cfg.ListenAddr)
	return nil
}

func (l *listeners) serve(s *fasthttp.Server, ln net.Listener, key, addr string) {
	l.servers = append(l.servers, s)
	go func() {
		if err := s.Serve(ln); err != nil {
			l.log.Error("http server stopped", "key", key, "addr", addr, "err", err)
		}
	}()
}

// shutdown stops every server, bounded: an idle browser connection must
// not hold the exit.
func (l *listeners) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range l.servers {
		_ = s.ShutdownWithContext(sctx)
	}
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
