package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseTube(t *testing.T) {
	for _, tc := range []struct {
		tube      string
		id        int64
		retry, ok bool
	}{
		{"order_paid/sub-queue/17", 17, false, true},
		{"order_paid/sub-queue/17/FAIL", 17, true, true},
		{"a/b/sub-queue/3", 3, false, true},
		{"event_center_messages", 0, false, false},
		{"order_paid/sub-queue/x", 0, false, false},
		{"order_paid/sub-queue/0", 0, false, false},
		{"/sub-queue/5", 0, false, false},
		{"medispatcher-wake.abc.0", 0, false, false},
	} {
		id, retry, ok := ParseTube(tc.tube, "sub-queue/")
		assert.Equal(t, tc.ok, ok, tc.tube)
		if ok {
			assert.Equal(t, tc.id, id, tc.tube)
			assert.Equal(t, tc.retry, retry, tc.tube)
		}
	}
}
