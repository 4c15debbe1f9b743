package message

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAppendJobID(t *testing.T) {
	tests := []struct {
		time   float64
		origin uint64
		sub    int64
		want   string
	}{
		{1732500000.123456, 1, 1, "1732500000.123456-1-1"},
		{1732500001.5, 42, 17, "1732500001.500000-42-17"},
		{1732500002, 7, 3, "1732500002.000000-7-3"},
		{0, 0, 0, "0.000000-0-0"},
		{1732500000.1234567, math.MaxUint64, math.MinInt64, "1732500000.123457-18446744073709551615--9223372036854775808"},
	}
	for _, tt := range tests {
		got := AppendJobID([]byte("jobid="), tt.time, tt.origin, tt.sub)
		assert.Equal(t, "jobid="+tt.want, string(got))
		// The old daemon built it with fmt's %f.
		assert.Equal(t, fmt.Sprintf("%f-%d-%d", tt.time, tt.origin, tt.sub), string(got[len("jobid="):]))
	}
}

func TestAppendJobIDFromDecodedTime(t *testing.T) {
	// spec: a numeric-string time "1732500001.5" gives 1732500001.500000-….
	var m Message
	job := mmap(mstr("msgKey"), mstr("t"), mstr("time"), mstr("1732500001.5"))
	if assert.NoError(t, Decode(job, &m)) {
		assert.Equal(t, "1732500001.500000-5-6", string(AppendJobID(nil, m.Time, 5, 6)))
	}
}

func TestAppendJobIDAllocs(t *testing.T) {
	dst := make([]byte, 0, 64)
	assert.Zero(t, testing.AllocsPerRun(100, func() { dst = AppendJobID(dst[:0], 1732500000.123456, 123, 45) }))
}
