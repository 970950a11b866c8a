// Package ws is a sans-I/O WebSocket server endpoint (RFC 6455, RFC 7692),
// usable over an HTTP/1.1 Upgrade or an HTTP/2 extended CONNECT stream
// (RFC 8441): it sees only the byte stream after the handshake. Bytes come in
// with Recv and leave with Output; events are pulled with Next. It never
// touches a socket, a clock or a goroutine.
package ws

import (
	"errors"
	"math"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Limits bound what a peer can make us buffer.
type Limits struct {
	MaxMessageSize int64 // 0 means 16 MiB; beyond -> close 1009
	MaxFrameSize   int64 // 0 means MaxMessageSize
	// MaxQueued bounds output waiting for a peer that does not read (pongs,
	// pings, messages); 0 means 4 MiB. Beyond it the endpoint gives up
	// (close 1008, see Dropped).
	MaxQueued int64
}

const (
	defaultMaxMessage = 16 << 20
	DefaultMaxQueued  = 4 << 20
)

// retainMax: buffers that grew beyond this for one big message are dropped
// afterwards, so an idle connection does not pin megabytes.
const retainMax = 1 << 20

type Opcode = ws.OpCode

const (
	OpContinuation = ws.OpContinuation
	OpText         = ws.OpText
	OpBinary       = ws.OpBinary
	OpClose        = ws.OpClose
	OpPing         = ws.OpPing
	OpPong         = ws.OpPong
)

type Event int

const (
	NeedData     Event = iota
	MessageEvent       // Message(): a complete message (text validated as UTF-8)
	PingEvent          // Payload(): a ping arrived; the pong is already queued
	PongEvent          // Payload()
	CloseEvent         // CloseCode(), CloseReason(): the peer's close; our reply (if due) is queued
	ErrorEvent         // protocol error: nothing more is read; CloseCode() is what we send (FinishFailure), then close the transport
	ClosedEvent        // the close handshake is complete (or the transport ended: 1006); close the transport
)

func (ev Event) String() string {
	switch ev {
	case NeedData:
		return "NeedData"
	case MessageEvent:
		return "Message"
	case PingEvent:
		return "Ping"
	case PongEvent:
		return "Pong"
	case CloseEvent:
		return "Close"
	case ErrorEvent:
		return "Error"
	case ClosedEvent:
		return "Closed"
	}
	return "Event?"
}

type State int

const (
	Open    State = iota
	Closing       // we sent a close frame and wait for the peer's
	Closed        // no more frames either way
	// Failing: a protocol error stopped reading (ErrorEvent). The host may still
	// send its answers to the messages that came before the error; its close
	// frame waits for FinishFailure, so it never overtakes those answers.
	Failing
)

var (
	ErrClosed      = errors.New("websocket: connection is closing or closed")
	ErrInvalidUTF8 = errors.New("websocket: text is not valid UTF-8")
	ErrControlSize = errors.New("websocket: control payload over 125 bytes")
	ErrCloseCode   = errors.New("websocket: close code not allowed on the wire")
	ErrQueueFull   = errors.New("websocket: output for the peer over its limit; connection dropped")
)

// QueueFullReason is the close reason of a session dropped for MaxQueued.
const QueueFullReason = "peer does not read: output queue over its limit"

// Endpoint is the server side of one WebSocket connection.
type Endpoint struct {
	maxMsg, maxFrame int64

	in  []byte // received, not yet parsed: in[r:]
	r   int
	eof bool
	out []byte
	// Output set aside in blocks (see grow): full, then out, in order.
	full    [][]byte
	fullLen int

	// Output accounting for MaxQueued: held is what Output handed out and
	// Sent has not confirmed; credit, the largest message the app queued
	// since the queue was last empty (it waits for that one anyway, so it
	// does not count against the peer).
	maxQueued int64
	held      int64
	credit    int64
	dropped   bool

	state State
	// after is what Next returns once the current event is consumed:
	// ClosedEvent after CloseEvent, or NeedData forever once terminal.
	terminal   bool
	pendClosed bool

	// The frame being read. Data payloads are consumed as they arrive (so a
	// large frame is never held twice and UTF-8 fails fast); control frames
	// wait until whole.
	inFrame bool
	hdr     frameHeader
	left    int64 // payload bytes of the current data frame still to come
	off     int   // payload bytes of the current data frame already read

	// The message being assembled (msgOp 0: none).
	msgOp   Opcode
	msgComp bool
	msgLen  int64 // bytes buffered for it (compressed bytes when msgComp)
	msg     []byte
	zbuf    []byte
	u8      utf8State

	evOp      Opcode
	evPayload []byte
	code      int
	reason    string

	inf *inflater
	def *deflater
}

// NewEndpoint makes a server endpoint: it expects masked frames and sends unmasked ones.
func NewEndpoint(l Limits, neg Negotiated) *Endpoint {
	e := &Endpoint{maxMsg: l.MaxMessageSize, maxFrame: l.MaxFrameSize, maxQueued: l.MaxQueued}
	if e.maxQueued <= 0 {
		e.maxQueued = DefaultMaxQueued
	}
	if e.maxMsg <= 0 {
		e.maxMsg = defaultMaxMessage
	}
	if e.maxFrame <= 0 || e.maxFrame > e.maxMsg {
		e.maxFrame = e.maxMsg
	}
	if neg.Deflate != nil {
		e.inf = &inflater{takeover: !neg.Deflate.ClientNoContextTakeover}
		e.def = newDeflater(neg.Deflate)
	}
	return e
}

// zslack allows for deflate's worst-case expansion (stored blocks) when
// bounding compressed input by the uncompressed limits.
func zslack(n int64) int64 { return n + n>>10 + 64 }

// Recv feeds received bytes (copied). An empty p means the transport reached EOF.
func (e *Endpoint) Recv(p []byte) {
	if e.terminal || e.eof {
		return
	}
	if len(p) == 0 {
		e.eof = true
		return
	}
	if e.r > 0 {
		// What is left unparsed is at most a partial header or control frame
		// plus whatever arrived since the last Next; move it down when cheap.
		if rest := len(e.in) - e.r; rest == 0 {
			e.in, e.r = e.in[:0], 0
			if cap(e.in) > retainMax {
				e.in = nil
			}
		} else if rest <= e.r {
			e.in = e.in[:copy(e.in, e.in[e.r:])]
			e.r = 0
		}
	}
	e.in = append(e.in, p...)
}

// Next parses what has been received and returns the next event.
func (e *Endpoint) Next() Event {
	e.evPayload = nil
	if e.pendClosed {
		e.pendClosed = false
		e.terminal = true
		return ClosedEvent
	}
	if e.terminal {
		return NeedData
	}
	for {
		if !e.inFrame {
			n := parseHeader(e.in[e.r:], &e.hdr)
			if n < 0 {
				return e.fail(CloseProtocolError, "invalid frame length")
			}
			if n == 0 {
				return e.needData()
			}
			e.r += n
			if ev, bad := e.startFrame(); bad {
				return ev
			}
			e.inFrame = true
		}
		h := &e.hdr
		if h.op.IsControl() {
			if int64(len(e.in)-e.r) < h.length {
				return e.needData()
			}
			p := e.in[e.r : e.r+int(h.length)]
			e.r += len(p)
			e.inFrame = false
			unmask(p, h.mask, 0)
			if ev := e.control(p); ev != NeedData {
				return ev
			}
			continue
		}
		avail := len(e.in) - e.r
		if e.left > 0 && avail == 0 {
			return e.needData()
		}
		n := e.left
		if int64(avail) < n {
			n = int64(avail)
		}
		p := e.in[e.r : e.r+int(n)]
		e.r += len(p)
		e.left -= n
		whole := e.off == 0 && e.left == 0 // the frame's payload arrived in one piece
		if e.state != Open {
			// RFC 6455 7.1.2: after our close, data is ignored until the peer's close.
			e.off += len(p)
			if e.left == 0 {
				e.inFrame = false
				if h.fin {
					e.msgOp = 0
				}
			}
			continue
		}
		unmask(p, h.mask, e.off)
		e.off += len(p)
		if e.left == 0 {
			e.inFrame = false
		}
		if e.msgComp {
			e.zbuf = append(e.zbuf, p...)
		} else if whole && h.fin && h.op != OpContinuation {
			// The common case: a whole single-frame message. Deliver it in place.
			if h.op == OpText && !utf8.Valid(p) {
				return e.fail(CloseInvalidPayload, "invalid UTF-8")
			}
			e.msgOp = 0
			e.evOp, e.evPayload = h.op, p
			return MessageEvent
		} else {
			if e.msgOp == OpText && !e.u8.feed(p) {
				return e.fail(CloseInvalidPayload, "invalid UTF-8")
			}
			e.msg = append(e.msg, p...)
		}
		if e.left == 0 && h.fin {
			return e.finishMessage()
		}
	}
}

func (e *Endpoint) needData() Event {
	if e.eof {
		// The transport ended without a closing handshake (RFC 6455 7.1.5: 1006).
		e.state = Closed
		e.terminal = true
		e.code, e.reason = CloseAbnormal, ""
		return ClosedEvent
	}
	return NeedData
}

// startFrame checks a new frame's header against RFC 6455 5.2-5.5 and the
// message in progress. bad reports a failed frame (the event to return).
func (e *Endpoint) startFrame() (Event, bool) {
	h := &e.hdr
	if !h.masked {
		return e.fail(CloseProtocolError, "unmasked frame"), true
	}
	if h.op.IsReserved() {
		return e.fail(CloseProtocolError, "reserved opcode"), true
	}
	if h.op.IsControl() {
		if !h.fin {
			return e.fail(CloseProtocolError, "fragmented control frame"), true
		}
		if h.length > 125 {
			return e.fail(CloseProtocolError, "control frame too long"), true
		}
		if h.rsv != 0 {
			return e.fail(CloseProtocolError, "reserved bits set"), true
		}
		return NeedData, false
	}
	// RFC 7692 6: RSV1 marks a compressed message, on its first frame only.
	if h.rsv != 0 && (h.rsv != rsv1Bit || e.def == nil || h.op == OpContinuation) {
		return e.fail(CloseProtocolError, "reserved bits set"), true
	}
	if h.op == OpContinuation {
		if e.msgOp == 0 {
			return e.fail(CloseProtocolError, "continuation without a message"), true
		}
	} else {
		if e.msgOp != 0 {
			return e.fail(CloseProtocolError, "new message inside a fragmented one"), true
		}
		e.msgOp = h.op
		e.msgComp = h.rsv != 0
		e.msgLen = 0
		e.u8 = utf8Accept
		e.msg = e.msg[:0]
		e.zbuf = e.zbuf[:0]
		if cap(e.msg) > retainMax {
			e.msg = nil
		}
		if cap(e.zbuf) > retainMax {
			e.zbuf = nil
		}
	}
	e.left, e.off = h.length, 0
	if e.state != Open {
		return NeedData, false // ignored: no limits apply to what we drop
	}
	// Refuse an oversized frame or message from its header, before buffering it.
	maxFrame, maxMsg := e.maxFrame, e.maxMsg
	if e.msgComp {
		maxFrame, maxMsg = zslack(maxFrame), zslack(maxMsg)
	}
	if h.length > maxFrame {
		return e.fail(CloseTooBig, "frame too big"), true
	}
	if e.msgLen += h.length; e.msgLen > maxMsg {
		return e.fail(CloseTooBig, "message too big"), true
	}
	return NeedData, false
}

// control handles a complete ping, pong or close. NeedData means "nothing to
// report, go on".
func (e *Endpoint) control(p []byte) Event {
	switch e.hdr.op {
	case OpPing:
		if e.state != Open {
			return NeedData // no pong after our close
		}
		if e.overLimit(2 + len(p)) {
			return e.drop()
		}
		e.grow(2 + len(p))
		e.out = appendFrame(e.out, true, 0, OpPong, p)
		e.evPayload = p
		return PingEvent
	case OpPong:
		e.evPayload = p
		return PongEvent
	}
	code, reason, bad := parseClose(p)
	if bad != 0 {
		return e.fail(bad, "invalid close frame")
	}
	if e.state == Open {
		// Echo the peer's code (RFC 6455 5.5.1); an empty close gets an empty one.
		e.grow(maxControlFrame)
		e.out = appendClose(e.out, code, "")
	}
	e.state = Closed
	e.code, e.reason = code, string(reason)
	e.pendClosed = true
	return CloseEvent
}

func (e *Endpoint) finishMessage() Event {
	op := e.msgOp
	e.msgOp = 0
	if e.msgComp {
		z := append(e.zbuf, deflateTail...)
		var err error
		e.msg, err = e.inf.inflate(e.msg[:0], z, e.maxMsg)
		e.zbuf = z[:0]
		if err == errTooBig {
			return e.fail(CloseTooBig, "message too big")
		}
		if err != nil {
			return e.fail(CloseInvalidPayload, "invalid compressed data")
		}
		// UTF-8 is a property of the inflated text, never of the wire bytes.
		if op == OpText && !utf8.Valid(e.msg) {
			return e.fail(CloseInvalidPayload, "invalid UTF-8")
		}
	} else if op == OpText && !e.u8.complete() {
		return e.fail(CloseInvalidPayload, "invalid UTF-8")
	}
	e.evOp, e.evPayload = op, e.msg
	return MessageEvent
}

// fail fails the connection for a protocol error (RFC 6455 7.1.7): nothing more
// is read, and our close frame (unless we already sent one) goes out at
// FinishFailure, after the host's answers to what it received before.
func (e *Endpoint) fail(code int, reason string) Event {
	if e.state == Open {
		e.state = Failing
	} else {
		e.state = Closed
	}
	e.terminal = true
	e.code, e.reason = code, reason
	e.inFrame = false
	return ErrorEvent
}

// FinishFailure queues the close frame of a protocol error (state Failing): call
// it once the host has had its chance to answer the messages that arrived before
// the error. From then on nothing more is sent.
func (e *Endpoint) FinishFailure() {
	if e.state != Failing {
		return
	}
	e.grow(maxControlFrame)
	e.out = appendClose(e.out, e.code, e.reason)
	e.state = Closed
}

// overLimit reports whether queueing n more bytes takes the output past
// MaxQueued (plus the credit of the app's largest waiting message).
func (e *Endpoint) overLimit(n int) bool {
	return e.Queued()+int64(n) > e.maxQueued+e.credit
}

// drop gives up on a peer that does not read what we send: the output is
// released, not sent (a close frame would only queue behind it), and the
// transport is to be closed at once (Dropped).
func (e *Endpoint) drop() Event {
	e.out, e.full, e.fullLen = nil, nil, 0
	e.held, e.credit = 0, 0
	e.dropped = true
	e.state = Closed
	e.terminal = true
	e.pendClosed = false
	e.code, e.reason = ClosePolicyViolation, QueueFullReason
	e.inFrame = false
	return ErrorEvent
}

// Dropped reports that the endpoint gave up on a peer that did not read its
// output (close 1008, ErrorEvent or ErrQueueFull): the transport closes now,
// without sending what it still holds.
func (e *Endpoint) Dropped() bool { return e.dropped }

// Sent tells the endpoint that n bytes it handed out with Output reached the
// transport (the socket, or HTTP/2 DATA within its window).
func (e *Endpoint) Sent(n int) {
	e.held -= int64(n)
	if e.held < 0 {
		e.held = 0
	}
	if e.held == 0 && e.OutputLen() == 0 {
		e.credit = 0
	}
}

// Queued is the output not yet sent: queued here, or handed out with Output
// and not yet confirmed by Sent.
func (e *Endpoint) Queued() int64 { return int64(e.OutputLen()) + e.held }

// outBlock: output waiting for a slow peer grows by blocks of this size
// rather than by reallocating (and copying) one buffer ever bigger.
const outBlock = 64 << 10

// maxControlFrame: a control frame's header and payload, at most.
const maxControlFrame = 2 + 125

// grow makes room for a frame of n bytes in out: a full block is set aside
// in full instead of being copied into a bigger one.
func (e *Endpoint) grow(n int) {
	if len(e.out)+n > cap(e.out) && len(e.out) >= outBlock/2 {
		e.full = append(e.full, e.out)
		e.fullLen += len(e.out)
		e.out = make([]byte, 0, max(outBlock, n+maxHeaderSize))
	}
}

// Message returns the message of a MessageEvent, valid until the next Recv or Next.
func (e *Endpoint) Message() (op Opcode, payload []byte) { return e.evOp, e.evPayload }

// Payload returns a ping or pong payload, valid until the next Recv or Next.
func (e *Endpoint) Payload() []byte { return e.evPayload }

// CloseCode is the peer's close code after CloseEvent (1005: none given), the
// code we sent after ErrorEvent, or 1006 after an abnormal ClosedEvent.
func (e *Endpoint) CloseCode() int { return e.code }

func (e *Endpoint) CloseReason() string { return e.reason }

func (e *Endpoint) State() State { return e.state }

// Output appends the bytes to send to dst and clears them.
func (e *Endpoint) Output(dst []byte) []byte { return e.OutputMax(dst, math.MaxInt) }

// OutputMax is Output for about max bytes at most: whole blocks (see grow),
// at least one. The rest stays for the next call.
func (e *Endpoint) OutputMax(dst []byte, max int) []byte {
	n, i := 0, 0
	for ; i < len(e.full) && (i == 0 || n+len(e.full[i]) <= max); i++ {
		dst = append(dst, e.full[i]...)
		n += len(e.full[i])
		e.full[i] = nil
	}
	e.full = e.full[:copy(e.full, e.full[i:])]
	e.fullLen -= n
	if len(e.full) == 0 && (n == 0 || n+len(e.out) <= max) {
		dst = append(dst, e.out...)
		n += len(e.out)
		e.out = e.out[:0]
		if cap(e.out) > retainMax {
			e.out = nil
		}
	}
	e.held += int64(n)
	return dst
}

func (e *Endpoint) HasOutput() bool { return e.OutputLen() > 0 }

// OutputLen is how many bytes wait to be sent (for backpressure).
func (e *Endpoint) OutputLen() int { return e.fullLen + len(e.out) }

// SendText queues a text message (one frame, compressed if negotiated).
func (e *Endpoint) SendText(p []byte) error {
	if !utf8.Valid(p) {
		return ErrInvalidUTF8
	}
	return e.send(OpText, p)
}

// SendBinary queues a binary message.
func (e *Endpoint) SendBinary(p []byte) error { return e.send(OpBinary, p) }

// canSend: open, or failing with the host's answers still to come.
func (e *Endpoint) canSend() bool { return e.state == Open || e.state == Failing }

// A message is refused only when the output is already over the limit: a
// host that waits while the output is high (backpressure) never is, and a
// big message of its own raises the limit while it waits to go out.
func (e *Endpoint) send(op Opcode, p []byte) error {
	if !e.canSend() {
		return ErrClosed
	}
	if e.overLimit(0) {
		e.drop()
		return ErrQueueFull
	}
	var rsv byte
	if e.def != nil && e.def.want(len(p)) {
		p, rsv = e.def.compress(p), rsv1Bit
	}
	e.grow(len(p) + maxHeaderSize)
	n := len(e.out)
	e.out = appendFrame(e.out, true, rsv, op, p)
	e.credit = max(e.credit, int64(len(e.out)-n))
	return nil
}

// Ping queues a ping; the peer's pong comes back as PongEvent.
func (e *Endpoint) Ping(p []byte) error {
	if len(p) > 125 {
		return ErrControlSize
	}
	if !e.canSend() {
		return ErrClosed
	}
	if e.overLimit(2 + len(p)) {
		e.drop()
		return ErrQueueFull
	}
	e.grow(2 + len(p))
	e.out = appendFrame(e.out, true, 0, OpPing, p)
	return nil
}

// Close starts the closing handshake. code 0 (or 1005) sends a close without a
// code; otherwise it must be valid on the wire (1000-1003, 1007-1014,
// 3000-4999). The reason is cut to 123 bytes on a character boundary.
// Data frames received afterwards are dropped until the peer's close, which
// arrives as CloseEvent followed by ClosedEvent. After a protocol error
// (Failing) the close of that error goes out instead (FinishFailure).
func (e *Endpoint) Close(code int, reason string) error {
	if e.state == Failing {
		e.FinishFailure()
		return nil
	}
	if e.state != Open {
		return ErrClosed
	}
	if code != 0 && code != CloseNoStatus && !validWireCode(code) {
		return ErrCloseCode
	}
	if !utf8.ValidString(reason) {
		return ErrInvalidUTF8
	}
	e.grow(maxControlFrame)
	e.out = appendClose(e.out, code, reason)
	e.state = Closing
	return nil
}
