package server

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

// Request flags in a record; the values are PORTICO_REQ_* in portico.h.
const (
	reqBodyComplete   = 1
	reqChunked        = 2
	reqExpectContinue = 4
	reqWebSocket      = 8
	reqPush           = 16
	reqTrailers       = 32
	reqPushed         = 64
)

// recordHeader is the fixed part of a record: id, flags, head length.
const recordHeader = 16

// backend is the protocol side of an Exchange: an HTTP/1.x connection (one
// request at a time) or an HTTP/2 stream. Each method takes the
// transport's lock itself, except release, which runs under it.
type backend interface {
	read(ex *Exchange, dst []byte, timeout time.Duration) (int, error)
	respond(ex *Exchange, head, body []byte, end bool) error
	write(ex *Exchange, data []byte, end bool) error
	abort(ex *Exchange, status int) error
	acceptWebSocket(ex *Exchange, subprotocol string, extra []byte) error
	release(ex *Exchange) // the HTTP part is over
	earlyHints(ex *Exchange, fields []h1.Field) error
	push(ex *Exchange, path []byte, fields []h1.Field) error
	// For a WebSocket session carried by this transport:
	lock()
	unlock()
	waitDrained(pending func() int)    // under the lock
	overWater(pending func() int) bool // waitDrained would wait (under the lock)
	flushWSNow(s *wsSession)           // send the session's output soon (under the lock)
	wsClosing()                        // we sent close: bound the wait for the answer
}

// Exchange is one request handed to the host and the response it makes.
// The host calls its methods from one thread at a time (portico.h).
type Exchange struct {
	id  uint64
	b   backend
	srv *Server
	// nowait: Respond and Write never wait for the client (event mode).
	nowait bool
	// watchGone: post EvBody with ErrIO if the client goes away (WatchGone).
	watchGone bool
	head      []byte // packed head, see portico_server_next
	flags     uint32

	pending   []byte // body bytes received but not yet given to the host
	bodyDone  bool   // the whole body has been received
	expect100 bool
	bodyErr   *h1.Error  // the body broke off with this error
	clock     bodyClock  // the body against min_body_rate (bodywait.go)
	handed    bool       // the host took it (claim); under the transport's lock
	unsized   bool       // chunked, or HTTP/2 without content-length: maybe a conversation
	trailers  []h1.Field // the request's trailers, once the body is done

	respTrailers []h1.Field // set by the host; sent when the response ends

	started  bool // response head formatted
	finished bool // the HTTP part is over (a WebSocket may go on under the id)

	offer *ws.Offer  // a valid WebSocket opening handshake, else nil
	ws    *wsSession // after AcceptWebSocket

	timer    *time.Timer // the request timeout, if set; under the transport's lock
	timedOut atomic.Bool // the timeout fired and finished the request

	answer []byte // an answer record's "STATUS reason" (answered.go); nil for a request
	// Its answer record was made, or must not be (answered.go): once.
	reported atomic.Bool
}

// ID is the request's id as the host sees it.
func (ex *Exchange) ID() uint64 { return ex.id }

// record writes the request's record into dst (layout in portico.h). The
// body part carries as much of the prefetched body as fits.
func (ex *Exchange) record(dst []byte) (int, error) {
	if ex.answer != nil {
		return ex.answerRecord(dst)
	}
	need := recordHeader + len(ex.head)
	if len(dst) < need {
		return need, ErrBuffer
	}
	n := copy(dst[need:], ex.pending)
	ex.pending = ex.pending[n:]
	flags := ex.flags
	if ex.bodyDone && len(ex.pending) == 0 {
		flags |= reqBodyComplete
	}
	flags |= ex.tlsFlag()
	binary.LittleEndian.PutUint64(dst, ex.id)
	binary.LittleEndian.PutUint32(dst[8:], flags)
	binary.LittleEndian.PutUint32(dst[12:], uint32(len(ex.head)))
	copy(dst[recordHeader:], ex.head)
	return need + n, nil
}

// Read copies request body bytes into dst; 0 means the body is complete.
func (ex *Exchange) Read(dst []byte, timeout time.Duration) (int, error) {
	return ex.b.read(ex, dst, timeout)
}

// Respond sends the response head (NUL-separated: status line, then name and
// value per field) and the first body bytes. With end, body is the whole
// body and the request is finished.
func (ex *Exchange) Respond(head, body []byte, end bool) error {
	return ex.b.respond(ex, head, body, end)
}

// Write adds body bytes after Respond; with end it finishes the request.
func (ex *Exchange) Write(data []byte, end bool) error { return ex.b.write(ex, data, end) }

// Abort gives up on the request: status with an empty body if nothing was
// sent, otherwise the response is cut off (connection closed or stream reset).
func (ex *Exchange) Abort(status int) error { return ex.b.abort(ex, status) }

// AcceptWebSocket answers the opening handshake and switches to the
// WebSocket: from now on the id names it. extra is NUL-separated name and
// value pairs for the response (may be empty).
func (ex *Exchange) AcceptWebSocket(subprotocol string, extra []byte) error {
	return ex.b.acceptWebSocket(ex, subprotocol, extra)
}

// finish ends the host's part of the HTTP exchange: the id stops working
// (unless a WebSocket goes on under it). Called under the transport's lock.
func (ex *Exchange) finish() {
	if ex.finished {
		return
	}
	ex.finished = true
	ex.stopTimerLocked()
	ex.b.release(ex)
	if ex.ws == nil {
		exchanges.remove(ex.id)
	}
}

// expire runs when the request timeout passes before the host finished the
// request (a WebSocket accepted in time is not affected: accepting finishes
// the HTTP part). Nothing sent yet: the client gets 503 Service Unavailable,
// not 504: the app is the origin server's own code, not an upstream (RFC
// 9110 15.6.4 and 15.6.5). Otherwise the response is cut: the connection
// closes (HTTP/1.x) or the stream is reset (HTTP/2). Either way the id stops
// working and the host's later calls get PORTICO_ERR_INVALID.
func (ex *Exchange) expire() {
	ex.b.lock()
	started, finished := ex.started, ex.finished
	ex.b.unlock()
	if c, ok := ex.b.(*conn); ok {
		c.expire(ex)
	} else {
		ex.b.abort(ex, 503)
		if s, ok := ex.b.(*h2stream); ok {
			s.lock()
			signal(s.readable) // a host waiting for body or window gives up now
			signal(s.writable)
			s.unlock()
		}
	}
	ex.b.lock()
	ex.timedOut.Store(ex.finished)
	taken := ex.handed
	ex.b.unlock()
	if !finished && taken {
		ex.srv.reportExpired(ex, started)
	}
}

// expiredInQueue reports a request the timeout answered before the host
// took it from the queue.
func (ex *Exchange) expiredInQueue() bool { return ex.timedOut.Load() }

func (ex *Exchange) stopTimer() {
	ex.b.lock()
	ex.stopTimerLocked()
	ex.b.unlock()
}

func (ex *Exchange) stopTimerLocked() {
	if ex.timer != nil {
		ex.timer.Stop()
		ex.timer = nil
	}
}

// parsePairs splits NUL-separated name and value pairs, copying them.
func parsePairs(b []byte) ([]h1.Field, error) {
	var fs []h1.Field
	for rest := b; len(rest) > 0; {
		var name, value []byte
		var ok bool
		name, rest, ok = bytes.Cut(rest, []byte{0})
		if !ok || len(name) == 0 {
			return nil, ErrHeader
		}
		value, rest, _ = bytes.Cut(rest, []byte{0})
		fs = append(fs, h1.Field{Name: bytes.Clone(name), Value: bytes.Clone(value)})
	}
	return fs, nil
}

// EarlyHints sends 103 Early Hints with fields (NUL-separated pairs).
func (ex *Exchange) EarlyHints(fields []byte) error {
	fs, err := parsePairs(fields)
	if err != nil {
		return err
	}
	return ex.b.earlyHints(ex, fs)
}

// SetTrailers sets the response trailers (NUL-separated pairs), sent when
// the response ends.
func (ex *Exchange) SetTrailers(fields []byte) error {
	fs, err := parsePairs(fields)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if !validTrailer(f) {
			return ErrHeader
		}
	}
	ex.b.lock()
	defer ex.b.unlock()
	if ex.flags&reqTrailers == 0 || ex.finished {
		return ErrState
	}
	ex.respTrailers = fs
	return nil
}

// Trailers copies the request's trailers (NUL-separated pairs) into dst once
// the body has been read to its end.
func (ex *Exchange) Trailers(dst []byte) (int, error) {
	ex.b.lock()
	defer ex.b.unlock()
	if !ex.bodyDone || len(ex.pending) > 0 {
		return 0, ErrState
	}
	var b []byte
	for _, f := range ex.trailers {
		if len(b) > 0 {
			b = append(b, 0)
		}
		b = append(append(append(b, f.Name...), 0), f.Value...)
	}
	if len(b) > len(dst) {
		return len(b), ErrBuffer
	}
	return copy(dst, b), nil
}

// Push promises a GET of head's path (then NUL-separated request fields)
// and queues it as a request of its own.
func (ex *Exchange) Push(head []byte) error {
	path, rest, _ := bytes.Cut(head, []byte{0})
	if len(path) == 0 || path[0] != '/' {
		return ErrHeader
	}
	fs, err := parsePairs(rest)
	if err != nil {
		return err
	}
	return ex.b.push(ex, bytes.Clone(path), fs)
}

// validTrailer accepts a trailer field: a token name, a value without CR, LF
// or NUL, and nothing that frames, routes or controls the message, which
// RFC 9110 6.5.1 forbids in trailers.
func validTrailer(f h1.Field) bool {
	if len(f.Name) == 0 || bytes.ContainsAny(f.Value, "\r\n\x00") {
		return false
	}
	for _, c := range f.Name {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte("\"(),/:;<=>?@[\\]{}"), c) >= 0 {
			return false
		}
	}
	switch strings.ToLower(string(f.Name)) {
	case "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
		"upgrade", "te", "trailer", "host", "content-type", "content-encoding", "content-range",
		"authorization", "set-cookie", "cache-control", "expect", "max-forwards":
		return false
	}
	return true
}
