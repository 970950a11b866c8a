package h2

import "golang.org/x/net/http2"

// Flow control (RFC 9113 5.2, 6.9). Receive side: the peer may send what we granted;
// credit comes back only as the host consumes (Consumed) or as the engine discards
// (padding, frames on dead streams, unread data of closed streams), batched to half
// a window. Send side: SendData takes what both windows and MAX_FRAME_SIZE allow.

// onData handles a DATA frame; payload includes any padding.
func (c *Conn) onData(flags http2.Flags, id uint32, payload []byte) {
	if id == 0 {
		c.connError(http2.ErrCodeProtocol, "DATA on stream 0")
		return
	}
	flowLen := int64(len(payload))
	data := payload
	if flags.Has(http2.FlagDataPadded) {
		if len(payload) == 0 {
			c.connError(http2.ErrCodeFrameSize, "DATA too short for its pad length")
			return
		}
		pad := int(payload[0])
		if pad >= len(payload) {
			c.connError(http2.ErrCodeProtocol, "DATA pad length too large")
			return
		}
		data = payload[1 : len(payload)-pad]
	}
	if c.isIdle(id) {
		c.connError(http2.ErrCodeProtocol, "DATA on idle stream")
		return
	}
	if flowLen > c.recvWindow {
		c.connError(http2.ErrCodeFlowControl, "DATA beyond the connection window")
		return
	}
	c.recvWindow -= flowLen
	end := flags.Has(http2.FlagDataEndStream)

	s := c.stream(id)
	if s == nil || s.closed || s.remoteEnded {
		c.discard(flowLen)
		if s != nil && s.closed && s.resetByUs {
			return // in flight when we reset it (RFC 9113 5.1 "closed")
		}
		c.streamError(id, http2.ErrCodeStreamClosed)
		return
	}
	if flowLen > s.recvWindow {
		c.discard(flowLen)
		c.streamError(id, http2.ErrCodeFlowControl)
		return
	}
	s.recvWindow -= flowLen
	if pad := flowLen - int64(len(data)); pad > 0 {
		// Padding is never delivered: return its credit now.
		c.discard(pad)
		c.streamCredit(s, pad)
	}
	n := int64(len(data))
	s.bodyRecv += n
	if s.contentLength >= 0 && (s.bodyRecv > s.contentLength || end && s.bodyRecv != s.contentLength) {
		c.discard(n)
		c.streamError(id, http2.ErrCodeProtocol) // malformed: content-length mismatch (RFC 9113 8.1.1)
		return
	}
	if s.draining {
		// Checked like any request body, then dropped: the host answered already.
		c.discard(n)
		switch {
		case end:
			c.endRemote(s)
		case n == 0:
			c.spendFlood()
		default:
			c.stopDraining(s)
		}
		return
	}
	if c.lim.MaxBodySize > 0 && s.bodyRecv > c.lim.MaxBodySize {
		c.discard(n)
		c.bodyTooLarge(s)
		return
	}
	if n == 0 && !end && !c.spendFlood() {
		return
	}
	if n > 0 {
		s.pending += n
		c.push(event{kind: DataEvent, id: id, data: data})
	}
	if end {
		c.push(event{kind: EndStreamEvent, id: id})
		c.endRemote(s)
	}
}

// discard returns connection credit for bytes the host will never see.
func (c *Conn) discard(n int64) {
	c.recvUnacked += n
	c.maybeConnWindowUpdate()
}

// streamCredit returns stream credit (no update once the peer has finished sending,
// nor for a draining stream: its client should stop).
func (c *Conn) streamCredit(s *stream, n int64) {
	if s.remoteEnded || s.closed || s.draining {
		return
	}
	s.recvUnacked += n
	if s.recvUnacked >= c.streamRecvIWS/2 || s.recvWindow <= 0 && s.recvUnacked > 0 {
		c.writeWindowUpdate(s.id, uint32(s.recvUnacked))
		s.recvWindow += s.recvUnacked
		s.recvUnacked = 0
	}
}

func (c *Conn) maybeConnWindowUpdate() {
	if c.dead || c.recvUnacked < c.connTarget/2 {
		return
	}
	c.writeWindowUpdate(0, uint32(c.recvUnacked))
	c.recvWindow += c.recvUnacked
	c.recvUnacked = 0
}

// Consumed reports that the host consumed n bytes of request DATA on stream id. The
// credit goes back to the client by WINDOW_UPDATE, batched to half a window. Bytes of
// a stream that is already closed were credited at close and are ignored here.
func (c *Conn) Consumed(id uint32, n int) {
	if n <= 0 || c.dead {
		return
	}
	s := c.stream(id)
	if s == nil || s.closed {
		return
	}
	k := int64(n)
	if k > s.pending {
		k = s.pending
	}
	s.pending -= k
	c.streamCredit(s, k)
	c.discard(k)
}

// onWindowUpdate handles the peer's WINDOW_UPDATE (increment 0 was rejected by the Framer).
func (c *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) {
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if c.sendWindow+inc > maxWindow {
			c.connError(http2.ErrCodeFlowControl, "connection window over 2^31-1")
			return
		}
		c.sendWindow += inc
		if c.connBlocked && c.sendWindow > 0 {
			c.connBlocked = false
			c.push(event{kind: WindowEvent, id: 0})
		}
		return
	}
	if c.isIdle(f.StreamID) {
		c.connError(http2.ErrCodeProtocol, "WINDOW_UPDATE on idle stream")
		return
	}
	s := c.stream(f.StreamID)
	if s == nil || s.closed {
		return // may cross our END_STREAM or RST_STREAM
	}
	if s.sendWindow+inc > maxWindow {
		c.streamError(s.id, http2.ErrCodeFlowControl)
		return
	}
	s.sendWindow += inc
	if s.blocked && s.sendWindow > 0 && c.sendWindow > 0 {
		s.blocked = false
		c.push(event{kind: WindowEvent, id: s.id})
	}
}

// adjustSendWindows applies a change of the peer's SETTINGS_INITIAL_WINDOW_SIZE to
// every stream (windows may go negative, RFC 9113 6.9.2).
func (c *Conn) adjustSendWindows(delta int64) bool {
	if delta == 0 {
		return true
	}
	for _, s := range c.streams {
		if s.closed {
			continue
		}
		s.sendWindow += delta
		if s.sendWindow > maxWindow {
			c.connError(http2.ErrCodeFlowControl, "stream window over 2^31-1")
			return false
		}
	}
	return true
}

// wakeBlocked reports WindowEvent for blocked streams that can send again.
func (c *Conn) wakeBlocked() {
	if c.sendWindow <= 0 {
		return
	}
	for _, s := range c.streams {
		if s.blocked && !s.closed && s.sendWindow > 0 {
			s.blocked = false
			c.push(event{kind: WindowEvent, id: s.id})
		}
	}
}

// adjustRecvWindows applies our own SETTINGS_INITIAL_WINDOW_SIZE once the peer ACKed
// it, if it is below the default the peer could use until then.
func (c *Conn) adjustRecvWindows() {
	iws := int64(c.lim.InitialWindowSize)
	delta := iws - c.streamRecvIWS
	c.streamRecvIWS = iws
	if delta == 0 {
		return
	}
	for _, s := range c.streams {
		if !s.closed {
			s.recvWindow += delta
		}
	}
}

// SendWindow returns how many bytes SendData would accept now on stream id (id 0:
// the connection window).
func (c *Conn) SendWindow(id uint32) int {
	w := c.sendWindow
	if id != 0 {
		s := c.lookupOpen(id)
		if s == nil || s.localEnded {
			return 0
		}
		if s.sendWindow < w {
			w = s.sendWindow
		}
	}
	if w < 0 {
		return 0
	}
	return int(w)
}
