package server

import (
	"encoding/binary"
	"sync/atomic"
	"syscall"
)

// The readiness descriptor: an eventfd that becomes readable when a request
// is queued while the host was waiting for one. A host then waits in its
// own event loop (asyncio, epoll, or a plain blocking read) instead of
// inside the library. That also spares a thread blocked in a cgo call the
// Go runtime's hand-off of a P to its locked thread on every wake-up.
type readyFD struct {
	fd       atomic.Int32 // 0: not made yet
	sleeping atomic.Bool  // the host saw an empty queue and may be waiting on fd
}

const efdCloexec = 0x80000 // EFD_CLOEXEC

// get makes the eventfd on first use.
func (r *readyFD) get() (int, error) {
	if fd := r.fd.Load(); fd > 0 {
		return int(fd), nil
	}
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, efdCloexec, 0)
	if errno != 0 {
		return -1, errno
	}
	if !r.fd.CompareAndSwap(0, int32(fd)) {
		syscall.Close(int(fd)) // another thread won
	}
	return int(r.fd.Load()), nil
}

// wake makes the descriptor readable if the host may be waiting on it.
func (r *readyFD) wake() {
	if r.sleeping.Load() && r.sleeping.CompareAndSwap(true, false) {
		r.signal()
	}
}

// signal makes the descriptor readable unconditionally (shutdown).
func (r *readyFD) signal() {
	if fd := r.fd.Load(); fd > 0 {
		var one [8]byte
		binary.LittleEndian.PutUint64(one[:], 1)
		syscall.Write(int(fd), one[:])
	}
}

func (r *readyFD) close() {
	if fd := r.fd.Swap(-1); fd > 0 {
		syscall.Close(int(fd))
	}
}
