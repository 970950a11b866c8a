package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"github.com/portico-http/portico/core/server"
)

// wsFrom resolves a WebSocket id (a request id after accept).
func wsFrom(id C.uint64_t) *server.Exchange { return server.Lookup(uint64(id)) }

//export portico_request_websocket_accept
func portico_request_websocket_accept(id C.uint64_t, subprotocol *C.char, head *C.uint8_t, headLen C.size_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || (head == nil && headLen > 0) {
		return errInvalid
	}
	proto := ""
	if subprotocol != nil {
		proto = C.GoString(subprotocol)
	}
	return code(ex.AcceptWebSocket(proto, goBytes(head, headLen)))
}

//export portico_ws_recv
func portico_ws_recv(id C.uint64_t, buf *C.uint8_t, size C.size_t, timeoutMs C.int, kind *C.int) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	ex := wsFrom(id)
	if ex == nil || kind == nil || (buf == nil && size > 0) {
		return errInvalid
	}
	n, k, err := ex.WSRecv(goBytes(buf, size), millis(timeoutMs))
	if err != nil {
		return C.int64_t(code(err))
	}
	*kind = C.int(k)
	return C.int64_t(n)
}

//export portico_ws_next_size
func portico_ws_next_size(id C.uint64_t) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	ex := wsFrom(id)
	if ex == nil {
		return errInvalid
	}
	n, err := ex.WSNextSize()
	if err != nil {
		return C.int64_t(code(err))
	}
	return C.int64_t(n)
}

//export portico_ws_send
func portico_ws_send(id C.uint64_t, kind C.int, data *C.uint8_t, size C.size_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := wsFrom(id)
	if ex == nil || (data == nil && size > 0) {
		return errInvalid
	}
	switch kind {
	case server.WSText, server.WSBinary, server.WSPing:
	default:
		return errInvalid
	}
	return code(ex.WSSend(int(kind), goBytes(data, size)))
}

//export portico_ws_close
func portico_ws_close(id C.uint64_t, closeCode C.int, reason *C.char) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := wsFrom(id)
	if ex == nil {
		return errInvalid
	}
	r := ""
	if reason != nil {
		r = C.GoString(reason)
	}
	return code(ex.WSClose(int(closeCode), r))
}

//export portico_ws_free
func portico_ws_free(id C.uint64_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := wsFrom(id)
	if ex == nil {
		return errInvalid
	}
	return code(ex.WSRelease())
}
