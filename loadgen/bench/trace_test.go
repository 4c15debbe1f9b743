package bench

import (
	"os"
	"path/filepath"
	"runtime/trace"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// schedTop turns an execution trace into the table of where goroutines
// waited to be scheduled, by the stacks that woke them.
func TestSchedTopOfATrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exec.trace")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, trace.Start(f))
	// Goroutines woken through a channel: the trace records who made
	// each one runnable.
	var wg sync.WaitGroup
	ch := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range ch {
			}
		}()
	}
	for i := range 20000 {
		ch <- i
	}
	close(ch)
	wg.Wait()
	trace.Stop()
	require.NoError(t, f.Close())

	top := schedTop(path)
	require.NotEmpty(t, top, "go tool trace -pprof=sched gave nothing")
	assert.Contains(t, top, "flat")
	assert.Contains(t, top, "TestSchedTopOfATrace", "the waker's stack is named")
	assert.FileExists(t, filepath.Join(filepath.Dir(path), "exec.sched.pprof"))

	assert.Empty(t, schedTop(filepath.Join(t.TempDir(), "missing.trace")), "no trace, no table")
}
