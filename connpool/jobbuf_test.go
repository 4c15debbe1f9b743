package connpool

import (
	"reflect"
	"strconv"
	"testing"
)

// TestReservedJobAllocs: a Job and its body buffer are one allocation up to
// the largest buffer, two beyond; the buffer is exactly as long as asked.
func TestReservedJobAllocs(t *testing.T) {
	largest := jobBufs[len(jobBufs)-1].size
	for _, size := range []int{2, 100, 184, 185, 700, largest, largest + 1, 64 << 10} {
		want := 1.0
		if size > largest {
			want = 2
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, buf := newReservedJob(size); len(buf) != size {
				t.Fatalf("buffer of %d bytes for %d", len(buf), size)
			}
		})
		if allocs != want {
			t.Errorf("size %d: %v allocations, want %v", size, allocs, want)
		}
	}
}

// TestJobSize: the buffers of jobBufs are sized for a 72-byte Job; when Job
// changes, they must be chosen again so that each allocation fills a size
// class.
func TestJobSize(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Skip("sized for 64-bit platforms")
	}
	if got := reflect.TypeFor[Job]().Size(); got != 72 {
		t.Errorf("Job is %d bytes: choose jobBufs' buffer sizes again", got)
	}
}
