package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"bytes"
	"strconv"

	"github.com/portico-http/portico/core/conn"
)

// The commands of connection mode on one stream of a portico_conn.

// splitNUL splits NUL-separated text; a trailing NUL is allowed.
func splitNUL(p []byte) [][]byte {
	if len(p) == 0 {
		return nil
	}
	p = bytes.TrimSuffix(p, []byte{0})
	return bytes.Split(p, []byte{0})
}

// pairs reads NUL-separated name and value pairs (copied: C memory is only
// borrowed for the call).
func pairs(parts [][]byte) ([]conn.Field, bool) {
	if len(parts)%2 != 0 {
		return nil, false
	}
	fs := make([]conn.Field, 0, len(parts)/2)
	for i := 0; i < len(parts); i += 2 {
		if len(parts[i]) == 0 {
			return nil, false
		}
		fs = append(fs, conn.Field{Name: bytes.Clone(parts[i]), Value: bytes.Clone(parts[i+1])})
	}
	return fs, true
}

// statusHead parses "200 OK\0name\0value..." into a status and fields.
func statusHead(head []byte) (int, []conn.Field, bool) {
	parts := splitNUL(head)
	if len(parts) == 0 {
		return 0, nil, false
	}
	code, _, _ := bytes.Cut(parts[0], []byte{' '})
	st, err := strconv.Atoi(string(code))
	if err != nil || len(code) != 3 {
		return 0, nil, false
	}
	fs, ok := pairs(parts[1:])
	return st, fs, ok
}

func streamOK(stream C.uint32_t) bool { return stream != 0 }

//export portico_conn_respond
func portico_conn_respond(h C.uintptr_t, stream C.uint32_t, head *C.uint8_t, headLen C.size_t, body *C.uint8_t, bodyLen C.size_t, flags C.int) C.int64_t {
	return onConn(h, streamOK(stream) && head != nil && headLen > 0 && valid(body, bodyLen), func(b *connBox) C.int64_t {
		st, fs, ok := statusHead(goBytes(head, headLen))
		if !ok {
			return errHeader
		}
		n, err := b.c.Respond(uint32(stream), st, fs, goBytes(body, bodyLen), flags&endFlag != 0)
		if err != nil {
			return connCode(err)
		}
		return C.int64_t(n)
	})
}

//export portico_conn_write
func portico_conn_write(h C.uintptr_t, stream C.uint32_t, data *C.uint8_t, size C.size_t, flags C.int) C.int64_t {
	return onConn(h, streamOK(stream) && valid(data, size), func(b *connBox) C.int64_t {
		n, err := b.c.Write(uint32(stream), goBytes(data, size), flags&endFlag != 0)
		if err != nil {
			return connCode(err)
		}
		return C.int64_t(n)
	})
}

//export portico_conn_set_trailers
func portico_conn_set_trailers(h C.uintptr_t, stream C.uint32_t, fields *C.uint8_t, size C.size_t) C.int {
	return onConnInt(h, streamOK(stream) && valid(fields, size), func(b *connBox) C.int64_t {
		fs, ok := pairs(splitNUL(goBytes(fields, size)))
		if !ok {
			return errHeader
		}
		return connCode(b.c.SetTrailers(uint32(stream), fs))
	})
}

//export portico_conn_early_hints
func portico_conn_early_hints(h C.uintptr_t, stream C.uint32_t, fields *C.uint8_t, size C.size_t) C.int {
	return onConnInt(h, streamOK(stream) && valid(fields, size), func(b *connBox) C.int64_t {
		fs, ok := pairs(splitNUL(goBytes(fields, size)))
		if !ok {
			return errHeader
		}
		return connCode(b.c.EarlyHints(uint32(stream), fs))
	})
}

//export portico_conn_push
func portico_conn_push(h C.uintptr_t, stream C.uint32_t, head *C.uint8_t, headLen C.size_t) C.int64_t {
	return onConn(h, streamOK(stream) && head != nil && headLen > 0, func(b *connBox) C.int64_t {
		parts := splitNUL(goBytes(head, headLen))
		if len(parts) == 0 {
			return errHeader
		}
		fs, ok := pairs(parts[1:])
		if !ok {
			return errHeader
		}
		id, err := b.c.Push(uint32(stream), bytes.Clone(parts[0]), fs)
		if err != nil {
			return connCode(err)
		}
		return C.int64_t(id)
	})
}

//export portico_conn_reset
func portico_conn_reset(h C.uintptr_t, stream C.uint32_t) C.int {
	return onConnInt(h, streamOK(stream), func(b *connBox) C.int64_t {
		return connCode(b.c.Reset(uint32(stream)))
	})
}

//export portico_conn_ws_accept
func portico_conn_ws_accept(h C.uintptr_t, stream C.uint32_t, subprotocol *C.char, head *C.uint8_t, headLen C.size_t) C.int {
	return onConnInt(h, streamOK(stream) && valid(head, headLen), func(b *connBox) C.int64_t {
		fs, ok := pairs(splitNUL(goBytes(head, headLen)))
		if !ok {
			return errHeader
		}
		sub := ""
		if subprotocol != nil {
			sub = C.GoString(subprotocol)
		}
		return connCode(b.c.WSAccept(uint32(stream), sub, fs))
	})
}

//export portico_conn_ws_send
func portico_conn_ws_send(h C.uintptr_t, stream C.uint32_t, kind C.int, data *C.uint8_t, size C.size_t) C.int {
	return onConnInt(h, streamOK(stream) && valid(data, size), func(b *connBox) C.int64_t {
		p := goBytes(data, size)
		switch kind {
		case wsText:
			return connCode(b.c.WSSend(uint32(stream), true, p))
		case wsBinary:
			return connCode(b.c.WSSend(uint32(stream), false, p))
		case wsPing:
			return connCode(b.c.WSPing(uint32(stream), p))
		}
		return errInvalid
	})
}

//export portico_conn_ws_close
func portico_conn_ws_close(h C.uintptr_t, stream C.uint32_t, code C.int, reason *C.char) C.int {
	return onConnInt(h, streamOK(stream), func(b *connBox) C.int64_t {
		r := ""
		if reason != nil {
			r = C.GoString(reason)
		}
		return connCode(b.c.WSClose(uint32(stream), int(code), r))
	})
}
