package alert

import (
	"encoding/json"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// request is what the gateway server received.
type request struct {
	method, path, contentType string
	body                      []byte
}

// gatewayServer is a real fasthttp server on a loopback port answering
// every request with status and body.
type gatewayServer struct {
	url  string
	got  chan request
	hits atomic.Int32
}

func startGatewayServer(tb testing.TB, status int, answer string) *gatewayServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	gs := &gatewayServer{url: "http://" + ln.Addr().String() + "/send", got: make(chan request, 64)}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		gs.hits.Add(1)
		gs.got <- request{
			method:      string(ctx.Method()),
			path:        string(ctx.Path()),
			contentType: string(ctx.Request.Header.ContentType()),
			body:        append([]byte(nil), ctx.PostBody()...),
		}
		ctx.SetStatusCode(status)
		ctx.SetBodyString(answer)
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return gs
}

func (gs *gatewayServer) next(tb testing.TB) request {
	tb.Helper()
	select {
	case r := <-gs.got:
		return r
	case <-time.After(10 * time.Second):
		tb.Fatal("gateway server got no request within 10 s")
		return request{}
	}
}

// emailGatewayConfig is an [AlerterEmail] section as operators write it.
func emailGatewayConfig(gwURL, format, ack string) func(*config.Config) {
	return func(c *config.Config) {
		c.AlerterEmail = config.AlerterConfig{
			Gateway:  gwURL,
			Format:   format,
			User:     "task-7",
			Password: "s3cret",
			From:     "medis@example.com",
			AckStr:   ack,
			PostFieldsMap: map[string]string{
				"Recipient": "email_destinations",
				"Subject":   "email_subject",
				"content":   "email_content", // matched without regard to case
				"User":      "task",
				"From":      "", // not sent
				"project":   "medispatcher",
				"level":     "p2",
			},
		}
	}
}

func alertingSub(tb testing.TB) *subs.Subscription {
	return newSub(tb, 17, func(s *subs.Subscription) {
		s.AlertEmails = "a@example.com,b@example.com"
		s.AlertBacklogThreshold = 1
	})
}

func TestHTTPGatewayFields(t *testing.T) {
	for _, format := range []string{"form", "json"} {
		t.Run(format, func(t *testing.T) {
			gs := startGatewayServer(t, fasthttp.StatusOK, `{"result":"sent ok"}`)
			opt, got := deliveries()
			m, _ := newMonitor(t, emailGatewayConfig(gs.url, format, "sent"), opt)
			runMonitor(t, m)
			m.ChannelBacklog(alertingSub(t), 10)

			r := gs.next(t)
			a := m.Recent(1)[0]
			want := map[string]string{
				"task":               "task-7",
				"password":           "s3cret", // not in the map: its own name in lower case
				"email_subject":      a.Subject,
				"email_destinations": "a@example.com,b@example.com",
				"email_content":      a.Text,
				"project":            "medispatcher",
				"level":              "p2",
			}
			assert.Equal(t, "POST", r.method)
			assert.Equal(t, "/send", r.path)
			fields := map[string]string{}
			if format == "json" {
				assert.Equal(t, "application/json", r.contentType)
				require.NoError(t, json.Unmarshal(r.body, &fields), "%s", r.body)
			} else {
				assert.Equal(t, "application/x-www-form-urlencoded", r.contentType)
				q, err := url.ParseQuery(string(r.body))
				require.NoError(t, err)
				for k, v := range q {
					require.Len(t, v, 1, k)
					fields[k] = v[0]
				}
			}
			assert.Equal(t, want, fields)

			d := next(t, got)
			require.NoError(t, d.err)
			assert.Equal(t, GatewayEmail, d.gateway)
			assert.Equal(t, []string{GatewayEmail}, m.Recent(1)[0].Delivered)
			assert.Empty(t, m.Recent(1)[0].Failed)
		})
	}
}

func TestHTTPGatewayFormBodyExact(t *testing.T) {
	g, err := newHTTPGateway(&config.AlerterConfig{
		Gateway: "http://127.0.0.1:1/", User: "u", PostFieldsMap: map[string]string{"Recipient": "to", "zz": "1", "aa": "x y"},
	}, nil, time.Second)
	require.NoError(t, err)
	fields := g.fields(&Message{To: []string{"a", "b"}, Subject: "S", Content: "C&D", Chan: "sms"})
	assert.Equal(t, [][2]string{
		{"user", "u"}, {"subject", "S"}, {"to", "a,b"}, {"content", "C&D"}, {"chan", "sms"}, {"aa", "x y"}, {"zz", "1"},
	}, fields, "alert fields in a fixed order, then constants sorted")
}

func TestHTTPGatewayRejections(t *testing.T) {
	tests := []struct {
		name   string
		status int
		answer string
		ack    string
	}{
		{"answer lacks the ack", fasthttp.StatusOK, `{"result":"queued"}`, "sent"},
		{"status 500", fasthttp.StatusInternalServerError, "sent", "sent"},
		{"status 302", fasthttp.StatusFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := startGatewayServer(t, tt.status, tt.answer)
			opt, got := deliveries()
			m, _ := newMonitor(t, emailGatewayConfig(gs.url, "form", tt.ack), opt,
				WithRetry(2, time.Millisecond, 2*time.Millisecond))
			runMonitor(t, m)
			m.ChannelBacklog(alertingSub(t), 10)

			d := next(t, got)
			require.ErrorIs(t, d.err, ErrRejected)
			assert.EqualValues(t, 3, gs.hits.Load(), "one attempt and two retries")
			a := m.Recent(1)[0]
			assert.Equal(t, []string{GatewayEmail}, a.Failed)
			assert.Empty(t, a.Delivered)
		})
	}
}

func TestHTTPGatewayAckOnSecondAttempt(t *testing.T) {
	// A gateway that fails once and then accepts: retried, then Delivered.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var hits atomic.Int32
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if hits.Add(1) == 1 {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		ctx.SetBodyString("OK sent")
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	opt, got := deliveries()
	m, _ := newMonitor(t, emailGatewayConfig("http://"+ln.Addr().String()+"/", "json", "sent"), opt,
		WithRetry(3, time.Millisecond, time.Millisecond))
	runMonitor(t, m)
	m.ChannelBacklog(alertingSub(t), 10)
	d := next(t, got)
	require.NoError(t, d.err)
	assert.EqualValues(t, 2, hits.Load())
	assert.Equal(t, []string{GatewayEmail}, d.alert.Delivered)
}

func TestHTTPGatewayConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	opt, got := deliveries()
	m, _ := newMonitor(t, emailGatewayConfig("http://"+addr+"/", "form", ""), opt,
		WithRetry(1, time.Millisecond, time.Millisecond))
	runMonitor(t, m)
	m.ChannelBacklog(alertingSub(t), 10)
	d := next(t, got)
	require.Error(t, d.err)
	assert.NotErrorIs(t, d.err, ErrRejected)
	assert.Equal(t, []string{GatewayEmail}, d.alert.Failed)
}
