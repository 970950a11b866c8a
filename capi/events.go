package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"github.com/portico-http/portico/core/server"
)

// Event mode: the exports of the "Event mode" section of portico.h.

// writePending is PORTICO_WRITE_PENDING.
const writePending = 1

func eventCode(err error) int16 { return int16(code(err)) }

//export portico_server_poll
func portico_server_poll(h C.uintptr_t, buf *C.uint8_t, size C.size_t) (rc C.int64_t) {
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
	dst := goBytes(buf, size)
	n, err := s.Poll(dst, eventCode)
	if err == server.ErrBuffer {
		if len(dst) >= 8 {
			// The size the first event needs, for the host to grow.
			for i := 0; i < 8; i++ {
				dst[i] = byte(uint64(n) >> (8 * i))
			}
		}
		return errBuffer
	}
	if err != nil {
		return C.int64_t(code(err))
	}
	return C.int64_t(n)
}

// onWrite is onRequest for the writes that may answer PORTICO_WRITE_PENDING.
func onWrite(id C.uint64_t, ok bool, f func(*server.Exchange) error) C.int {
	var pending bool
	rc := onRequest(id, ok, func(ex *server.Exchange) error {
		err := f(ex)
		if err == server.ErrPending {
			pending = true
			return nil
		}
		return err
	})
	if rc == errOK && pending {
		return writePending
	}
	return rc
}

//export portico_request_respond_nowait
func portico_request_respond_nowait(id C.uint64_t, head *C.uint8_t, headLen C.size_t, body *C.uint8_t, bodyLen C.size_t, flags C.int) C.int {
	return onWrite(id, head != nil && valid(body, bodyLen), func(ex *server.Exchange) error {
		ex.SetNowait(true)
		return ex.Respond(goBytes(head, headLen), goBytes(body, bodyLen), flags&endFlag != 0)
	})
}

//export portico_request_write_nowait
func portico_request_write_nowait(id C.uint64_t, data *C.uint8_t, size C.size_t, flags C.int) C.int {
	return onWrite(id, valid(data, size), func(ex *server.Exchange) error {
		ex.SetNowait(true)
		return ex.Write(goBytes(data, size), flags&endFlag != 0)
	})
}

//export portico_request_want_body
func portico_request_want_body(id C.uint64_t, max C.size_t) C.int {
	return onRequest(id, max > 0 && max <= 1<<30, func(ex *server.Exchange) error {
		return ex.WantBody(int(max))
	})
}

//export portico_ws_watch
func portico_ws_watch(id C.uint64_t, on C.int) C.int {
	return onRequest(id, true, func(ex *server.Exchange) error { return ex.WSWatch(on != 0) })
}

//export portico_ws_send_nowait
func portico_ws_send_nowait(id C.uint64_t, kind C.int, data *C.uint8_t, size C.size_t) C.int {
	known := kind == server.WSText || kind == server.WSBinary || kind == server.WSPing
	return onWrite(id, known && valid(data, size), func(ex *server.Exchange) error {
		return ex.WSSendNowait(int(kind), goBytes(data, size))
	})
}

//export portico_request_watch_gone
func portico_request_watch_gone(id C.uint64_t) C.int {
	return onRequest(id, true, func(ex *server.Exchange) error { return ex.WatchGone() })
}
