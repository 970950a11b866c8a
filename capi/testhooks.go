package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import "unsafe"

// Go-typed doors to the exports for capi's own tests (boundary_test.go):
// cgo is not allowed in _test.go files, so the tests cannot name C types.
// Nothing in the library calls these, so the linker leaves them out of
// libportico.so. Buffers are passed exactly as C would: a pointer (nil for
// an empty or absent one) and a length.

func cBuf(b []byte) (*C.uint8_t, C.size_t) {
	if b == nil {
		return nil, 0
	}
	if len(b) == 0 {
		var one [1]byte // a valid non-NULL pointer with length 0
		return (*C.uint8_t)(unsafe.Pointer(&one[0])), 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// cStr makes a NUL-terminated copy; nil stays NULL.
func cStr(s *string) *C.char {
	if s == nil {
		return nil
	}
	b := append([]byte(*s), 0)
	return (*C.char)(unsafe.Pointer(&b[0]))
}

func hkOptionsNew() uintptr { return uintptr(portico_options_new()) }
func hkOptionsSet(h uintptr, name, value *string) int {
	return int(portico_options_set(C.uintptr_t(h), cStr(name), cStr(value)))
}
func hkOptionsFree(h uintptr) int { return int(portico_options_free(C.uintptr_t(h))) }

func hkServerNew(opts uintptr) uintptr { return uintptr(portico_server_new(C.uintptr_t(opts))) }
func hkServerListen(h uintptr, addr *string) int {
	return int(portico_server_listen(C.uintptr_t(h), cStr(addr)))
}
func hkServerAddress(h uintptr, idx int, buf []byte) int {
	p, n := cBuf(buf)
	return int(portico_server_address(C.uintptr_t(h), C.int(idx), (*C.char)(unsafe.Pointer(p)), n))
}
func hkServerLastError(h uintptr, buf []byte) int {
	p, n := cBuf(buf)
	return int(portico_server_last_error(C.uintptr_t(h), (*C.char)(unsafe.Pointer(p)), n))
}
func hkServerNext(h uintptr, timeoutMs int, buf []byte) int64 {
	p, n := cBuf(buf)
	return int64(portico_server_next(C.uintptr_t(h), C.int(timeoutMs), p, n))
}
func hkServerFD(h uintptr) int       { return int(portico_server_fd(C.uintptr_t(h))) }
func hkServerShutdown(h uintptr) int { return int(portico_server_shutdown(C.uintptr_t(h))) }
func hkServerFree(h uintptr) int     { return int(portico_server_free(C.uintptr_t(h))) }

func hkRead(id uint64, buf []byte, timeoutMs int) int64 {
	p, n := cBuf(buf)
	return int64(portico_request_read(C.uint64_t(id), p, n, C.int(timeoutMs)))
}
func hkRespond(id uint64, head, body []byte, flags int) int {
	hp, hn := cBuf(head)
	bp, bn := cBuf(body)
	return int(portico_request_respond(C.uint64_t(id), hp, hn, bp, bn, C.int(flags)))
}
func hkWrite(id uint64, data []byte, flags int) int {
	p, n := cBuf(data)
	return int(portico_request_write(C.uint64_t(id), p, n, C.int(flags)))
}
func hkAbort(id uint64, status int) int {
	return int(portico_request_abort(C.uint64_t(id), C.int(status)))
}
func hkEarlyHints(id uint64, fields []byte) int {
	p, n := cBuf(fields)
	return int(portico_request_early_hints(C.uint64_t(id), p, n))
}
func hkSetTrailers(id uint64, fields []byte) int {
	p, n := cBuf(fields)
	return int(portico_request_set_trailers(C.uint64_t(id), p, n))
}
func hkTrailers(id uint64, buf []byte) int64 {
	p, n := cBuf(buf)
	return int64(portico_request_trailers(C.uint64_t(id), p, n))
}
func hkPush(id uint64, head []byte) int {
	p, n := cBuf(head)
	return int(portico_request_push(C.uint64_t(id), p, n))
}
func hkWSAccept(id uint64, sub *string, head []byte) int {
	p, n := cBuf(head)
	return int(portico_request_websocket_accept(C.uint64_t(id), cStr(sub), p, n))
}
func hkWSRecv(id uint64, buf []byte, timeoutMs int, withKind bool) (int64, int) {
	p, n := cBuf(buf)
	var kind C.int
	var kp *C.int
	if withKind {
		kp = &kind
	}
	rc := portico_ws_recv(C.uint64_t(id), p, n, C.int(timeoutMs), kp)
	return int64(rc), int(kind)
}
func hkWSNextSize(id uint64) int64 { return int64(portico_ws_next_size(C.uint64_t(id))) }
func hkWSSend(id uint64, kind int, data []byte) int {
	p, n := cBuf(data)
	return int(portico_ws_send(C.uint64_t(id), C.int(kind), p, n))
}
func hkWSClose(id uint64, code int, reason *string) int {
	return int(portico_ws_close(C.uint64_t(id), C.int(code), cStr(reason)))
}
func hkWSFree(id uint64) int     { return int(portico_ws_free(C.uint64_t(id))) }
func hkStrerror(code int) string { return C.GoString(portico_strerror(C.int(code))) }
func hkDebugStats(out []int64, n int) int {
	var p *C.int64_t
	if len(out) > 0 {
		p = (*C.int64_t)(unsafe.Pointer(&out[0]))
	}
	return int(portico_debug_stats(p, C.size_t(n)))
}

func hkRespondBatch(queue []byte, bad []uint64) int64 {
	p, n := cBuf(queue)
	var b *C.uint64_t
	if len(bad) > 0 {
		b = (*C.uint64_t)(unsafe.Pointer(&bad[0]))
	}
	return int64(pco_respond_batch(p, n, b, C.size_t(len(bad))))
}
