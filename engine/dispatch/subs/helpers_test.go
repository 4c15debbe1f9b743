package subs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitTimeout bounds every wait for a source to deliver; generous for a
// loaded CI machine, never reached when things work.
const waitTimeout = 10 * time.Second

// logBuffer collects a logger's output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// waitLog waits until the log holds want. No signal exists for a line
// being logged, so this polls with a deadline.
func waitLog(t *testing.T, b *logBuffer, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(b.String(), want) },
		waitTimeout, 5*time.Millisecond, "log never contained %q; log:\n%s", want, b)
}

// runSource runs src until the test ends and returns the sets it applies.
func runSource(t testing.TB, src Source) <-chan *Set {
	t.Helper()
	sets := make(chan *Set, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(s *Set) { sets <- s }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(waitTimeout):
			t.Error("Run did not return after cancel")
		}
	})
	return sets
}

// waitSet returns the first applied set satisfying ok.
func waitSet(t testing.TB, sets <-chan *Set, what string, ok func(*Set) bool) *Set {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case s := <-sets:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no set with %s applied within %v", what, waitTimeout)
			return nil
		}
	}
}

// nextSet returns the next applied set.
func nextSet(t testing.TB, sets <-chan *Set) *Set {
	t.Helper()
	select {
	case s := <-sets:
		return s
	case <-time.After(waitTimeout):
		t.Fatalf("no set applied within %v", waitTimeout)
		return nil
	}
}

// ids lists a set's subscription ids in order.
func ids(s *Set) []int64 {
	var out []int64
	for _, sub := range s.All() {
		out = append(out, sub.ID)
	}
	return out
}

// hasIDs matches a set holding exactly want.
func hasIDs(want ...int64) func(*Set) bool {
	return func(s *Set) bool {
		got := ids(s)
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
}

// sub returns a valid subscription.
func sub(id int64, topic string) *Subscription {
	return &Subscription{
		ID:           id,
		Topic:        topic,
		SubscriberID: 7,
		URL:          "http://127.0.0.1:8080/hook",
		AlertEnabled: true,
	}
}

var testLimits = Limits{MaxConcurrency: 50, MaxRetryConcurrency: 20, MaxTimeoutMS: 30000, ChannelPrefix: DefaultChannelPrefix}
