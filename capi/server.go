package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"

	"github.com/portico-http/portico/core/server"
)

func serverFrom(h C.uintptr_t) *server.Server {
	s, _ := handleValue(h).(*server.Server)
	return s
}

// goBytes views C memory as a Go slice for the length of one call.
func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// copyCString writes s NUL-terminated into buf; its length, or errBuffer.
func copyCString(s string, buf *C.char, size C.size_t) C.int {
	if buf == nil || int(size) < len(s)+1 {
		return errBuffer
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	copy(dst, s)
	dst[len(s)] = 0
	return C.int(len(s))
}

func millis(ms C.int) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// optionsOrDefault is the options a portico_options handle holds, or the
// defaults for a NULL one; false for a handle that is not options.
func optionsOrDefault(opts C.uintptr_t) (server.Options, bool) {
	if opts == 0 {
		return server.DefaultOptions(), true
	}
	given := optionsFrom(opts)
	if given == nil {
		return server.Options{}, false
	}
	return *given, true
}

//export portico_server_new
func portico_server_new(opts C.uintptr_t) (h C.uintptr_t) {
	if forked() {
		return 0
	}
	defer func() {
		if recover() != nil {
			h = 0
		}
	}()
	o, ok := optionsOrDefault(opts)
	if !ok {
		return 0
	}
	return C.uintptr_t(cgo.NewHandle(server.New(o)))
}

// onServer is the common part of the server exports: the fork check, the
// panic guard, the handle lookup and the argument check (ok).
func onServer(h C.uintptr_t, ok bool, f func(*server.Server) C.int) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	s := serverFrom(h)
	if s == nil || !ok {
		return errInvalid
	}
	return f(s)
}

//export portico_server_listen
func portico_server_listen(h C.uintptr_t, addr *C.char) C.int {
	return onServer(h, addr != nil, func(s *server.Server) C.int {
		idx, err := s.Listen(C.GoString(addr))
		switch {
		case err == server.ErrClosed:
			return errClosed
		case err != nil:
			return errListen
		}
		return C.int(idx)
	})
}

//export portico_server_address
func portico_server_address(h C.uintptr_t, index C.int, buf *C.char, size C.size_t) C.int {
	return onServer(h, true, func(s *server.Server) C.int {
		a, ok := s.Address(int(index))
		if !ok {
			return errInvalid
		}
		return copyCString(a, buf, size)
	})
}

//export portico_server_last_error
func portico_server_last_error(h C.uintptr_t, buf *C.char, size C.size_t) C.int {
	return onServer(h, true, func(s *server.Server) C.int {
		msg := s.LastError()
		if int(size) < len(msg)+1 && int(size) > 0 {
			msg = msg[:int(size)-1] // a truncated message beats none
		}
		return copyCString(msg, buf, size)
	})
}

//export portico_server_next
func portico_server_next(h C.uintptr_t, timeoutMs C.int, buf *C.uint8_t, size C.size_t) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	s := serverFrom(h)
	if s == nil || buf == nil {
		return errInvalid
	}
	n, err := s.Next(millis(timeoutMs), goBytes(buf, size))
	if err != nil {
		return C.int64_t(code(err))
	}
	return C.int64_t(n)
}

//export portico_server_shutdown
func portico_server_shutdown(h C.uintptr_t) C.int {
	return onServer(h, true, func(s *server.Server) C.int {
		s.Shutdown()
		return errOK
	})
}

//export portico_server_free
func portico_server_free(h C.uintptr_t) C.int {
	return onServer(h, true, func(s *server.Server) C.int {
		cgo.Handle(h).Delete()
		s.Close()
		stopProfile()
		return errOK
	})
}

//export portico_server_fd
func portico_server_fd(h C.uintptr_t) C.int {
	return onServer(h, true, func(s *server.Server) C.int {
		fd, err := s.ReadyFD()
		if err != nil {
			return errIO
		}
		return C.int(fd)
	})
}
