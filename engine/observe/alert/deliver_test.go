package alert

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// hangingGateway never answers: Send returns only when its ctx ends.
type hangingGateway struct{ entered chan struct{} }

func (h *hangingGateway) Send(ctx context.Context, _ *Message) error {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestHangingGatewayNeverBlocksCallers(t *testing.T) {
	h := &hangingGateway{entered: make(chan struct{}, 1)}
	m, clk := newMonitor(t, func(c *config.Config) { c.DefaultAlarmReceiver = "ops" },
		WithGateway(GatewayPlatform, h), WithQueueSize(4), WithSendTimeout(time.Hour), WithRecent(1<<14))
	runMonitor(t, m)
	s := newSub(t, 1, func(s *subs.Subscription) {
		s.AlertFailureThreshold, s.AlertRetryThreshold, s.AlertIntervalS = 1, 1, 1
	})
	m.PushFailed(s, 0)
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway was never called")
	}

	dropped := newMonitorMetrics().dropped.Get()
	const callers, calls = 4, 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range calls {
					clk.Advance(time.Second) // every call may raise both kinds
					m.PushFailed(s, 3)
					m.ChannelBacklog(s, 1<<20)
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("PushFailed blocked behind a hanging gateway")
	}
	raised := len(m.Recent(1 << 20))
	require.Greater(t, raised, 100, "alerts were raised")
	assert.GreaterOrEqual(t, newMonitorMetrics().dropped.Get()-dropped, uint64(raised-1-4-1),
		"all but the queue's 4 (and the one in flight) dropped and counted")
	var full int
	for _, a := range m.Recent(1 << 20) {
		if strings.Contains(a.Note, "platform queue full") {
			full++
			assert.Equal(t, []string{GatewayPlatform}, a.Failed)
		}
	}
	assert.Greater(t, full, 100)
}

func TestHTTPGatewayThatNeverAnswersTimesOut(t *testing.T) {
	// A real listener that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	conns.Go(func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})

	opt, got := deliveries()
	m, _ := newMonitor(t, emailGatewayConfig("http://"+ln.Addr().String()+"/", "form", ""), opt,
		WithSendTimeout(100*time.Millisecond), WithRetry(1, time.Millisecond, time.Millisecond))
	runMonitor(t, m)
	start := time.Now()
	m.ChannelBacklog(alertingSub(t), 10)
	assert.Less(t, time.Since(start), time.Second, "the caller does not wait for the gateway")
	d := next(t, got)
	require.Error(t, d.err)
	assert.Equal(t, []string{GatewayEmail}, d.alert.Failed)
}

func TestRunStopsWhileRetrying(t *testing.T) {
	h := &hangingGateway{entered: make(chan struct{}, 1)}
	m, _ := newMonitor(t, func(c *config.Config) { c.DefaultAlarmReceiver = "ops" },
		WithGateway(GatewayPlatform, h), WithSendTimeout(time.Millisecond), WithRetry(100, time.Hour, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	m.GlobalBacklog(0, 1<<30)
	<-h.entered // first attempt made; now waiting an hour to retry
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	assert.Equal(t, []string{GatewayPlatform}, m.Recent(1)[0].Failed)
}
