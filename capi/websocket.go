package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"github.com/portico-http/portico/core/server"
)

// A WebSocket's id is its request's id after accept (see onRequest).

//export portico_request_websocket_accept
func portico_request_websocket_accept(id C.uint64_t, subprotocol *C.char, head *C.uint8_t, headLen C.size_t) C.int {
	return onRequest(id, valid(head, headLen), func(ex *server.Exchange) error {
		proto := ""
		if subprotocol != nil {
			proto = C.GoString(subprotocol)
		}
		return ex.AcceptWebSocket(proto, goBytes(head, headLen))
	})
}

//export portico_ws_recv
func portico_ws_recv(id C.uint64_t, buf *C.uint8_t, size C.size_t, timeoutMs C.int, kind *C.int) C.int64_t {
	return countOnRequest(id, kind != nil && valid(buf, size), func(ex *server.Exchange) (int, error) {
		n, k, err := ex.WSRecv(goBytes(buf, size), millis(timeoutMs))
		if err == nil {
			*kind = C.int(k)
		}
		return n, err
	})
}

//export portico_ws_next_size
func portico_ws_next_size(id C.uint64_t) C.int64_t {
	return countOnRequest(id, true, func(ex *server.Exchange) (int, error) { return ex.WSNextSize() })
}

//export portico_ws_send
func portico_ws_send(id C.uint64_t, kind C.int, data *C.uint8_t, size C.size_t) C.int {
	known := kind == server.WSText || kind == server.WSBinary || kind == server.WSPing
	return onRequest(id, known && valid(data, size), func(ex *server.Exchange) error {
		return ex.WSSend(int(kind), goBytes(data, size))
	})
}

//export portico_ws_close
func portico_ws_close(id C.uint64_t, closeCode C.int, reason *C.char) C.int {
	return onRequest(id, true, func(ex *server.Exchange) error {
		r := ""
		if reason != nil {
			r = C.GoString(reason)
		}
		return ex.WSClose(int(closeCode), r)
	})
}

//export portico_ws_free
func portico_ws_free(id C.uint64_t) C.int {
	return onRequest(id, true, func(ex *server.Exchange) error { return ex.WSRelease() })
}
