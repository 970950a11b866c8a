package main

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"

	"github.com/portico-http/portico/core/server"
)

func optionsFrom(h C.uintptr_t) *server.Options {
	o, _ := handleValue(h).(*server.Options)
	return o
}

//export portico_options_new
func portico_options_new() (h C.uintptr_t) {
	if forked() {
		return 0
	}
	defer func() {
		if recover() != nil {
			h = 0
		}
	}()
	o := server.DefaultOptions()
	return C.uintptr_t(cgo.NewHandle(&o))
}

//export portico_options_set
func portico_options_set(h C.uintptr_t, name, value *C.char) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	o := optionsFrom(h)
	if o == nil || name == nil || value == nil {
		return errInvalid
	}
	if o.Set(C.GoString(name), C.GoString(value)) != nil {
		return errOption
	}
	return errOK
}

//export portico_options_free
func portico_options_free(h C.uintptr_t) (rc C.int) {
	if forked() {
		return errForked
	}
	defer recoverTo(&rc)
	if optionsFrom(h) == nil {
		return errInvalid
	}
	cgo.Handle(h).Delete()
	return errOK
}
