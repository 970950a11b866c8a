package server

import (
	"bytes"
	"time"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

// The WebSocket over HTTP/1.1 (RFC 6455): the handshake answers and the
// loop that carries the session's bytes once the connection has switched.

// hasToken reports whether a comma-separated header value holds tok
// (case-insensitive), as in "Upgrade: websocket" or "Connection: keep-alive, Upgrade".
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var part []byte
		part, v, _ = bytes.Cut(v, []byte{','})
		if bytes.EqualFold(bytes.TrimSpace(part), []byte(tok)) {
			return true
		}
	}
	return false
}

// fieldLookup gives ws.CheckOffer every value of a field, by lower-case name.
func fieldLookup(fs []h1.Field) func(string) [][]byte {
	return func(name string) [][]byte {
		var vs [][]byte
		for _, f := range fs {
			if bytes.EqualFold(f.Name, []byte(name)) {
				vs = append(vs, f.Value)
			}
		}
		return vs
	}
}

// refuseHandshake answers a broken WebSocket handshake itself (426 with the
// versions we speak, 400, 405): the app never sees it. Goroutine, under mu.
func (c *conn) refuseHandshake(herr *ws.HandshakeError) {
	fs := []h1.Field{{Name: []byte("Content-Type"), Value: []byte("text/plain")}, {Name: []byte("Connection"), Value: []byte("close")}}
	for _, f := range herr.Fields {
		fs = append(fs, h1.Field{Name: []byte(f[0]), Value: []byte(f[1])})
	}
	out, err := c.p.WriteResponse(nil, &h1.Response{Status: herr.Status, Fields: fs,
		Date: c.srv.date.get(), Body: []byte(herr.Reason + "\n"), End: true})
	if err == nil {
		c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.BodyTimeout))
		c.nc.Write(out)
	}
}

// AcceptWebSocket answers the opening handshake with 101 and switches the
// connection: from now on the id names the WebSocket. extra is
// NUL-separated name and value pairs for the 101 (may be empty).
func (ex *Exchange) AcceptWebSocket(subprotocol string, extra []byte) error {
	c := ex.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.offer == nil || ex.started || ex.finished {
		return ErrState
	}
	if c.srv.draining.Load() {
		return ErrClosed // no new WebSockets while shutting down
	}
	if c.err != nil {
		ex.abandon()
		return ErrIO
	}
	neg, err := ws.Negotiate(*ex.offer, subprotocol, true)
	if err != nil {
		return ErrHeader
	}
	fs := []h1.Field{
		{Name: []byte("Upgrade"), Value: []byte("websocket")},
		{Name: []byte("Connection"), Value: []byte("Upgrade")},
		{Name: []byte("Sec-WebSocket-Accept"), Value: []byte(ws.AcceptKey(ex.offer.Key))},
	}
	if neg.Subprotocol != "" {
		fs = append(fs, h1.Field{Name: []byte("Sec-WebSocket-Protocol"), Value: []byte(neg.Subprotocol)})
	}
	if neg.ResponseExtensions != "" {
		fs = append(fs, h1.Field{Name: []byte("Sec-WebSocket-Extensions"), Value: []byte(neg.ResponseExtensions)})
	}
	for rest := extra; len(rest) > 0; {
		var name, value []byte
		name, rest, _ = bytes.Cut(rest, []byte{0})
		value, rest, _ = bytes.Cut(rest, []byte{0})
		fs = append(fs, h1.Field{Name: bytes.Clone(name), Value: bytes.Clone(value)})
	}
	out, err := c.p.WriteResponse(c.out, &h1.Response{Status: 101, Fields: fs, Date: c.srv.date.get()})
	if err != nil {
		return ErrHeader
	}
	c.out = out
	ex.started, ex.finished = true, true
	ex.ws = newWSSession(neg, c.srv.opts.WSMaxMessage, c.wakeUp)
	c.ws = ex.ws
	c.exDone = true // the goroutine flushes the 101 and turns to the session
	c.wakeUp()
	return nil
}

// serveWebSocket carries a session over the switched connection: this
// goroutine reads, a second one writes, so a host can send while the
// client is silent and the other way round.
func (c *conn) serveWebSocket(s *wsSession) {
	writerDone := make(chan struct{})
	go c.wsWriter(s, writerDone)
	defer func() { <-writerDone }()

	c.nc.SetReadDeadline(time.Time{}) // the keep-alive deadline is over
	c.mu.Lock()
	pause := false
	if rest := c.p.Buffered(); len(rest) > 0 {
		pause = s.feed(bytes.Clone(rest)) // frames that came with the handshake
	}
	c.mu.Unlock()
	buf := make([]byte, readChunk)
	for {
		c.mu.Lock()
		for pause && !s.finished {
			c.mu.Unlock()
			select {
			case <-s.drained:
			case <-c.srv.kill:
				c.mu.Lock()
				s.finished = true
				c.wakeUp()
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			pause = s.inboxBytes >= inboxLimit
		}
		finished := s.finished
		c.mu.Unlock()
		if finished {
			return
		}
		n, err := c.nc.Read(buf)
		c.mu.Lock()
		if n > 0 {
			pause = s.feed(buf[:n])
		}
		if err != nil && !s.finished {
			s.feed(nil) // EOF or a dead socket: abnormal closure, 1006
			s.finished = true
			c.wakeUp()
		}
		c.mu.Unlock()
	}
}

// wsWriter flushes the session's frames; it ends once the session is
// finished and everything queued is written.
func (c *conn) wsWriter(s *wsSession, done chan struct{}) {
	defer close(done)
	defer c.nc.Close() // also ends the reader's blocked Read
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.srv.kill:
			return
		}
		c.mu.Lock()
		buf = s.takeOutput(buf[:0])
		finished := s.finished
		c.mu.Unlock()
		if len(buf) > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.BodyTimeout))
			if _, err := c.nc.Write(buf); err != nil {
				c.mu.Lock()
				c.err = err // a host waiting in waitDrained gives up
				s.finished = true
				s.end(1006, "")
				c.mu.Unlock()
				return
			}
		}
		if cap(buf) > keepBufferCap {
			buf = nil
		}
		signal(c.flushed)
		if finished {
			return
		}
	}
}

// WSRecv waits up to timeout for the next message and copies it into dst.
// A close arrives as kind WSClose and stays for every later call.
func (ex *Exchange) WSRecv(dst []byte, timeout time.Duration) (int, int, error) {
	s := ex.ws
	if s == nil {
		return 0, 0, ErrState
	}
	c := ex.c
	var expired <-chan time.Time
	for {
		c.mu.Lock()
		if len(s.inbox) > 0 {
			if len(s.inbox[0].payload) > len(dst) {
				c.mu.Unlock()
				return 0, 0, ErrBuffer
			}
			m, _ := s.pop()
			c.mu.Unlock()
			return copy(dst, m.payload), m.kind, nil
		}
		c.mu.Unlock()
		if timeout == 0 {
			return 0, 0, ErrTimeout
		}
		if expired == nil && timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-s.arrived:
		case <-expired:
			return 0, 0, ErrTimeout
		}
	}
}

// WSNextSize is the length of the message WSRecv would return now.
func (ex *Exchange) WSNextSize() (int, error) {
	s := ex.ws
	if s == nil {
		return 0, ErrState
	}
	ex.c.mu.Lock()
	defer ex.c.mu.Unlock()
	if len(s.inbox) == 0 {
		return 0, ErrTimeout
	}
	return len(s.inbox[0].payload), nil
}

// WSSend sends a text or binary message, or a ping. Safe while another
// thread waits in WSRecv.
func (ex *Exchange) WSSend(kind int, p []byte) error {
	s := ex.ws
	if s == nil {
		return ErrState
	}
	c := ex.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.send(kind, p); err != nil {
		return err
	}
	c.waitDrained(s.ep.OutputLen)
	return nil
}

// WSClose starts the closing handshake; the peer's answer arrives through
// WSRecv as WSClose. If the peer never answers, the connection is dropped
// after closeWait.
func (ex *Exchange) WSClose(code int, reason string) error {
	s := ex.ws
	if s == nil {
		return ErrState
	}
	c := ex.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.close(code, reason); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Now().Add(closeWait))
	return nil
}

// WSRelease ends the host's use of the id: an open WebSocket is closed with
// 1000 first. The id stops working.
func (ex *Exchange) WSRelease() error {
	if ex.ws == nil {
		return ErrState
	}
	exchanges.remove(ex.id)
	return ex.WSClose(1000, "")
}
