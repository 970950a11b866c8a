package main

/*
#include <stdint.h>
#include <stddef.h>

// The layout of struct portico_event in include/portico.h (that header
// cannot be included here: its opaque pointer types differ from the
// uintptr_t handles cgo declares for the exports).
typedef struct {
    int kind;
    uint32_t stream;
    int flags;
    int code;
    size_t len;
} pco_event;
*/
import "C"

import (
	"github.com/portico-http/portico/core/conn"
)

// Event kinds, PORTICO_EV_* in include/portico.h.
const (
	evRequest   = 1
	evData      = 2
	evEnd       = 3
	evReset     = 4
	evWritable  = 5
	evWSMessage = 6
	evWSClose   = 7
	evGoAway    = 8
	evClosed    = 9
)

// Request flags: the PORTICO_REQ_* of server mode, same meaning.
const (
	reqBodyComplete = 1
	reqChunked      = 2
	reqExpect       = 4
	reqWebSocket    = 8
	reqPush         = 16
	reqTrailers     = 32
)

const (
	wsText   = 1 // PORTICO_WS_TEXT
	wsBinary = 2 // PORTICO_WS_BINARY
	wsPing   = 9 // PORTICO_WS_PING
)

//export portico_conn_poll
func portico_conn_poll(h C.uintptr_t, ev *C.pco_event, buf *C.uint8_t, size C.size_t) C.int64_t {
	return onConn(h, ev != nil && valid(buf, size), func(b *connBox) C.int64_t {
		if !b.held {
			e := b.c.Next()
			if e.Kind == conn.NeedData {
				return errDone
			}
			b.take(e)
		}
		ev.kind = C.int(b.ev.kind)
		ev.stream = C.uint32_t(b.ev.stream)
		ev.flags = C.int(b.ev.flags)
		ev.code = C.int(b.ev.code)
		ev.len = C.size_t(len(b.payload))
		if int(size) < len(b.payload) {
			b.held = true // the event stays for a bigger buffer
			return errBuffer
		}
		b.held = false
		copy(goBytes(buf, size), b.payload)
		return C.int64_t(len(b.payload))
	})
}

// take copies an event out of the engine (its slices die at the next Next).
func (b *connBox) take(e *conn.Event) {
	b.ev = pcoEvent{stream: int(e.Stream), code: e.Code}
	p := b.payload[:0]
	switch e.Kind {
	case conn.Request:
		b.ev.kind = evRequest
		r := e.Req
		for _, part := range [][]byte{r.Method, r.Path, r.Query, []byte(r.Proto), r.Scheme, r.Authority} {
			p = append(append(p, part...), 0)
		}
		for _, f := range r.Fields {
			p = append(append(p, f.Name...), 0)
			p = append(append(p, f.Value...), 0)
		}
		b.ev.flags = requestFlags(r)
	case conn.Data:
		b.ev.kind = evData
		p = append(p, e.Data...)
	case conn.End:
		b.ev.kind = evEnd
		for _, f := range e.Trailers {
			p = append(append(p, f.Name...), 0)
			p = append(append(p, f.Value...), 0)
		}
	case conn.Reset:
		b.ev.kind = evReset
	case conn.Writable:
		b.ev.kind = evWritable
	case conn.WSMessage:
		b.ev.kind = evWSMessage
		b.ev.flags = wsBinary
		if e.Text {
			b.ev.flags = wsText
		}
		p = append(p, e.Data...)
	case conn.WSClose:
		b.ev.kind = evWSClose
		p = append(p, e.Data...)
	case conn.GoAway:
		b.ev.kind = evGoAway
	case conn.Closed:
		b.ev.kind = evClosed
	}
	if cap(p) > 1<<20 && len(p) < 1<<16 {
		p = append([]byte(nil), p...) // one big message must not pin its buffer
	}
	b.payload = p
}

func requestFlags(r *conn.Req) int {
	f := 0
	if r.EndStream {
		f |= reqBodyComplete
	}
	if r.Chunked {
		f |= reqChunked
	}
	if r.ExpectContinue {
		f |= reqExpect
	}
	if r.WebSocket {
		f |= reqWebSocket
	}
	if r.Push {
		f |= reqPush
	}
	if r.Trailers {
		f |= reqTrailers
	}
	return f
}
