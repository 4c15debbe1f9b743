package recoverlist

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/datalog"
)

// FuzzDecodeEntry checks the decoder of recover-list entries on any bytes:
// it never panics, refuses exactly what the job decoder refuses (naming
// the DATA log category), and a job it accepts keeps its priority and
// delay when a producer writes it again.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(job("t", 1, 0, 0))
	f.Add(job("order_paid", 2, 7, 60))
	f.Add([]byte("not msgpack at all"))
	f.Add([]byte{0x81, 0xa6, 'm', 's', 'g', 'K', 'e', 'y', 0x05})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		pri, delay, cat, err := decodeEntry(raw)
		var m message.Message
		derr := message.Decode(raw, &m)
		if err != nil {
			require.Contains(t, []datalog.Category{datalog.RecovFailAssert, datalog.RecovFailDecode}, cat)
			require.Error(t, derr, "refused here, refused by the job decoder")
			if cat == datalog.RecovFailAssert {
				require.False(t, len(raw) > 0 && isMap(raw[0]), "RECOVFAILASSERT only for what is not a map")
			}
			return
		}
		require.NoError(t, derr)
		require.Empty(t, cat)
		want := m.Priority
		if want == 0 {
			want = 1024
		}
		require.Equal(t, want, pri)
		require.Equal(t, time.Duration(m.Delay)*time.Second, delay)
		pri2, delay2, _, err := decodeEntry(message.AppendMainJob(nil, &m))
		require.NoError(t, err)
		require.Equal(t, pri, pri2)
		require.Equal(t, delay, delay2)
	})
}
