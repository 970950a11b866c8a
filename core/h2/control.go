package h2

import "golang.org/x/net/http2"

// PRIORITY, RST_STREAM and GOAWAY from the client.

// onPriority: priorities are accepted and ignored (RFC 9113 5.3.2 deprecates the
// scheme); only a stream depending on itself is an error.
func (c *Conn) onPriority(f *http2.PriorityFrame) {
	if f.StreamDep == f.StreamID {
		c.streamError(f.StreamID, http2.ErrCodeProtocol)
	}
}

func (c *Conn) onRSTStream(f *http2.RSTStreamFrame) {
	id := f.StreamID
	if c.isIdle(id) {
		c.connError(http2.ErrCodeProtocol, "RST_STREAM on idle stream")
		return
	}
	// Every client reset spends a token: open-and-cancel at line rate is the rapid
	// reset attack (CVE-2023-44487).
	if !c.spendReset() {
		return
	}
	s := c.stream(id)
	if s == nil || s.closed {
		return
	}
	if s.known && !s.draining {
		c.push(event{kind: ResetEvent, id: id, code: f.ErrCode})
	}
	c.closeStream(s)
}

func (c *Conn) onGoAway(f *http2.GoAwayFrame) {
	c.goAwayRecv = true
	c.peerLast = f.LastStreamID
	c.push(event{kind: GoAwayEvent, id: f.LastStreamID, code: f.ErrCode})
	// Pushed streams above the client's last stream id will not be processed.
	for _, s := range c.streams {
		if s.pushed && !s.closed && s.id > f.LastStreamID {
			c.push(event{kind: ResetEvent, id: s.id, code: http2.ErrCodeRefusedStream})
			s.resetByUs = true
			c.closeStream(s)
		}
	}
}
