package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"github.com/portico-http/portico/core/server"
)

//export portico_request_tls
func portico_request_tls(id C.uint64_t, buf *C.uint8_t, size C.size_t) C.int64_t {
	return countOnRequest(id, valid(buf, size), func(ex *server.Exchange) (int, error) {
		return ex.TLS(goBytes(buf, size))
	})
}
