package main

import (
	"syscall"
	"unsafe"
)

// The hot-path system calls go through syscall.RawSyscall6, which skips the
// runtime's entersyscall/exitsyscall. With the ordinary wrappers every
// epoll_wait that sleeps makes sysmon hand the P to another thread and
// wake up again soon after, which showed up as ~10% of the generator's
// CPU. Raw calls are safe here: reads and writes are on non-blocking
// descriptors, and epoll_wait sleeps at most its timeout (a preemption
// signal ends it early with EINTR, which the loop retries).

func rawRead(fd int, b []byte) (int, error) {
	return rawRW(syscall.SYS_READ, fd, b)
}

func rawWrite(fd int, b []byte) (int, error) {
	return rawRW(syscall.SYS_WRITE, fd, b)
}

func rawRW(trap uintptr, fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, e := syscall.RawSyscall6(trap, uintptr(fd), uintptr(p), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawEpollWait is epoll_pwait with no signal mask (epoll_wait does not
// exist on every architecture).
func rawEpollWait(ep int, events []syscall.EpollEvent, msec int) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
