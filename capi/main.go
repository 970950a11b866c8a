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
