//go:build race

package rawsock

import (
	"runtime"
	"unsafe"
)

// ioSync orders I/O for the race detector, as the syscall package's own
// does for its reads and writes: a write releases it, a read acquires it.
var ioSync int64

// raceWriting tells the race detector that the kernel reads b, about to
// be written.
func raceWriting(b []byte) {
	runtime.RaceReleaseMerge(unsafe.Pointer(&ioSync))
	runtime.RaceReadRange(unsafe.Pointer(&b[0]), len(b))
}

// raceRead tells the race detector that the kernel wrote b, just read.
func raceRead(b []byte) {
	runtime.RaceWriteRange(unsafe.Pointer(&b[0]), len(b))
	runtime.RaceAcquire(unsafe.Pointer(&ioSync))
}
