// Package h1 is a sans-I/O HTTP/1.0 and HTTP/1.1 server-side engine (RFC 9112).
//
// A Conn never touches a socket, a clock or a goroutine: the host feeds the bytes it
// received (Recv, or RecvBuffer + Commit), pulls events with Next, and answers with
// response commands that append the bytes to send to a caller slice. The model is
// python-hyper's h11, tuned for the hot path: parsed requests point into the Conn's
// receive buffer, and Request, its Fields and the buffer are reused, so a plain
// keep-alive request costs no allocation.
//
// Requests are answered strictly in order: once a request's body is complete, Next
// reports Paused until the response has been finished with EndResponse (or
// WriteResponse with End); pipelined bytes stay buffered meanwhile.
package h1

import (
	"errors"
	"strconv"
)

// Limits bound what a peer can make the engine hold or skip.
type Limits struct {
	MaxHeadSize int   // request line + fields + final CRLF, bytes; over it -> 431. 0 means 65536.
	MaxBodySize int64 // 0 = unlimited; Content-Length over it -> 413 at head time; chunked body crossing it -> 413 mid-body
	MaxDiscard  int64 // unread request body the engine will skip to keep a connection alive; 0 means 1<<20
}

// Field is one header or trailer field line. Name is as received (or as given by the
// app); Value has its surrounding whitespace trimmed.
type Field struct{ Name, Value []byte }

// Event is what Next reports.
type Event int

const (
	NeedData     Event = iota // feed more bytes (or EOF)
	RequestEvent              // a request head: Request()
	DataEvent                 // body bytes: Data()
	EndOfMessage              // request body complete; Trailers() has chunked trailers (may be nil)
	Paused                    // current request fully read; the next request waits until EndResponse
	ErrorEvent                // protocol error: Err(); the host writes WriteError() and closes
	Closed                    // the peer closed (EOF) cleanly between requests; or after an error/close decision
)

var eventNames = [...]string{"NeedData", "RequestEvent", "DataEvent", "EndOfMessage", "Paused", "ErrorEvent", "Closed"}

func (e Event) String() string {
	if e >= 0 && int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "Event(" + strconv.Itoa(int(e)) + ")"
}

// Error is a protocol error found in the peer's input, with the status to answer.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "h1: " + strconv.Itoa(e.Status) + " " + e.Reason }

// Errors returned by the response side for bad input from the application.
var (
	ErrHeader = errors.New("h1: invalid response status, reason or field")
	ErrState  = errors.New("h1: response command out of order")
	// The response body disagrees with its Content-Length. What the declared
	// length allows has been appended and the response is over: the
	// connection must close after it, so the client sees a cut, never
	// bytes past the length.
	ErrBodyTooLong  = errors.New("h1: response body longer than its Content-Length")
	ErrBodyTooShort = errors.New("h1: response body shorter than its Content-Length")
)

// Protocol errors are shared values: they are never modified, and reporting one must
// not allocate (a flood of bad requests should cost nothing extra).
func newErr(status int, reason string) *Error { return &Error{status, reason} }

var (
	errIncomplete    = newErr(400, "incomplete request")
	errBareLF        = newErr(400, "bare CR or LF in request head")
	errHeadTooLarge  = newErr(431, "request head too large")
	errLineTooLong   = newErr(414, "request line too long")
	errTrailersLarge = newErr(431, "request trailers too large")
	errRequestLine   = newErr(400, "malformed request line")
	errMethod        = newErr(400, "invalid method")
	errTarget        = newErr(400, "invalid request target")
	errVersion       = newErr(400, "malformed HTTP version")
	errVersionNotSup = newErr(505, "HTTP version not supported")
	errObsFold       = newErr(400, "obsolete line folding")
	errFieldName     = newErr(400, "invalid field name")
	errFieldValue    = newErr(400, "invalid field value")
	errNoHost        = newErr(400, "missing Host")
	errManyHost      = newErr(400, "more than one Host")
	errBadHost       = newErr(400, "invalid Host")
	errBadCL         = newErr(400, "invalid Content-Length")
	errCLTE          = newErr(400, "Content-Length and Transfer-Encoding together")
	errTE10          = newErr(400, "Transfer-Encoding on HTTP/1.0")
	errTENotFinal    = newErr(400, "chunked is not the final transfer coding")
	errBadTE         = newErr(400, "invalid Transfer-Encoding")
	errTEUnsupported = newErr(501, "transfer coding not implemented")
	errBodyTooLarge  = newErr(413, "request body too large")
	errChunkSize     = newErr(400, "invalid chunk size")
	errChunkExt      = newErr(400, "invalid chunk extension")
	errChunkCRLF     = newErr(400, "missing CRLF after chunk data")
)

// Reader states.
type rstate uint8

const (
	stHead    rstate = iota // waiting for / parsing a request head
	stBody                  // delivering the body of the current request
	stPaused                // body complete; waiting for EndResponse
	stDiscard               // skipping the unread rest of the previous body
	stClosed                // nothing more to read
)

// Conn is one HTTP/1.x connection, server side. It is not safe for concurrent use.
type Conn struct {
	lim Limits

	buf  []byte // received bytes; buf[r:] is unread
	r    int
	scan int // head/trailer scanning progress, relative to r
	eof  bool

	headAt     int  // where the head being parsed starts in buf
	headFailed bool // the error is in a head (FailedLine)

	state rstate
	err   *Error
	req   Request
	data  []byte

	// Body reader.
	chunked   bool
	remaining int64 // bytes left in the body (length) or in the current chunk
	chunkSt   uint8
	bodyRead  int64 // body bytes parsed so far (for MaxBodySize)
	bodyDone  bool
	sawData   bool // a body byte was delivered (no more 100-continue)
	trailers  []Field
	hasTrail  bool
	fieldsBuf []Field // backing array for Request.Fields, reused

	// What the response side needs of the current request; Request's slices may be
	// invalid by the time the app answers.
	inRequest    bool
	reqHead      bool
	reqConnect   bool
	req10        bool
	reqKeepAlive bool
	expect100    bool
	continueSent bool

	// Response side.
	resp      respState
	framing   framing
	length    int64 // declared Content-Length
	written   int64
	keepAlive bool
	mustClose bool // a fault on either side forbids reuse
}

// NewConn returns a connection with the given limits (zero fields take defaults).
func NewConn(l Limits) *Conn {
	if l.MaxHeadSize <= 0 {
		l.MaxHeadSize = 65536
	}
	if l.MaxDiscard <= 0 {
		l.MaxDiscard = 1 << 20
	}
	if l.MaxBodySize < 0 {
		l.MaxBodySize = 0
	}
	return &Conn{lim: l}
}

// compact drops consumed bytes so the buffer does not grow with the connection's age.
// Slices handed out earlier (Request, Data, Trailers) become invalid, as documented.
func (c *Conn) compact() {
	if c.r == 0 {
		return
	}
	n := copy(c.buf, c.buf[c.r:])
	c.buf = c.buf[:n]
	c.r = 0
}

// Recv appends (copies) received bytes; len(p)==0 means EOF from the peer.
// It invalidates the slices returned by Request, Data and Trailers.
func (c *Conn) Recv(p []byte) {
	if len(p) == 0 {
		c.eof = true
		return
	}
	c.compact()
	if c.buf == nil && len(p) < 4096 {
		c.buf = make([]byte, 0, 4096)
	}
	c.buf = append(c.buf, p...)
}

// RecvBuffer returns free space of at least min bytes at the end of the internal
// buffer, for a zero-copy read; tell the engine how much was read with Commit. It
// invalidates the slices returned by Request, Data and Trailers. The buffer grows as
// needed: a host should stop reading while Next reports Paused, or pipelined bytes
// pile up.
func (c *Conn) RecvBuffer(min int) []byte {
	if min < 1 {
		min = 1
	}
	c.compact()
	if cap(c.buf)-len(c.buf) < min {
		n := 2 * cap(c.buf)
		if n < len(c.buf)+min {
			n = len(c.buf) + min
		}
		if n < 4096 {
			n = 4096
		}
		nb := make([]byte, len(c.buf), n)
		copy(nb, c.buf)
		c.buf = nb
	}
	return c.buf[len(c.buf):cap(c.buf)]
}

// Commit tells how many bytes were read into the slice from RecvBuffer; Commit(0)
// means EOF from the peer.
func (c *Conn) Commit(n int) {
	if n <= 0 {
		c.eof = true
		return
	}
	if n > cap(c.buf)-len(c.buf) {
		n = cap(c.buf) - len(c.buf)
	}
	c.buf = c.buf[:len(c.buf)+n]
}

// Next parses what is buffered and reports the next event.
func (c *Conn) Next() Event {
	for {
		switch c.state {
		case stHead:
			return c.nextHead()
		case stBody:
			return c.nextBody()
		case stPaused:
			return Paused
		case stDiscard:
			if !c.discard() {
				if c.eof {
					c.state = stClosed
					return Closed
				}
				return NeedData
			}
			c.state = stHead
		default:
			return Closed
		}
	}
}

// fail records a protocol error; the connection will not be reused.
func (c *Conn) fail(e *Error) Event {
	c.err = e
	c.mustClose = true
	c.keepAlive = false
	c.state = stClosed
	return ErrorEvent
}

// Request returns the request head reported by the last RequestEvent. It is valid
// until the next Recv/RecvBuffer; its Fields slice is reused by the next request.
func (c *Conn) Request() *Request { return &c.req }

// Data returns the body bytes reported by the last DataEvent, valid until the next
// Recv/RecvBuffer.
func (c *Conn) Data() []byte { return c.data }

// Trailers returns the trailer fields of a chunked body after EndOfMessage (nil if
// there were none), valid until the next Recv/RecvBuffer.
func (c *Conn) Trailers() []Field {
	if !c.hasTrail {
		return nil
	}
	return c.trailers
}

// Err returns the protocol error reported by ErrorEvent.
func (c *Conn) Err() *Error { return c.err }

// Idle reports whether no byte of a next request has arrived: the driver then applies
// its keep-alive timeout rather than the header timeout.
func (c *Conn) Idle() bool { return c.state == stHead && c.r == len(c.buf) }

// BodyDone reports whether the current request's body has been fully parsed.
func (c *Conn) BodyDone() bool { return c.bodyDone }

// Buffered returns the received bytes not consumed by the engine. After a 101 or a
// 2xx answer to CONNECT they belong to the new protocol. Valid until the next
// Recv/RecvBuffer.
func (c *Conn) Buffered() []byte { return c.buf[c.r:] }
