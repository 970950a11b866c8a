package main

/*
#include <stdint.h>
extern volatile int pco_forked;
*/
import "C"

import (
	"errors"
	"runtime/cgo"

	"github.com/portico-http/portico/core/server"
)

// The error codes of enum portico_error in include/portico.h.
const (
	errOK       = 0
	errDone     = -1
	errInvalid  = -2
	errBuffer   = -3
	errClosed   = -4
	errState    = -5
	errHeader   = -6
	errListen   = -7
	errOption   = -8
	errIO       = -9
	errForked   = -10
	errInternal = -11
	errTooLarge = -12
	errThread   = -13 // a connection used from a thread other than its owner
	errLength   = -14 // the response body disagreed with its Content-Length
)

var errorNames = map[int]string{
	errOK:       "success",
	errDone:     "nothing more now",
	errInvalid:  "invalid argument or handle",
	errBuffer:   "buffer too small",
	errClosed:   "closed",
	errState:    "not valid in this state",
	errHeader:   "malformed status or header",
	errListen:   "cannot listen on the address",
	errOption:   "unknown option or bad value",
	errIO:       "connection failed or client went away",
	errForked:   "process forked after the library was loaded; load it after fork",
	errInternal: "internal error in libportico",
	errTooLarge: "request body over max_body_size",
	errThread:   "connection used from a thread other than the one that made it",
	errLength:   "response body disagrees with its Content-Length (cut at the declared length)",
}

// code maps a driver error to its C error code.
func code(err error) C.int {
	switch {
	case err == nil:
		return errOK
	case errors.Is(err, server.ErrTimeout):
		return errDone
	case errors.Is(err, server.ErrClosed):
		return errClosed
	case errors.Is(err, server.ErrBuffer):
		return errBuffer
	case errors.Is(err, server.ErrState):
		return errState
	case errors.Is(err, server.ErrHeader):
		return errHeader
	case errors.Is(err, server.ErrIO):
		return errIO
	case errors.Is(err, server.ErrTooLarge):
		return errTooLarge
	case errors.Is(err, server.ErrLength):
		return errLength
	}
	return errInternal
}

// forked reports a process forked after load: see fork.c.
func forked() bool { return C.pco_forked != 0 }

// recoverTo turns a panic escaping an export into errInternal: a bug in the
// library must not take the host process down.
func recoverTo(rc *C.int) {
	if recover() != nil {
		*rc = errInternal
	}
}

// handleValue resolves a handle from C. Zero, freed and forged handles give
// nil (cgo.Handle panics on them; the panic stays here).
func handleValue(h C.uintptr_t) (v any) {
	if h == 0 {
		return nil
	}
	defer func() {
		if recover() != nil {
			v = nil
		}
	}()
	return cgo.Handle(h).Value()
}
