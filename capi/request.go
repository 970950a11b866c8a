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

//export portico_request_read
func portico_request_read(id C.uint64_t, buf *C.uint8_t, size C.size_t, timeoutMs C.int) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	ex := server.Lookup(uint64(id))
	if ex == nil || (buf == nil && size > 0) {
		return errInvalid
	}
	if size == 0 {
		return 0
	}
	n, err := ex.Read(goBytes(buf, size), millis(timeoutMs))
	if err != nil {
		return C.int64_t(code(err))
	}
	return C.int64_t(n)
}

//export portico_request_respond
func portico_request_respond(id C.uint64_t, head *C.uint8_t, headLen C.size_t, body *C.uint8_t, bodyLen C.size_t, flags C.int) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || head == nil || (body == nil && bodyLen > 0) {
		return errInvalid
	}
	return code(ex.Respond(goBytes(head, headLen), goBytes(body, bodyLen), flags&endFlag != 0))
}

//export portico_request_write
func portico_request_write(id C.uint64_t, data *C.uint8_t, size C.size_t, flags C.int) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || (data == nil && size > 0) {
		return errInvalid
	}
	return code(ex.Write(goBytes(data, size), flags&endFlag != 0))
}

//export portico_request_abort
func portico_request_abort(id C.uint64_t, status C.int) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil {
		return errInvalid
	}
	if status < 100 || status > 999 {
		status = 500
	}
	return code(ex.Abort(int(status)))
}

//export portico_request_early_hints
func portico_request_early_hints(id C.uint64_t, fields *C.uint8_t, fieldsLen C.size_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || (fields == nil && fieldsLen > 0) {
		return errInvalid
	}
	return code(ex.EarlyHints(goBytes(fields, fieldsLen)))
}

//export portico_request_set_trailers
func portico_request_set_trailers(id C.uint64_t, fields *C.uint8_t, fieldsLen C.size_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || (fields == nil && fieldsLen > 0) {
		return errInvalid
	}
	return code(ex.SetTrailers(goBytes(fields, fieldsLen)))
}

//export portico_request_trailers
func portico_request_trailers(id C.uint64_t, buf *C.uint8_t, size C.size_t) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	ex := server.Lookup(uint64(id))
	if ex == nil || (buf == nil && size > 0) {
		return errInvalid
	}
	n, err := ex.Trailers(goBytes(buf, size))
	if err != nil {
		return C.int64_t(code(err))
	}
	return C.int64_t(n)
}

//export portico_request_push
func portico_request_push(id C.uint64_t, head *C.uint8_t, headLen C.size_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	ex := server.Lookup(uint64(id))
	if ex == nil || head == nil {
		return errInvalid
	}
	return code(ex.Push(goBytes(head, headLen)))
}
