package breaker

import (
	"testing"
	"time"
)

func testConfig() Config {
	return Config{Window: 10 * time.Second, MinPushes: 4, FailureShare: 0.5, ConsecutiveErrors: 3,
		CoolDown: time.Second, MaxCoolDown: 3 * time.Second}
}

const sec = int64(time.Second)

func TestOpensOnFailureShare(t *testing.T) {
	b := New(testConfig())
	now := 1000 * sec
	for _, o := range []Outcome{Success, Failure, Success} {
		if tr := b.Record(o, false, now); tr.Changed() {
			t.Fatalf("opened early: %+v", tr)
		}
	}
	tr := b.Record(Failure, false, now+sec)
	if tr.To != Open || tr.CoolDown != time.Second || b.State() != Open {
		t.Fatalf("2 of 4 failed: got %+v, state %v", tr, b.State())
	}
	if ok, _ := b.Acquire(); ok || !b.Blocked() {
		t.Fatal("an open breaker let a push go")
	}
}

func TestWindowForgetsOldOutcomes(t *testing.T) {
	b := New(testConfig())
	now := 1000 * sec
	for range 3 {
		b.Record(Failure, false, now)
	}
	// 10 s later the three failures are out of the window.
	for i := range 3 {
		if tr := b.Record(Success, false, now+10*sec+int64(i)); tr.Changed() {
			t.Fatal(tr)
		}
	}
	if tr := b.Record(Failure, false, now+10*sec); tr.Changed() {
		t.Fatalf("1 of 4 failed within the window, yet %+v", tr)
	}
}

func TestOpensOnConsecutiveErrors(t *testing.T) {
	cfg := testConfig()
	cfg.MinPushes = 100 // the share never counts here
	b := New(cfg)
	now := 1000 * sec
	b.Record(ConnError, false, now)
	b.Record(Failure, false, now) // an answer breaks the row
	b.Record(ConnError, false, now)
	b.Record(ConnError, false, now)
	if b.State() != Closed {
		t.Fatal("opened before 3 in a row")
	}
	if tr := b.Record(ConnError, false, now); tr.To != Open {
		t.Fatalf("3 in a row: %+v", tr)
	}
}

func TestHalfOpenProbes(t *testing.T) {
	b := New(testConfig())
	now := 1000 * sec
	var tr Transition
	for range 3 {
		tr = b.Record(ConnError, false, now)
	}
	if b.HalfOpen(tr.Gen + 1) {
		t.Fatal("a stale cool-down ended the open state")
	}
	if !b.HalfOpen(tr.Gen) {
		t.Fatal("no half-open after the cool-down")
	}
	ok, probe := b.Acquire()
	if !ok || !probe {
		t.Fatal("no probe")
	}
	if ok, _ := b.Acquire(); ok {
		t.Fatal("a second push while the probe is out")
	}
	// Failed probes double the cool-down up to its bound.
	for _, want := range []time.Duration{2 * time.Second, 3 * time.Second, 3 * time.Second} {
		tr = b.Record(Failure, true, now)
		if tr.To != Open || tr.CoolDown != want {
			t.Fatalf("failed probe: %+v, want cool-down %s", tr, want)
		}
		b.HalfOpen(tr.Gen)
		b.Acquire()
	}
	// An abandoned probe frees the slot.
	b.Record(Neutral, true, now)
	if ok, probe := b.Acquire(); !ok || !probe {
		t.Fatal("no probe after an abandoned one")
	}
	if tr = b.Record(Success, true, now); tr.To != Closed || !tr.Changed() || b.State() != Closed {
		t.Fatalf("probe succeeded: %+v", tr)
	}
	// Closed with a clean window and the first cool-down again.
	for range 2 {
		b.Record(ConnError, false, now)
	}
	if tr = b.Record(ConnError, false, now); tr.CoolDown != time.Second {
		t.Fatalf("cool-down after closing: %+v", tr)
	}
}

func TestDisableAndReset(t *testing.T) {
	b := New(testConfig())
	if b.Disable() != Closed || b.State() != Disabled {
		t.Fatal("not disabled")
	}
	if ok, _ := b.Acquire(); ok {
		t.Fatal("a disabled breaker let a push go")
	}
	if b.Reset() != Disabled || b.State() != Closed || b.Blocked() {
		t.Fatal("not closed by Reset")
	}
}

func TestWindowSaturates(t *testing.T) {
	w := newWindow(1)
	w.buckets[0].Store(uint64(5)<<(2*countBits) | countMask<<countBits | countMask)
	w.add(5*sec, true)
	if total, fails := w.sum(5 * sec); total != countMask || fails != countMask {
		t.Fatalf("%d %d", total, fails)
	}
}
