//go:build race

package rawsock

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The race detector sees the buffers the raw calls hand the kernel, as it
// sees syscall.Read's and Write's: a child test process touches a buffer
// while a read fills it, or a write sends it, and must be reported.
func TestRaceDetectorSeesTheBuffers(t *testing.T) {
	if mode := os.Getenv("RAWSOCK_RACE_CHILD"); mode != "" {
		racyIO(t, mode)
		return
	}
	for _, mode := range []string{"read", "write"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRaceDetectorSeesTheBuffers$", "-test.count=1")
			cmd.Env = append(os.Environ(), "RAWSOCK_RACE_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the child's race must fail it:\n%s", out)
			assert.Contains(t, string(out), "WARNING: DATA RACE")
			assert.Contains(t, string(out), "rawsock.(*op).call")
		})
	}
}

// racyIO reads into (mode "read") or writes from a buffer on one
// goroutine while another sets its first byte, unordered.
func racyIO(t *testing.T, mode string) {
	c, s := pair(t)
	buf := []byte("x")
	if mode == "read" {
		_, err := s.Write([]byte("y"))
		require.NoError(t, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if mode == "read" {
			_, _ = c.Read(buf)
		} else {
			_, _ = c.Write(buf)
		}
	}()
	buf[0] = 'z'
	<-done
}
