package main

/*
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/syscall.h>

// The calling thread's id, cached per thread: a cgo call costs far less
// than the gettid system call through Go's syscall path.
static __thread long pco_tid;
static long pco_thread_id(void) {
    if (!pco_tid)
        pco_tid = syscall(SYS_gettid);
    return pco_tid;
}
*/
import "C"

import (
	"runtime/cgo"
	"time"

	"github.com/portico-http/portico/core/conn"
)

// Connection mode: the container owns the socket and feeds bytes; a
// portico_conn is a cgo.Handle to a connBox around a core/conn.Conn.

// Flags of portico_conn_new.
const connTLS = 1 // PORTICO_CONN_TLS

type connBox struct {
	c     *conn.Conn
	owner int // the OS thread that made the connection; only it may use it

	held    bool // an event polled into too small a buffer, waiting
	ev      pcoEvent
	payload []byte // the held or last event's payload, owned here
}

// pcoEvent mirrors struct portico_event, filled by portico_conn_poll.
type pcoEvent struct {
	kind, stream, flags, code int
}

// onConn is the common part of the connection exports: the fork check, the
// panic guard, the handle lookup, the owner-thread check and the argument
// check (ok). An export runs on the C caller's own thread, so the thread id
// read here is the caller's.
func onConn(h C.uintptr_t, ok bool, f func(*connBox) C.int64_t) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	b, _ := handleValue(h).(*connBox)
	if b == nil || !ok {
		return errInvalid
	}
	if int(C.pco_thread_id()) != b.owner {
		return errThread
	}
	return f(b)
}

func onConnInt(h C.uintptr_t, ok bool, f func(*connBox) C.int64_t) C.int {
	return C.int(onConn(h, ok, f))
}

// connCode maps a core/conn error to its C error code.
func connCode(err error) C.int64_t {
	switch err {
	case nil:
		return errOK
	case conn.ErrStream:
		return errInvalid
	case conn.ErrState:
		return errState
	case conn.ErrHeader:
		return errHeader
	case conn.ErrClosed:
		return errClosed
	case conn.ErrLength:
		return errLength
	}
	return errInternal
}

//export portico_conn_new
func portico_conn_new(opts C.uintptr_t, flags C.int, alpn *C.char) (h C.uintptr_t) {
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
	cfg := conn.Config{
		TLS:          flags&connTLS != 0,
		NoH2CUpgrade: !o.H2CUpgrade,
		MaxHeadSize:  o.MaxHeadSize,
		MaxBodySize:  o.MaxBodySize,
		WSMaxMessage: o.WSMaxMessage,
		WSMaxQueued:  o.WSMaxQueued,
	}
	if alpn != nil {
		cfg.ALPN = C.GoString(alpn)
	}
	b := &connBox{c: conn.New(cfg), owner: int(C.pco_thread_id())}
	return C.uintptr_t(cgo.NewHandle(b))
}

//export portico_conn_free
func portico_conn_free(h C.uintptr_t) C.int {
	return onConnInt(h, true, func(b *connBox) C.int64_t {
		cgo.Handle(h).Delete()
		b.c, b.payload = nil, nil
		return errOK
	})
}

//export portico_conn_recv
func portico_conn_recv(h C.uintptr_t, data *C.uint8_t, size C.size_t) C.int {
	return onConnInt(h, valid(data, size), func(b *connBox) C.int64_t {
		if !b.c.WantRead() {
			return errClosed
		}
		// goBytes views C memory for this call only; Recv copies it.
		b.c.Recv(goBytes(data, size), time.Now())
		return errOK
	})
}

//export portico_conn_send
func portico_conn_send(h C.uintptr_t, buf *C.uint8_t, size C.size_t) C.int64_t {
	return onConn(h, buf != nil && size > 0, func(b *connBox) C.int64_t {
		return C.int64_t(b.c.Send(goBytes(buf, size)))
	})
}

//export portico_conn_want_read
func portico_conn_want_read(h C.uintptr_t) C.int {
	return onConnInt(h, true, func(b *connBox) C.int64_t { return boolInt(b.c.WantRead()) })
}

//export portico_conn_want_write
func portico_conn_want_write(h C.uintptr_t) C.int {
	return onConnInt(h, true, func(b *connBox) C.int64_t { return boolInt(b.c.WantWrite()) })
}

//export portico_conn_close
func portico_conn_close(h C.uintptr_t) C.int {
	return onConnInt(h, true, func(b *connBox) C.int64_t {
		b.c.Close()
		return errOK
	})
}

func boolInt(v bool) C.int64_t {
	if v {
		return 1
	}
	return 0
}
