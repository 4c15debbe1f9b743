package connpool

// jobWith is a reserved Job and the buffer its body is read into, in one
// allocation: the body aliases the buffer, so the Job stays alive while the
// receiver holds its body and the other way round.
type jobWith[B any] struct {
	job  Job
	body B
}

// jobBufs are the buffers a Job is allocated with, smallest first. With a
// 72-byte Job (64-bit platforms) each allocation fills one of the Go
// allocator's size classes from 192 to 2 048 bytes, spaced so that a Job
// and its body take about the space they took as two allocations.
var jobBufs = [...]struct {
	size  int
	alloc func() (*Job, []byte)
}{
	{120, func() (*Job, []byte) { a := new(jobWith[[120]byte]); return &a.job, a.body[:] }},
	{152, func() (*Job, []byte) { a := new(jobWith[[152]byte]); return &a.job, a.body[:] }},
	{184, func() (*Job, []byte) { a := new(jobWith[[184]byte]); return &a.job, a.body[:] }},
	{216, func() (*Job, []byte) { a := new(jobWith[[216]byte]); return &a.job, a.body[:] }},
	{248, func() (*Job, []byte) { a := new(jobWith[[248]byte]); return &a.job, a.body[:] }},
	{312, func() (*Job, []byte) { a := new(jobWith[[312]byte]); return &a.job, a.body[:] }},
	{376, func() (*Job, []byte) { a := new(jobWith[[376]byte]); return &a.job, a.body[:] }},
	{440, func() (*Job, []byte) { a := new(jobWith[[440]byte]); return &a.job, a.body[:] }},
	{568, func() (*Job, []byte) { a := new(jobWith[[568]byte]); return &a.job, a.body[:] }},
	{696, func() (*Job, []byte) { a := new(jobWith[[696]byte]); return &a.job, a.body[:] }},
	{824, func() (*Job, []byte) { a := new(jobWith[[824]byte]); return &a.job, a.body[:] }},
	{952, func() (*Job, []byte) { a := new(jobWith[[952]byte]); return &a.job, a.body[:] }},
	{1208, func() (*Job, []byte) { a := new(jobWith[[1208]byte]); return &a.job, a.body[:] }},
	{1464, func() (*Job, []byte) { a := new(jobWith[[1464]byte]); return &a.job, a.body[:] }},
	{1720, func() (*Job, []byte) { a := new(jobWith[[1720]byte]); return &a.job, a.body[:] }},
	{1976, func() (*Job, []byte) { a := new(jobWith[[1976]byte]); return &a.job, a.body[:] }},
}

// newReservedJob returns an empty Job and a size-byte buffer for its body
// (the data block and its CRLF): one allocation when size fits one of
// jobBufs, two otherwise. A reserved job that is not large thus costs one
// allocation instead of two.
func newReservedJob(size int) (*Job, []byte) {
	for _, b := range jobBufs {
		if size <= b.size {
			j, buf := b.alloc()
			return j, buf[:size]
		}
	}
	return new(Job), make([]byte, size)
}
