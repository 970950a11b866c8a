package h2

import "golang.org/x/net/http2"

// Commands from the host. They check the stream state and return errors; they never
// panic on bad input.

// sendable returns the stream if the host may still send on it.
func (c *Conn) sendable(id uint32) (*stream, error) {
	if c.dead || c.done {
		return nil, ErrConnClosed
	}
	s := c.lookupOpen(id)
	if s == nil || s.localEnded {
		return nil, ErrStreamClosed
	}
	return s, nil
}

// encodeFields appends the host's fields to the encoder: names are lowercased,
// connection-specific fields dropped (RFC 9113 8.2.2), values checked.
func (c *Conn) encodeFields(fields []Field) error {
	for i := range fields {
		name, value := fields[i].Name, fields[i].Value
		if len(name) == 0 || !validToken(name) {
			return ErrHeader
		}
		for j := 0; j < len(value); j++ {
			if b := value[j]; b == 0 || b == '\r' || b == '\n' {
				return ErrHeader
			}
		}
		for len(value) > 0 && isWS(value[0]) {
			value = value[1:]
		}
		for len(value) > 0 && isWS(value[len(value)-1]) {
			value = value[:len(value)-1]
		}
		lname := name
		for j := 0; j < len(name); j++ {
			if 'A' <= name[j] && name[j] <= 'Z' {
				c.lower = append(c.lower[:0], name...)
				for k := j; k < len(c.lower); k++ {
					if b := c.lower[k]; 'A' <= b && b <= 'Z' {
						c.lower[k] = b + 'a' - 'A'
					}
				}
				lname = c.lower
				break
			}
		}
		switch string(lname) {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		}
		c.enc.field(bstr(lname), bstr(value))
	}
	return nil
}

// Respond sends the response head on stream id; with endStream, the response has no
// body. The status must be a final one (200-999; 1xx goes through Informational).
func (c *Conn) Respond(id uint32, status int, fields []Field, endStream bool) error {
	s, err := c.sendable(id)
	if err != nil {
		return err
	}
	if s.respSent {
		return ErrState
	}
	if status < 200 || status > 999 {
		return ErrHeader
	}
	c.enc.begin()
	c.enc.status(status)
	if err := c.encodeFields(fields); err != nil {
		return err
	}
	c.writeEncoded(http2.FrameHeaders, id, 0, endStream)
	s.respSent = true
	if endStream {
		c.endLocal(s)
	}
	return nil
}

// Informational sends a 1xx response head (103 Early Hints, 100 Continue) before the
// final one. 101 does not exist in HTTP/2.
func (c *Conn) Informational(id uint32, status int, fields []Field) error {
	s, err := c.sendable(id)
	if err != nil {
		return err
	}
	if s.respSent {
		return ErrState
	}
	if status < 100 || status > 199 || status == 101 {
		return ErrHeader
	}
	c.enc.begin()
	c.enc.status(status)
	if err := c.encodeFields(fields); err != nil {
		return err
	}
	c.writeEncoded(http2.FrameHeaders, id, 0, false)
	return nil
}

// SendData sends as much of p as the stream and connection send windows allow, in
// frames no larger than the peer's MAX_FRAME_SIZE, and returns how much it took.
// endStream applies only if all of p was taken; otherwise wait for WindowEvent and
// send the rest.
func (c *Conn) SendData(id uint32, p []byte, endStream bool) (int, error) {
	s, err := c.sendable(id)
	if err != nil {
		return 0, err
	}
	if !s.respSent {
		return 0, ErrState
	}
	n := int64(len(p))
	if w := s.sendWindow; n > w {
		n = w
	}
	if w := c.sendWindow; n > w {
		n = w
	}
	if n < 0 {
		n = 0
	}
	if n > 0 || len(p) == 0 && endStream {
		c.writeData(id, p[:n], endStream && n == int64(len(p)))
		s.sendWindow -= n
		c.sendWindow -= n
	}
	if n < int64(len(p)) {
		s.blocked = true
		c.connBlocked = true
		return int(n), nil
	}
	if endStream {
		c.endLocal(s)
	}
	return int(n), nil
}

// SendTrailers ends the response with a trailer block (HEADERS with END_STREAM).
func (c *Conn) SendTrailers(id uint32, fields []Field) error {
	s, err := c.sendable(id)
	if err != nil {
		return err
	}
	if !s.respSent {
		return ErrState
	}
	c.enc.begin()
	if err := c.encodeFields(fields); err != nil {
		return err
	}
	c.writeEncoded(http2.FrameHeaders, id, 0, true)
	c.endLocal(s)
	return nil
}

// Reset ends stream id with RST_STREAM(code). Late frames from the client on it are
// ignored.
func (c *Conn) Reset(id uint32, code http2.ErrCode) error {
	if c.dead || c.done {
		return ErrConnClosed
	}
	s := c.lookupOpen(id)
	if s == nil {
		return ErrStreamClosed
	}
	c.writeRST(id, code)
	s.resetByUs = true
	c.closeStream(s)
	return nil
}

// GoAway sends GOAWAY with the last stream id we processed. With NO_ERROR it is
// graceful: no new stream is accepted, the open ones finish, then Next reports
// ClosedEvent. With any other code the connection is over: Next reports ClosedEvent
// once the host has taken the pending events; flush Output and close.
func (c *Conn) GoAway(code http2.ErrCode, debug []byte) {
	if c.dead || c.done {
		return
	}
	c.sendGoAway(code, debug)
	if code != http2.ErrCodeNo {
		c.dead = true
	}
}
