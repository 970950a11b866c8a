// Command capi is libportico.so: the C ABI of include/portico.h over the Go
// engine. It is the only package with cgo exports; it stays thin: argument
// checks, handles, copying between C buffers and Go, and error codes.
package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/portico-http/portico/core/server"
)

// abiVersion is PORTICO_ABI_VERSION in include/portico.h.
const abiVersion = 1

// version is the library's release; bindings/python/portico/__init__.py
// carries the same number.
const version = "0.1.0"

var (
	cVersion  = C.CString(version)
	cErrNames = map[int]*C.char{}
	cUnknown  = C.CString("unknown error code")
)

func init() {
	// The pull API needs a P for the host's thread besides the network
	// goroutines: at GOMAXPROCS=1 throughput collapsed 5x (bridge-probe.md).
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	for code, name := range errorNames {
		cErrNames[code] = C.CString(name)
	}
}

//export portico_abi_version
func portico_abi_version() C.int { return abiVersion }

//export portico_version
func portico_version() *C.char { return cVersion }

//export portico_strerror
func portico_strerror(code C.int) *C.char {
	if s, ok := cErrNames[int(code)]; ok {
		return s
	}
	return cUnknown
}

func main() {}

// portico_debug_stats: see the debugging section of portico.h.
//
//export portico_debug_stats
func portico_debug_stats(out *C.int64_t, n C.size_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	if out == nil && n > 0 {
		return errInvalid
	}
	requests, conns, goroutines := server.DebugStats()
	vals := []int64{int64(requests), int64(conns), int64(goroutines)}
	if int(n) < len(vals) {
		vals = vals[:n]
	}
	dst := unsafe.Slice((*C.int64_t)(unsafe.Pointer(out)), len(vals))
	for i, v := range vals {
		dst[i] = C.int64_t(v)
	}
	return C.int(len(vals))
}
