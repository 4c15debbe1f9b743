// Package bucket is the per-subscription token bucket that paces pushes.
//
// A Bucket never busy-waits: a caller takes a token at once, going into
// debt when none is left, and sleeps on a timer exactly as long as the debt
// takes to repay. Each subscription has its own Bucket; nothing here is
// shared between subscriptions.
package bucket

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket is a token bucket of Rate tokens per second holding at most Burst.
// The zero value and a Rate of 0 mean unlimited.
type Bucket struct {
	// limited mirrors rate > 0, so that an unlimited bucket (the common
	// case) is read on every push without taking mu.
	limited atomic.Bool
	mu      sync.Mutex
	rate    float64 // tokens per second; 0: unlimited
	burst   float64
	tokens  float64 // may be negative: tokens promised to waiting callers
	last    time.Time
	now     func() time.Time
}

// New returns a bucket with the given rate (tokens/s, 0 = unlimited) and
// burst (0 = 50 ms worth of tokens, at least 1: enough to absorb timer
// jitter without letting a subscriber see a second's worth at once). It
// starts full.
func New(rate float64, burst int) *Bucket {
	b := &Bucket{now: time.Now}
	b.Set(rate, burst)
	b.tokens = b.burst
	return b
}

// Set changes rate and burst live; tokens already saved are kept up to the
// new burst.
func (b *Bucket) Set(rate float64, burst int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.now == nil {
		b.now = time.Now
	}
	b.refill(b.now())
	if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		rate = 0
	}
	b.rate = rate
	b.limited.Store(rate > 0)
	b.burst = float64(burst)
	if b.burst <= 0 {
		b.burst = math.Max(1, math.Ceil(rate/20))
	}
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
}

// Rate returns the current rate (0 = unlimited).
func (b *Bucket) Rate() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate
}

func (b *Bucket) refill(now time.Time) {
	if !b.last.IsZero() && b.rate > 0 {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// Ready reports whether a token is available now (always, unlimited); it
// takes none.
func (b *Bucket) Ready() bool {
	if !b.limited.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate == 0 {
		return true
	}
	b.refill(b.now())
	return b.tokens >= 1
}

// Reserve takes one token and returns how long the caller must wait before
// using it (0 when a token was available or the bucket is unlimited).
func (b *Bucket) Reserve() time.Duration {
	if !b.limited.Load() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate == 0 {
		return 0
	}
	b.refill(b.now())
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// cancel gives back a token that was reserved but will not be used.
func (b *Bucket) cancel() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate > 0 {
		b.tokens = math.Min(b.burst, b.tokens+1)
	}
}

// Wait takes a token, sleeping until it is due. It returns ctx's error (and
// gives the token back) when ctx ends first. Waited reports the time slept.
func (b *Bucket) Wait(ctx context.Context) (waited time.Duration, err error) {
	d := b.Reserve()
	if d <= 0 {
		return 0, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return d, nil
	case <-ctx.Done():
		b.cancel()
		return 0, ctx.Err()
	}
}
