// Package conn is one sans-I/O server connection over every protocol Portico
// speaks: it sniffs the HTTP/2 preface on cleartext, follows TLS ALPN, runs
// "Upgrade: h2c" and WebSocket (over HTTP/1.1 and over HTTP/2, RFC 8441), and
// presents all of them to the host as one stream of events and commands.
//
// The host feeds received bytes with Recv, pulls events with Next until
// NeedData, answers with commands (Respond, Write, Push, WSAccept, WSSend...),
// and drains bytes to send with Send. A Conn never touches a socket, a clock or
// a goroutine; it is what connection mode of the C API wraps. It is not safe
// for concurrent use.
package conn

import (
	"errors"
	"strconv"
	"time"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/h2"
	"github.com/portico-http/portico/core/ws"
)

// Config describes the transport under the connection and the limits.
type Config struct {
	TLS           bool   // the container terminated TLS: no preface sniffing, no h2c upgrade
	ALPN          string // the protocol TLS chose: "h2" starts HTTP/2 at once
	NoH2CUpgrade  bool   // ignore "Upgrade: h2c"
	MaxHeadSize   int    // request head bytes (431 beyond); 0 means 65536
	MaxBodySize   int64  // 0 = unlimited (413 beyond)
	WSMaxMessage  int64  // 0 means 16 MiB (close 1009 beyond)
	WSMaxQueued   int64  // WebSocket output not yet taken by Send; 0 means 4 MiB (close 1008 beyond)
	H2MaxStreams  uint32 // 0 means 100
	H2InitialWind uint32 // our receive window; 0 means 1 MiB
}

// Kind is the type of an Event.
type Kind int

const (
	NeedData  Kind = iota // nothing more until more bytes arrive or a command is given
	Request               // Stream, Req: a request head
	Data                  // Stream, Data: request body bytes
	End                   // Stream, Trailers: the request body is complete
	Reset                 // Stream, Code: the stream is gone (HTTP/2 RST_STREAM); stop answering it
	Writable              // Stream (0: every stream): the send window grew, retry Write
	WSMessage             // Stream, Data, Text: a whole WebSocket message
	WSClose               // Stream, Code, Data (reason): the WebSocket is over
	GoAway                // Stream (last id), Code: the client sent GOAWAY
	Closed                // the connection is finished: drain Send, then close the socket
)

var kindNames = [...]string{"NeedData", "Request", "Data", "End", "Reset", "Writable", "WSMessage", "WSClose", "GoAway", "Closed"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Field is one header or trailer field.
type Field struct{ Name, Value []byte }

// Req is a request head, the same shape for every protocol.
type Req struct {
	Method, Scheme, Authority, Path, Query []byte
	Proto                                  string // "HTTP/1.0", "HTTP/1.1" or "HTTP/2.0"
	Fields                                 []Field
	WebSocket                              bool // a valid opening handshake: answer WSAccept or Respond
	ExpectContinue                         bool
	Chunked                                bool // body length unknown (HTTP/1.1 chunked)
	Trailers                               bool // response trailers reach this client
	Push                                   bool // HTTP/2 and the client allows push
	EndStream                              bool // no body follows (End is still reported)
}

// Event is what Next reports. Its slices are valid until the next Recv or Next.
type Event struct {
	Kind     Kind
	Stream   uint32
	Req      *Req
	Data     []byte
	Trailers []Field
	Code     int
	Text     bool
}

// Errors of the commands.
var (
	ErrStream = errors.New("conn: unknown or finished stream")
	ErrState  = errors.New("conn: command not valid in this state")
	ErrHeader = errors.New("conn: invalid status, header field or WebSocket argument")
	ErrClosed = errors.New("conn: connection closed")
	// The response body disagrees with its Content-Length: what the length
	// allows was sent, then the response was cut (HTTP/1.x: the connection
	// closes after it), never more.
	ErrLength = errors.New("conn: response body disagrees with its Content-Length")
)

// pipelineLimit bounds the HTTP/1.x bytes buffered ahead of a request still
// waiting for its response.
const pipelineLimit = 1 << 20

type mode uint8

const (
	modeSniff mode = iota // cleartext, waiting for the first line
	modeH1
	modeWS1 // WebSocket over HTTP/1.1, after the 101
	modeH2
	modeDone
)

// Conn is one connection, server side.
type Conn struct {
	cfg  Config
	mode mode
	now  time.Time

	eof      bool
	finished bool // nothing more is read; Closed is (or was) reported
	reported bool // Closed was reported
	sniffBuf []byte

	out  []byte // bytes to send: out[outR:]
	outR int

	q  []Event // events decided ahead of Next (a reset before a close...)
	ev Event

	// HTTP/1.x.
	p1       *h1.Conn
	id1      uint32 // the current request's stream id (1, 2, 3...)
	open1    bool   // a request is with the host and its response is not finished
	body1    bool   // its body is not yet complete
	resp1    bool   // its response head was written
	trail1   []h1.Field
	offer1   *ws.Offer
	req      Req
	fields   []Field
	closeAft bool // close once the current response ends

	ws1 *ws.Endpoint
	wsr bool // ws1 reported its close

	// HTTP/2.
	p2      *h2.Conn
	streams map[uint32]*stream
	ready   []uint32 // WebSocket streams whose endpoint may have events
}

// New makes a connection for a freshly accepted transport.
func New(cfg Config) *Conn {
	c := &Conn{cfg: cfg}
	switch {
	case cfg.TLS && cfg.ALPN == "h2":
		c.startH2()
	case cfg.TLS:
		c.startH1()
	}
	return c
}

// Recv feeds received bytes (copied); an empty p means the peer closed its side.
// now is the time they arrived (for the HTTP/2 flood protections).
func (c *Conn) Recv(p []byte, now time.Time) {
	c.now = now
	if c.eof || c.finished {
		return
	}
	if len(p) == 0 {
		c.eof = true
	}
	switch c.mode {
	case modeSniff:
		if len(p) > 0 {
			c.sniffBuf = append(c.sniffBuf, p...)
		}
	case modeH1:
		if c.open1 && !c.body1 && len(c.p1.Buffered())+len(p) > pipelineLimit {
			// A client this far ahead of the answers is cut off after the
			// current response (it must retry pipelined requests anyway,
			// RFC 9112 9.3.2): the buffer must not grow without bound.
			c.closeAft = true
			return
		}
		c.p1.Recv(p)
	case modeWS1:
		c.ws1.Recv(p)
	case modeH2:
		c.p2.Recv(p, now)
	}
}

// Next returns the next event; NeedData means none until more input or a command.
func (c *Conn) Next() *Event {
	c.ev = Event{}
	if len(c.q) > 0 {
		c.ev = c.q[0]
		c.q = c.q[1:]
		return &c.ev
	}
	if c.reported {
		return &c.ev
	}
	switch c.mode {
	case modeSniff:
		c.nextSniff()
	case modeH1:
		c.nextH1()
	case modeWS1:
		c.nextWS1()
	case modeH2:
		c.nextH2()
	case modeDone:
		c.finish()
	}
	return &c.ev
}

// finish ends the connection: Closed is reported once, then NeedData forever.
func (c *Conn) finish() {
	c.finished = true
	c.mode = modeDone
	if !c.reported {
		c.reported = true
		c.ev = Event{Kind: Closed}
	}
}

func (c *Conn) nextSniff() {
	switch Sniff(c.sniffBuf) {
	case SniffMore:
		if c.eof {
			c.finish()
		}
		return
	case SniffH2:
		b := c.sniffBuf
		c.sniffBuf = nil
		c.startH2()
		c.p2.Recv(b, c.now)
		if c.eof {
			c.p2.Recv(nil, c.now)
		}
		c.nextH2()
	case SniffJunk:
		c.finish()
	default:
		b := c.sniffBuf
		c.sniffBuf = nil
		c.startH1()
		c.p1.Recv(b)
		if c.eof {
			c.p1.Recv(nil)
		}
		c.nextH1()
	}
}

// pending gathers the engines' output into out.
func (c *Conn) pending() []byte {
	if c.ws1 != nil && c.ws1.HasOutput() {
		c.out = c.ws1.Output(c.out)
	}
	if c.p2 != nil && c.p2.HasOutput() {
		c.out = c.p2.Output(c.out)
	}
	return c.out[c.outR:]
}

// Send copies up to len(dst) bytes to send into dst and returns how many.
func (c *Conn) Send(dst []byte) int {
	n := copy(dst, c.pending())
	c.outR += n
	if c.ws1 != nil {
		c.ws1.Sent(n) // what the host took is no longer queued here
	}
	if c.outR == len(c.out) {
		c.out, c.outR = c.out[:0], 0
		if cap(c.out) > 1<<20 {
			c.out = nil
		}
	}
	return n
}

// WantWrite reports whether bytes wait to be sent.
func (c *Conn) WantWrite() bool { return len(c.pending()) > 0 }

// WantRead reports whether the connection still reads from the peer. The
// connection is finished once Next reported Closed and WantWrite is false;
// WantRead false before that means the peer half-closed and a response is
// still owed.
func (c *Conn) WantRead() bool { return !c.eof && !c.finished }

// Close ends the connection politely: GOAWAY on HTTP/2 (open streams may
// finish), close 1001 on a WebSocket, and on HTTP/1.1 after the response in
// progress (at once if none).
func (c *Conn) Close() {
	switch c.mode {
	case modeH2:
		c.p2.GoAway(0, nil)
	case modeWS1:
		if c.ws1.State() == ws.Open {
			c.ws1.Close(1001, "going away")
		}
	case modeH1:
		if c.open1 {
			c.closeAft = true
			return
		}
		c.finished = true
		c.mode = modeDone
	default:
		c.finished = true
		c.mode = modeDone
	}
}
