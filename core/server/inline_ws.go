package server

// WebSockets on inline connections, in event mode only: the loop reads
// frames into the session (its messages reach the host through Poll) and
// the host's sends are written from its own thread, so an echo costs no
// goroutine and no thread hand-off. A pulling host (Next) keeps WebSockets
// on the goroutine path: its receive blocks a thread, and with every thread
// blocked nobody would run the loop. All of it under the conn's mu.

import (
	"syscall"
	"unsafe"

	coreconn "github.com/portico-http/portico/core/conn"
	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

// inlineOffer returns the offer of a WebSocket opening handshake the inline
// path keeps, or nil (not one, or one the goroutine path must refuse).
func (c *conn) inlineOffer(req *h1.Request) *ws.Offer {
	if !c.in.l.eventMode.Load() || req.Upgrade == nil || !h1.HasToken(req.Upgrade, "websocket") ||
		h1.HasToken(req.Upgrade, "h2c") || req.Expect100 || req.Chunked || req.ContentLength > 0 {
		return nil
	}
	offer, herr := ws.CheckOffer(req.Method, coreconn.FieldLookup(req.Fields), false)
	if herr != nil {
		return nil
	}
	return &offer
}

// inStartWS switches the connection to its WebSocket once the 101 is out:
// frames that came with the handshake go to the session, and from now on
// the loop reads frames instead of requests. It may run on the thread that
// accepted, outside the loop: the first read is left to the loop (its read
// buffer is the loop's).
func (c *conn) inStartWS() {
	in := c.in
	s := c.ws
	c.wsLive = true
	in.deadline.Store(0) // keepalive pings watch a quiet peer (startKeepalive)
	s.onDrained = c.inResumeWS
	if rest := c.p.Buffered(); len(rest) > 0 {
		in.wsPaused = s.feed(rest) // feed copies
	}
	c.inFlushWS()
	if !in.closed {
		in.l.pushParse(c)
	}
}

// inReadWS reads frames until the socket is drained, the inbox is full
// (the host is behind: read again once it takes messages) or the session
// ends. The loop's thread only (under its mu).
func (c *conn) inReadWS() {
	in := c.in
	s := c.ws
	buf := in.l.rbuf[:]
	for !in.closed && !in.wsPaused && !s.finished {
		if in.drained && !in.rdhup {
			return
		}
		n, errno := readNow(in.fd, buf)
		switch errno {
		case 0:
		case syscall.EAGAIN:
			in.drained = true
			return
		default:
			n = 0 // reset and the like: as EOF, abnormal closure
		}
		if n == 0 {
			s.feed(nil) // 1006 for the host unless the close handshake was done
			s.finished = true
			in.drained, in.rdhup = true, false
			c.inFlushWS()
			return
		}
		in.drained = n < len(buf)
		in.wsPaused = s.feed(buf[:n])
	}
}

// inResumeWS runs when the host took messages: a reader paused on a full
// inbox goes on, from the loop's thread.
func (c *conn) inResumeWS() {
	in := c.in
	if in != nil && in.wsPaused && c.ws.inboxBytes < inboxLimit {
		in.wsPaused = false
		in.l.pushParse(c)
	}
}

// inFlushWS writes the session's frames without blocking; what the socket
// does not take waits in wsRest for EPOLLOUT (or a host in inWaitRoom).
// A finished session closes the connection once everything is out.
func (c *conn) inFlushWS() {
	in := c.in
	s := c.ws
	if in.closed {
		return
	}
	n := 0
	for {
		if n == len(c.wsRest) {
			// Take more only once what was taken is out: for a client
			// that does not read, output waits in the endpoint's blocks
			// rather than in one buffer copied ever bigger.
			s.ep.Sent(n)
			c.wsRest, n = s.takeOutput(c.wsRest[:0]), 0
			if len(c.wsRest) == 0 {
				break
			}
		}
		m, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(in.fd),
			uintptr(unsafe.Pointer(&c.wsRest[n])), uintptr(len(c.wsRest)-n), syscall.MSG_NOSIGNAL, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno == syscall.EAGAIN {
			break
		}
		if errno != 0 {
			c.err = ErrIO // a host waiting in inWaitRoom gives up
			s.end(1006, "")
			s.finished = true
			c.wsRest = c.wsRest[:0]
			c.inClose()
			return
		}
		n += int(m)
	}
	s.ep.Sent(n)
	if n == len(c.wsRest) {
		c.wsRest = c.wsRest[:0]
		if cap(c.wsRest) > keepBufferCap {
			c.wsRest = nil
		}
	} else if n > 0 {
		c.wsRest = c.wsRest[:copy(c.wsRest, c.wsRest[n:])]
	}
	if s.finished && len(c.wsRest) == 0 && !s.ep.HasOutput() {
		c.inClose()
	}
}

// inDropWS closes the connection of a session dropped for a peer that
// does not read (wsSession.drop), letting go of what it held to send.
func (c *conn) inDropWS() {
	c.wsRest = nil
	// A host thread may wait for room on this socket (inWaitRoom): the
	// shutdown wakes its poll, which a close alone would not.
	syscall.Shutdown(c.in.fd, syscall.SHUT_RDWR)
	c.inClose()
}

// inEndWS ends the session of a connection being closed: the host learns
// of it as an abnormal closure unless the closing handshake was done.
func (c *conn) inEndWS() {
	if s := c.ws; s != nil {
		s.end(1006, "")
		s.finished = true
	}
}
