package h2

import "golang.org/x/net/http2"

// stream is one stream's state (RFC 9113 5.1). "open" is !remoteEnded && !localEnded;
// half-closed (remote) is remoteEnded; half-closed (local) is localEnded (then the
// host is done with it: draining); a closed stream is kept for a while (closedRing) so
// late frames get the right answer: ignored after we reset it, STREAM_CLOSED otherwise.
type stream struct {
	id          uint32
	remoteEnded bool // the peer sent END_STREAM (pushed streams start so)
	localEnded  bool // we sent END_STREAM
	closed      bool
	resetByUs   bool // closed by our RST_STREAM (or never accepted): ignore late frames
	known       bool // the host knows the stream (RequestEvent, Upgrade or Push)
	pushed      bool
	respSent    bool // final response HEADERS sent
	blocked     bool // SendData was short: report WindowEvent when the window grows
	draining    bool // our response ended before the request: the rest is checked and dropped

	sendWindow  int64 // what the peer lets us send
	recvWindow  int64 // what we let the peer send, not yet used
	recvUnacked int64 // consumed bytes not yet returned by WINDOW_UPDATE
	pending     int64 // DATA bytes handed to the host and not yet Consumed

	contentLength int64 // declared by the request, -1 if none
	bodyRecv      int64
}

// stream looks a stream up; a one-entry cache saves the map lookups of the
// Respond/SendData/Consumed calls that follow an event on the same stream.
func (c *Conn) stream(id uint32) *stream {
	if s := c.last; s != nil && s.id == id {
		return s
	}
	s := c.streams[id]
	if s != nil {
		c.last = s
	}
	return s
}

// isIdle reports whether id names a stream that was never opened by either side.
func (c *Conn) isIdle(id uint32) bool {
	if id%2 == 1 {
		return id > c.maxClientID
	}
	return id >= c.nextPushID
}

func (c *Conn) newStream(id uint32) *stream {
	var s *stream
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free = c.free[:n-1]
		*s = stream{}
	} else {
		s = new(stream)
	}
	s.id = id
	s.contentLength = -1
	s.sendWindow = c.peerIWS
	s.recvWindow = c.streamRecvIWS
	c.streams[id] = s
	if id%2 == 1 {
		c.clientOpen++
	} else {
		c.pushOpen++
	}
	return s
}

// recordClosed remembers a client stream that was refused or ignored, so frames
// the client sent before it learned so are dropped quietly.
func (c *Conn) recordClosed(id uint32) {
	if s := c.stream(id); s != nil {
		return
	}
	s := c.newStream(id)
	s.resetByUs = true
	c.closeStream(s)
}

// closeStream moves s to closed: its unconsumed request data goes back to the
// connection window (the host will never report it), and it joins the ring of
// recently closed streams, evicting the oldest.
func (c *Conn) closeStream(s *stream) {
	if s.closed {
		return
	}
	s.closed = true
	s.blocked = false
	if s.draining {
		s.draining = false
		c.drainOpen--
	}
	if s.id%2 == 1 {
		c.clientOpen--
	} else {
		c.pushOpen--
	}
	if s.pending > 0 {
		c.recvUnacked += s.pending
		s.pending = 0
		c.maybeConnWindowUpdate()
	}
	if len(c.closedRing) < cap(c.closedRing) {
		c.closedRing = append(c.closedRing, s.id)
		return
	}
	old := c.closedRing[c.closedHead]
	c.closedRing[c.closedHead] = s.id
	c.closedHead = (c.closedHead + 1) % len(c.closedRing)
	if os := c.streams[old]; os != nil && os.closed {
		delete(c.streams, old)
		if c.last == os {
			c.last = nil
		}
		c.free = append(c.free, os)
	}
}

// endRemote records the peer's END_STREAM.
func (c *Conn) endRemote(s *stream) {
	s.remoteEnded = true
	if s.localEnded {
		c.closeStream(s)
	}
}

// endLocal records our END_STREAM. A response complete before its request leaves the
// stream half-closed (local), draining: the rest of the request is still checked as on
// any open stream (a malformed trailer or a wrong length gets its stream error, RFC
// 9113 5.1 and 8.1.1, however the client's frames and our answer interleave), but it
// reaches no host and its DATA gives back connection credit only. Once the client has
// used the stream window it had, or a GOAWAY went either way, RST_STREAM NO_ERROR asks
// it to stop (RFC 9113 8.1), so an unread body never holds a stream or credit for good.
func (c *Conn) endLocal(s *stream) {
	s.localEnded = true
	if s.remoteEnded {
		c.closeStream(s)
		return
	}
	s.draining = true
	c.drainOpen++
	if s.pending > 0 {
		// Handed to the host and never to be consumed now.
		c.discard(s.pending)
		s.pending = 0
	}
	c.stopDraining(s)
}

// stopDraining closes a draining stream with RST_STREAM NO_ERROR once the client
// cannot send more on it without our credit, or the connection is going away.
func (c *Conn) stopDraining(s *stream) {
	if !s.draining || s.recvWindow > 0 && !c.goAwaySent && !c.goAwayRecv {
		return
	}
	c.writeRST(s.id, http2.ErrCodeNo)
	s.resetByUs = true
	c.closeStream(s)
}

// streamError resets a stream because of the client's misbehaviour: it spends a
// rapid-reset token, and tells the host if it knew the stream.
func (c *Conn) streamError(id uint32, code http2.ErrCode) {
	if !c.spendReset() {
		return
	}
	c.writeRST(id, code)
	s := c.stream(id)
	if s == nil {
		if id%2 == 1 && id <= c.maxClientID {
			c.recordClosed(id)
		}
		return
	}
	if s.closed {
		return
	}
	s.resetByUs = true
	if s.known && !s.draining {
		c.push(event{kind: ResetEvent, id: id, code: code})
	}
	c.closeStream(s)
}

// lookupOpen returns the stream if the host may still act on it.
func (c *Conn) lookupOpen(id uint32) *stream {
	s := c.stream(id)
	if s == nil || s.closed || !s.known || s.draining {
		return nil
	}
	return s
}
