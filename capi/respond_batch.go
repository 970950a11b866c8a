package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"encoding/binary"
	"unsafe"
)

// A queue of finished responses the Python binding answers in one crossing
// into Go instead of one each (capi/pyaccel.c, respond_later and flush):
// about 0.5 us less per request on the host's thread. Not part of
// portico.h. Each record is the arguments of portico_request_respond_nowait:
//
//	[id u64][flags u32][head length u32][body length u32] head body
//
// little-endian, as the host.
const batchRecordHead = 20

// pco_respond_batch answers every record of the queue at buf (n bytes) as
// portico_request_respond_nowait would. A head the library refuses
// (PORTICO_ERR_HEADER) is answered 500 instead, and its request id stored
// in bad (up to badCap of them) for the host to report. Other errors (the
// client went away, the request timed out) end the request as they would
// have anyway: the app had finished with it. Returns the number of refused
// heads, or PORTICO_ERR_INVALID for a malformed queue (nothing after the
// bad record is answered).
//
//export pco_respond_batch
func pco_respond_batch(buf *C.uint8_t, n C.size_t, bad *C.uint64_t, badCap C.size_t) (rc C.int64_t) {
	if forked() {
		return errForked
	}
	defer func() {
		if recover() != nil {
			rc = errInternal
		}
	}()
	b := goBytes(buf, n)
	refused := 0
	var badIDs []uint64
	if bad != nil {
		badIDs = unsafe.Slice((*uint64)(unsafe.Pointer(bad)), int(badCap))
	}
	for len(b) > 0 {
		if len(b) < batchRecordHead {
			return errInvalid
		}
		id := binary.LittleEndian.Uint64(b)
		flags := binary.LittleEndian.Uint32(b[8:])
		headLen := int(binary.LittleEndian.Uint32(b[12:]))
		bodyLen := int(binary.LittleEndian.Uint32(b[16:]))
		b = b[batchRecordHead:]
		if headLen == 0 || len(b) < headLen || len(b)-headLen < bodyLen {
			return errInvalid
		}
		head, body := b[:headLen], b[headLen:headLen+bodyLen]
		b = b[headLen+bodyLen:]
		var bodyPtr *C.uint8_t
		if bodyLen > 0 {
			bodyPtr = (*C.uint8_t)(unsafe.Pointer(&body[0]))
		}
		answer := portico_request_respond_nowait(C.uint64_t(id), (*C.uint8_t)(unsafe.Pointer(&head[0])),
			C.size_t(headLen), bodyPtr, C.size_t(bodyLen), C.int(flags))
		if answer == errHeader {
			portico_request_abort(C.uint64_t(id), 500)
			if refused < len(badIDs) {
				badIDs[refused] = id
			}
			refused++
		}
	}
	return C.int64_t(min(refused, len(badIDs)))
}
