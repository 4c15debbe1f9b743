package alert

import (
	"context"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// pruneEvery is how often Run forgets the state of subscriptions long gone.
const pruneEvery = 10 * time.Minute

// Run delivers queued alerts through the gateways until ctx ends; retries a
// failed delivery with backoff a bounded number of times, logs each
// failure. Each gateway has its own goroutine, so a slow one delays only
// its own alerts. Call it once; alerts still queued when ctx ends are not
// sent.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, g := range m.gateways {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.deliverLoop(ctx, g)
		}()
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			m.prune()
		}
	}
}

func (m *Monitor) deliverLoop(ctx context.Context, g *gatewayEntry) {
	ok := metrics.GetOrCreateCounter(`medispatcher_alert_deliveries_total{gateway="` + g.name + `",result="ok"}`)
	fail := metrics.GetOrCreateCounter(`medispatcher_alert_deliveries_total{gateway="` + g.name + `",result="fail"}`)
	for {
		select {
		case <-ctx.Done():
			if n := len(g.queue); n > 0 {
				m.log.Warn("alerts not sent at shutdown", "gateway", g.name, "count", n)
			}
			return
		case d := <-g.queue:
			err := m.deliver(ctx, g, d)
			delivered := err == nil
			if delivered {
				ok.Inc()
			} else {
				fail.Inc()
			}
			m.mu.Lock()
			if delivered {
				d.rec.a.Delivered = append(d.rec.a.Delivered, g.name)
			} else {
				d.rec.a.Failed = append(d.rec.a.Failed, g.name)
			}
			var a Alert
			if m.opts.onDelivery != nil {
				a = d.rec.a
				a.Delivered, a.Failed = cloneNonNil(a.Delivered), cloneNonNil(a.Failed)
			}
			m.mu.Unlock()
			if m.opts.onDelivery != nil {
				m.opts.onDelivery(g.name, a, err)
			}
		}
	}
}

// deliver sends d through g, retrying with doubling backoff; it returns
// nil when g accepted it, else the last error.
func (m *Monitor) deliver(ctx context.Context, g *gatewayEntry, d delivery) error {
	backoff := m.opts.backoff
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, m.opts.sendTimeout)
		err := g.gw.Send(actx, d.msg)
		cancel()
		if err == nil {
			return nil
		}
		last := attempt >= m.opts.retries || ctx.Err() != nil
		m.log.Warn("alert delivery failed", "gateway", g.name, "kind", d.rec.a.Kind, "sub", d.rec.a.SubID,
			"attempt", attempt+1, "final", last, "err", err)
		if last {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, max(m.opts.maxBackoff, m.opts.backoff))
	}
}
