package server

import (
	"bytes"
	"syscall"
	"time"

	coreconn "github.com/portico-http/portico/core/conn"
	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

// The WebSocket over HTTP/1.1 (RFC 6455): the handshake answers and the
// loop that carries the session's bytes once the connection has switched.

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
		c.dl.setWrite(c.nc, time.Now().Add(c.srv.opts.BodyTimeout))
		c.nc.Write(out)
	}
}

// acceptWebSocket answers the opening handshake with 101 and switches the
// connection to the WebSocket.
func (c *conn) acceptWebSocket(ex *Exchange, subprotocol string, extra []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.offer == nil || ex.started || ex.finished {
		return ErrState
	}
	if c.srv.draining.Load() {
		return ErrClosed // no new WebSockets while shutting down
	}
	if c.err != nil {
		c.abandon(ex)
		return ErrIO
	}
	neg, err := ws.Negotiate(*ex.offer, subprotocol, true)
	if err != nil {
		return ErrHeader
	}
	fs := coreconn.WebSocketAccept(ex.offer, neg)
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
	ex.started = true
	ex.ws = newWSSession(neg, &c.srv.opts, c.wakeUp)
	ex.ws.onDrop = c.wsDrop
	ex.ws.startKeepalive(c.srv.opts.WSPingInterval, c.srv.opts.WSPingTimeout, &c.mu, c.wsClosing)
	c.ws = ex.ws
	ex.finish() // the goroutine flushes the 101 and turns to the session
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

	c.mu.Lock()
	c.dl.forceRead(c.nc, time.Time{}) // the keep-alive deadline is over
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
	c.mu.Lock()
	c.wsLive = true // the HTTP loop flushed the 101 before starting this
	c.mu.Unlock()
	var buf []byte
	more := true
	for {
		// The first pass does not wait: the app may have sent before this
		// goroutine started, and its wake-up went to the HTTP/1.1 loop.
		// Nor does one that left output in the endpoint (takeOutput).
		if !more {
			select {
			case <-c.wake:
			case <-c.srv.kill:
				return
			}
		}
		c.mu.Lock()
		// What an inline write (flushWSNow) left goes first.
		buf = append(buf[:0], c.wsRest...)
		c.wsRest = c.wsRest[:0]
		buf = s.takeOutput(buf)
		more = s.ep.HasOutput()
		finished := s.finished && !more
		c.wsWriting = len(buf) > 0
		c.mu.Unlock()
		if len(buf) > 0 {
			c.dl.setWrite(c.nc, time.Now().Add(c.srv.opts.BodyTimeout))
			_, err := c.nc.Write(buf)
			c.mu.Lock()
			c.wsWriting = false
			if err != nil {
				c.err = err // a host waiting in waitDrained gives up
				s.finished = true
				s.end(1006, "")
				c.mu.Unlock()
				signal(c.flushed)
				return
			}
			s.ep.Sent(len(buf))
			c.mu.Unlock()
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

// wsDrop closes the connection of a session dropped for a peer that does
// not read (wsSession.drop): the writer's blocked write fails at once and
// what it holds is let go. Under mu.
func (c *conn) wsDrop() {
	if c.in != nil {
		c.inDropWS()
		return
	}
	if c.err == nil {
		c.err = ErrClosed // a host waiting in waitDrained gives up
	}
	c.wsRest = nil
	c.nc.Close()
	signal(c.flushed)
}

// wsClosing bounds the wait for the client's answer to our close.
func (c *conn) wsClosing() {
	if in := c.in; in != nil {
		in.deadline.Store(time.Now().Add(closeWait).UnixNano()) // the sweep closes it
		return
	}
	c.dl.forceRead(c.nc, time.Now().Add(closeWait))
}

// flushWSNow writes the session's output from the calling (host) thread
// when the writer goroutine is idle: one non-blocking write instead of a
// goroutine wake-up per message, the largest cost of a small echo. What the
// socket does not take goes to the writer goroutine. Under mu.
func (c *conn) flushWSNow(s *wsSession) {
	if c.in != nil {
		c.wakeUp() // inline: written from this thread anyway (inline_ws.go)
		return
	}
	sc, ok := c.nc.(syscall.Conn)
	if !c.wsLive || c.wsWriting || len(c.wsRest) > 0 || c.err != nil || !ok {
		c.wakeUp()
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.wakeUp()
		return
	}
	buf := s.takeOutput(c.wsInline[:0])
	n := 0
	rc.Write(func(fd uintptr) bool {
		for n < len(buf) {
			m, err := syscall.Write(int(fd), buf[n:])
			if m > 0 {
				n += m
				continue
			}
			if err != syscall.EINTR {
				break // EAGAIN: the writer waits for room; other errors it reports
			}
		}
		return true // never park this thread in the poller
	})
	s.ep.Sent(n)
	if n < len(buf) {
		c.wsRest = append(c.wsRest, buf[n:]...)
	}
	if n < len(buf) || s.ep.HasOutput() {
		c.wakeUp()
	}
	if cap(buf) <= keepBufferCap {
		c.wsInline = buf[:0]
	}
}
