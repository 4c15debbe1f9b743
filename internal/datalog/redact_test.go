package datalog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSentMasksUserinfo: SENT and RESENT lines show the destination with
// its userinfo masked.
func TestSentMasksUserinfo(t *testing.T) {
	lines := capture(t, func(w *Writer) {
		require.NoError(t, w.Sent(false, []byte("t"), 1, true, 200, time.Millisecond, "http://user:hunter2@h/x?a=1", nil))
		require.NoError(t, w.Sent(true, []byte("t"), 1, false, 500, time.Millisecond, "https://tok3n@h/", nil))
	})
	require.Len(t, lines, 2)
	assert.Contains(t, string(lines[0]), " dest=http://user:xxxxx@h/x?a=1\n")
	assert.Contains(t, string(lines[1]), " dest=https://xxxxx@h/\n")
	for _, l := range lines {
		assert.NotContains(t, string(l), "hunter2")
		assert.NotContains(t, string(l), "tok3n")
	}
}
