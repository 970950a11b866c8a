package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"github.com/portico-http/portico/core/server"
)

// endFlag is PORTICO_END.
const endFlag = 1

// onRequest is the common part of the request and WebSocket exports: the
// fork check, the panic guard, the id lookup and the argument check (ok).
func onRequest(id C.uint64_t, ok bool, f func(*server.Exchange) error) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || !ok {
		return errInvalid
	}
	return code(f(ex))
}

// countOnRequest is onRequest for exports that return a byte count.
func countOnRequest(id C.uint64_t, ok bool, f func(*server.Exchange) (int, error)) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	ex := server.Lookup(uint64(id))
	if ex == nil || !ok {
		return errInvalid
	}
	n, err := f(ex)
	if err != nil {
		return C.int64_t(code(err))
	}
	return C.int64_t(n)
}

// valid reports a pointer and length pair C may pass: NULL only with 0.
func valid(p *C.uint8_t, n C.size_t) bool { return p != nil || n == 0 }

//export portico_request_read
func portico_request_read(id C.uint64_t, buf *C.uint8_t, size C.size_t, timeoutMs C.int) C.int64_t {
	return countOnRequest(id, valid(buf, size), func(ex *server.Exchange) (int, error) {
		if size == 0 {
			return 0, nil
		}
		return ex.Read(goBytes(buf, size), millis(timeoutMs))
	})
}

//export portico_request_respond
func portico_request_respond(id C.uint64_t, head *C.uint8_t, headLen C.size_t, body *C.uint8_t, bodyLen C.size_t, flags C.int) C.int {
	return onRequest(id, head != nil && valid(body, bodyLen), func(ex *server.Exchange) error {
		return ex.Respond(goBytes(head, headLen), goBytes(body, bodyLen), flags&endFlag != 0)
	})
}

//export portico_request_write
func portico_request_write(id C.uint64_t, data *C.uint8_t, size C.size_t, flags C.int) C.int {
	return onRequest(id, valid(data, size), func(ex *server.Exchange) error {
		return ex.Write(goBytes(data, size), flags&endFlag != 0)
	})
}

//export portico_request_abort
func portico_request_abort(id C.uint64_t, status C.int) C.int {
	if status < 100 || status > 999 {
		status = 500
	}
	return onRequest(id, true, func(ex *server.Exchange) error { return ex.Abort(int(status)) })
}

//export portico_request_early_hints
func portico_request_early_hints(id C.uint64_t, fields *C.uint8_t, fieldsLen C.size_t) C.int {
	return onRequest(id, valid(fields, fieldsLen), func(ex *server.Exchange) error {
		return ex.EarlyHints(goBytes(fields, fieldsLen))
	})
}

//export portico_request_set_trailers
func portico_request_set_trailers(id C.uint64_t, fields *C.uint8_t, fieldsLen C.size_t) C.int {
	return onRequest(id, valid(fields, fieldsLen), func(ex *server.Exchange) error {
		return ex.SetTrailers(goBytes(fields, fieldsLen))
	})
}

//export portico_request_trailers
func portico_request_trailers(id C.uint64_t, buf *C.uint8_t, size C.size_t) C.int64_t {
	return countOnRequest(id, valid(buf, size), func(ex *server.Exchange) (int, error) {
		return ex.Trailers(goBytes(buf, size))
	})
}

//export portico_request_push
func portico_request_push(id C.uint64_t, head *C.uint8_t, headLen C.size_t) C.int {
	return onRequest(id, head != nil, func(ex *server.Exchange) error {
		return ex.Push(goBytes(head, headLen))
	})
}
