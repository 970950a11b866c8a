// Package h2 is a sans-I/O HTTP/2 server connection (RFC 9113) built on the Framer
// and hpack packages of golang.org/x/net/http2.
//
// A Conn never touches a socket, a clock or a goroutine: the host feeds received
// bytes with Recv (time comes in as an argument), pulls events with Next until
// NeedData, answers with commands (Respond, SendData, SendTrailers, Push, Reset,
// GoAway...) and drains the bytes to send with Output. The model is python-hyper's
// h2 and nghttp2. Flow control is real backpressure: a WINDOW_UPDATE for request
// data goes out only when the host reports it consumed with Consumed.
//
// Frames are parsed lazily by Next, so bytes the host has not asked about stay
// buffered; slices handed out (Request, Data, Trailers) stay valid until the next
// Recv. A Conn is not safe for concurrent use.
package h2

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Limits bound what a peer can make the engine hold or do. Zero fields take defaults.
type Limits struct {
	MaxConcurrentStreams  uint32  // advertised and enforced (REFUSED_STREAM beyond); 0 means 100
	MaxHeaderListSize     uint32  // advertised; a bigger request head gets an engine-made 431; 0 means 65536
	InitialWindowSize     uint32  // our receive window per stream and for the connection; 0 means 1<<20
	MaxFrameSize          uint32  // largest frame we accept (advertised); 0 means 16384
	HeaderTableSize       uint32  // hpack dynamic table the peer's encoder may use; 0 means 4096
	MaxContinuation       int     // CONTINUATION frames per header block (CVE-2024-27316); 0 means 8
	ResetBurst            int     // rapid-reset token bucket (CVE-2023-44487): burst; 0 means 1000
	ResetRate             float64 // refill per second; 0 means 33
	FloodBudget           int     // PING/SETTINGS ACKs queued and not drained by Output; empty DATA frames (a bucket refilled at FloodBudget/10 per s); 0 means 1000
	EnableConnectProtocol bool    // advertise SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441) and accept :protocol
	MaxBodySize           int64   // 0 = unlimited; more request body than this -> engine answers 413 and resets the stream
}

func (l *Limits) normalize() {
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = 100
	}
	if l.MaxHeaderListSize == 0 {
		l.MaxHeaderListSize = 65536
	}
	if l.InitialWindowSize == 0 {
		l.InitialWindowSize = 1 << 20
	}
	if l.InitialWindowSize > maxWindow {
		l.InitialWindowSize = maxWindow
	}
	if l.MaxFrameSize < minMaxFrameSize {
		l.MaxFrameSize = minMaxFrameSize
	}
	if l.MaxFrameSize > maxMaxFrameSize {
		l.MaxFrameSize = maxMaxFrameSize
	}
	if l.HeaderTableSize == 0 {
		l.HeaderTableSize = 4096
	}
	if l.MaxContinuation <= 0 {
		l.MaxContinuation = 8
	}
	if l.ResetBurst <= 0 {
		l.ResetBurst = 1000
	}
	if l.ResetRate <= 0 {
		l.ResetRate = 33
	}
	if l.FloodBudget <= 0 {
		l.FloodBudget = 1000
	}
	if l.MaxBodySize < 0 {
		l.MaxBodySize = 0
	}
}

const (
	maxWindow       = 1<<31 - 1
	minMaxFrameSize = 16384
	maxMaxFrameSize = 1<<24 - 1
	defaultWindow   = 65535
	clientPreface   = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

// Field is one header or trailer field. Names are lowercase, as on the wire.
type Field struct{ Name, Value []byte }

// Event is what Next reports.
type Event int

const (
	NeedData       Event = iota // feed more bytes (Recv), then call Next again
	RequestEvent                // Request(): a new stream's request head
	DataEvent                   // StreamID(), Data(): request body bytes; report them with Consumed
	EndStreamEvent              // StreamID(): the request body ended; Trailers() if any. Not sent when Request().EndStream was set
	ResetEvent                  // StreamID(), ErrCode(): the stream is gone (client RST_STREAM, or the engine reset it); stop its work
	WindowEvent                 // StreamID() (0 = connection or SETTINGS: retry every blocked stream): the send window grew
	GoAwayEvent                 // the client sent GOAWAY: StreamID() is its last stream id, ErrCode() its code
	ConnErrorEvent              // Err(): a connection error; Output holds the GOAWAY; flush and close
	ClosedEvent                 // the connection is finished: flush Output and close
)

var eventNames = [...]string{"NeedData", "RequestEvent", "DataEvent", "EndStreamEvent", "ResetEvent",
	"WindowEvent", "GoAwayEvent", "ConnErrorEvent", "ClosedEvent"}

func (e Event) String() string {
	if e >= 0 && int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "Event(" + strconv.Itoa(int(e)) + ")"
}

// Request is a request head. Its slices are valid until the next Recv.
type Request struct {
	StreamID                                  uint32
	Method, Scheme, Authority, Path, Protocol []byte  // pseudo-header fields; Protocol is :protocol (RFC 8441)
	Fields                                    []Field // regular fields in order (cookie crumbs stay separate)
	EndStream                                 bool    // no body follows
	ContentLength                             int64   // -1 if absent
}

// ConnError is a connection error: the code sent in our GOAWAY and why.
type ConnError struct {
	Code   http2.ErrCode
	Reason string
}

func (e *ConnError) Error() string {
	return "h2: connection error " + e.Code.String() + ": " + e.Reason
}

// Errors returned by commands.
var (
	ErrStreamClosed = errors.New("h2: stream closed or unknown")
	ErrHeader       = errors.New("h2: invalid status or header field")
	ErrState        = errors.New("h2: command not allowed in this stream or connection state")
	ErrPushDisabled = errors.New("h2: push not allowed by the peer")
	ErrConnClosed   = errors.New("h2: connection closed")
)

// event is one queued result of Next.
type event struct {
	kind     Event
	id       uint32
	code     http2.ErrCode
	data     []byte
	req      *Request
	trailers []Field
}

// Conn is one HTTP/2 connection, server side.
type Conn struct {
	lim Limits
	now time.Time

	// Input: in[r:] is unparsed. Slices handed out point into in (DATA) or arena
	// (header fields); both are only rewritten by Recv once no event is pending.
	in       []byte
	r        int
	eof      bool
	preface  int // bytes of the client preface matched so far; len(clientPreface) when done
	gotFirst bool
	rd       bytes.Reader
	fr       *http2.Framer

	// Events.
	q    []event
	qh   int
	cur  event
	done bool // ClosedEvent reported (or to report forever)
	dead bool // a connection error happened: input is ignored
	err  *ConnError

	// Output.
	out []byte

	// HPACK.
	dec      *hpack.Decoder
	enc      encoder
	hblock   headerBlock
	arena    []byte
	fields   []Field
	reqs     []*Request
	reqsUsed int
	hdr      hdrState // per-block decoding state used by the emit callback
	lower    []byte   // scratch for lowercasing response field names

	// Streams.
	streams     map[uint32]*stream
	last        *stream // cache of stream()
	free        []*stream
	closedRing  []uint32
	closedHead  int
	maxClientID uint32 // highest client stream id seen (opened, refused or ignored)
	nextPushID  uint32
	clientOpen  int // client-initiated streams not closed
	drainOpen   int // of those, draining: answered, the rest of the request dropped
	pushOpen    int // pushed streams not closed

	// Flow control.
	sendWindow    int64 // connection window the peer granted us
	recvWindow    int64 // connection window we granted the peer, not yet used
	recvUnacked   int64 // consumed/discarded bytes not yet returned by WINDOW_UPDATE
	connTarget    int64 // connection receive window we keep granting
	streamRecvIWS int64 // stream receive window in force (65535 until the peer ACKs our SETTINGS)
	settingsAcked bool
	connBlocked   bool // some SendData was short on the connection window

	// Peer settings.
	peerIWS        int64
	peerMaxFrame   uint32
	peerPush       bool
	peerMaxStreams uint32
	peerTableSize  uint32

	// GOAWAY.
	goAwaySent bool
	goAwayLast uint32 // last stream id in our GOAWAY
	goAwayRecv bool
	peerLast   uint32

	// Protections.
	resetTokens float64
	floodTokens float64
	lastRefill  time.Time
	acksPending int // PING/SETTINGS ACKs queued since the last Output
}

// NewServerConn returns a server connection and queues our SETTINGS (the server
// connection preface) into the output.
func NewServerConn(l Limits) *Conn {
	l.normalize()
	c := &Conn{
		lim:            l,
		streams:        make(map[uint32]*stream),
		nextPushID:     2,
		sendWindow:     defaultWindow,
		recvWindow:     defaultWindow,
		connTarget:     int64(l.InitialWindowSize),
		streamRecvIWS:  defaultWindow,
		peerIWS:        defaultWindow,
		peerMaxFrame:   minMaxFrameSize,
		peerPush:       true,
		peerMaxStreams: ^uint32(0),
		peerTableSize:  4096,
		resetTokens:    float64(l.ResetBurst),
		floodTokens:    float64(l.FloodBudget),
	}
	if c.connTarget < defaultWindow {
		c.connTarget = defaultWindow
	}
	ring := 2 * int(l.MaxConcurrentStreams)
	if ring < 64 {
		ring = 64
	}
	c.closedRing = make([]uint32, 0, ring)
	c.fr = http2.NewFramer(nil, &c.rd)
	c.fr.AllowIllegalReads = true // we check HEADERS/CONTINUATION order ourselves (and count them)
	c.fr.SetMaxReadFrameSize(l.MaxFrameSize)
	c.dec = hpack.NewDecoder(l.HeaderTableSize, c.onField)
	c.enc.tableSize = 4096
	c.out = make([]byte, 0, 4096)
	c.writeSettings()
	return c
}

// Recv appends (copies) received bytes; len(p)==0 means EOF from the peer. Call Next
// until NeedData afterwards. Slices from earlier events become invalid once every
// queued event has been taken.
func (c *Conn) Recv(p []byte, now time.Time) {
	c.setNow(now)
	if len(p) == 0 {
		c.eof = true
		return
	}
	if c.dead || c.done {
		return // nothing more is read: do not buffer it
	}
	c.compact()
	c.in = append(c.in, p...)
}

// RecvBuffer returns at least min bytes of free space at the end of the input buffer
// for a zero-copy read; report what was read with Commit.
func (c *Conn) RecvBuffer(min int) []byte {
	c.compact()
	if cap(c.in)-len(c.in) < min {
		n := make([]byte, len(c.in), 2*cap(c.in)+min)
		copy(n, c.in)
		c.in = n
	}
	return c.in[len(c.in):cap(c.in)]
}

// Commit adds n bytes written into the slice from RecvBuffer (n==0: EOF).
func (c *Conn) Commit(n int, now time.Time) {
	c.setNow(now)
	if n == 0 {
		c.eof = true
		return
	}
	if c.dead || c.done {
		return
	}
	c.in = c.in[:len(c.in)+n]
}

func (c *Conn) setNow(now time.Time) {
	if c.lastRefill.IsZero() {
		c.lastRefill = now
	}
	c.now = now
}

// compact drops parsed input and resets the header arena, unless a queued event may
// still point into them.
func (c *Conn) compact() {
	if c.qh < len(c.q) {
		return
	}
	if c.r > 0 {
		n := copy(c.in, c.in[c.r:])
		c.in = c.in[:n]
		c.r = 0
	}
	c.arena = c.arena[:0]
	c.fields = c.fields[:0]
	c.reqsUsed = 0
}

// Next returns the next event, parsing buffered frames as needed.
func (c *Conn) Next() Event {
	for {
		if c.qh < len(c.q) {
			c.cur = c.q[c.qh]
			c.q[c.qh] = event{}
			c.qh++
			if c.qh == len(c.q) {
				c.q = c.q[:0]
				c.qh = 0
			}
			return c.cur.kind
		}
		if c.done {
			c.cur = event{kind: ClosedEvent}
			return ClosedEvent
		}
		if c.dead {
			c.done = true
			continue
		}
		if c.checkClosed() {
			continue
		}
		if !c.step() {
			if c.eof && len(c.q) == 0 {
				c.done = true
				continue
			}
			c.cur = event{}
			return NeedData
		}
	}
}

// checkClosed queues ClosedEvent once a GOAWAY went either way and no stream is left.
func (c *Conn) checkClosed() bool {
	if !c.goAwaySent && !c.goAwayRecv || c.hblock.active() {
		return false
	}
	if c.drainOpen > 0 {
		for _, s := range c.streams {
			c.stopDraining(s)
		}
	}
	if c.clientOpen+c.pushOpen > 0 {
		return false
	}
	if !c.goAwaySent {
		c.sendGoAway(http2.ErrCodeNo, nil)
	}
	c.done = true
	return true
}

func (c *Conn) push(e event) { c.q = append(c.q, e) }

// Request returns the request of a RequestEvent.
func (c *Conn) Request() *Request { return c.cur.req }

// Data returns the body bytes of a DataEvent.
func (c *Conn) Data() []byte { return c.cur.data }

// StreamID returns the stream of the current event (the last stream id for GoAwayEvent).
func (c *Conn) StreamID() uint32 { return c.cur.id }

// Trailers returns the request trailers of an EndStreamEvent, nil if none.
func (c *Conn) Trailers() []Field { return c.cur.trailers }

// ErrCode returns the code of a ResetEvent or GoAwayEvent.
func (c *Conn) ErrCode() http2.ErrCode { return c.cur.code }

// Err returns the connection error, once ConnErrorEvent was reported.
func (c *Conn) Err() *ConnError { return c.err }

// Output appends all pending output to dst and clears it.
func (c *Conn) Output(dst []byte) []byte {
	dst = append(dst, c.out...)
	c.out = c.out[:0]
	c.acksPending = 0
	return dst
}

// HasOutput reports whether Output has bytes to send.
func (c *Conn) HasOutput() bool { return len(c.out) > 0 }

// OutputLen is how many bytes wait for Output (for backpressure).
func (c *Conn) OutputLen() int { return len(c.out) }

// OpenStreams counts streams not yet closed (client-initiated and pushed) that the
// host may still act on: draining streams (answered, the rest of the request dropped)
// are not counted, so a connection holding only those is idle to the host.
func (c *Conn) OpenStreams() int { return c.clientOpen + c.pushOpen - c.drainOpen }

// connError sends GOAWAY with code, stops reading and queues ConnErrorEvent.
func (c *Conn) connError(code http2.ErrCode, reason string) {
	if c.dead {
		return
	}
	c.dead = true
	c.err = &ConnError{Code: code, Reason: reason}
	c.sendGoAway(code, []byte(reason))
	c.push(event{kind: ConnErrorEvent, code: code})
}
