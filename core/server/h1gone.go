package server

// A client that leaves while the host has its HTTP/1.x request. HTTP/2
// learns it from RST_STREAM or the connection's end (h2conn.go); HTTP/1.x
// has to watch the socket while the request is with the host: the inline
// loop through EPOLLRDHUP (inline_conn.go), the goroutine path through a
// read once the request's body is all in (watchPeer).
//
// As uvicorn does, an EOF from the client counts as leaving, a half-close
// (shutdown SHUT_WR) after a whole request included, with two exceptions:
// a client that sent more (a pipelined request) waits for its answers and
// has not left, and a response written at once (head and whole body in one
// respond) still goes out if the socket takes it. Once the client has left,
// a streaming write (or a respond that does not end the response) fails
// with ErrIO and a WatchGone request gets its event.

import (
	"syscall"
	"time"
	"unsafe"
)

// clientLeft records that the client closed its side (reset: or broke the
// connection) while the host has a request. Under mu.
func (c *conn) clientLeft(reset bool) {
	ex := c.ex
	if ex == nil || ex.finished || c.gone || ex.offer != nil {
		return // a WebSocket handshake: its own session notices the close
	}
	if !reset && len(c.p.Buffered()) > 0 {
		return // a pipelined request follows: the client waits for answers
	}
	c.gone = true
	if ex.watchGone {
		ex.watchGone = false
		ex.srv.post(hostEvent{ex: ex, typ: EvBody, err: ErrIO})
	}
}

// refuseGone fails a write to a client that left: the connection closes
// (nothing is lingered for). Under mu.
func (c *conn) refuseGone(ex *Exchange) error {
	if c.err == nil {
		c.err = ErrIO
	}
	c.abandon(ex)
	return ErrIO
}

// watchGone is Exchange.WatchGone for HTTP/1.x.
func (c *conn) watchGone(ex *Exchange) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.finished || c.ex != ex {
		return ErrState
	}
	if c.gone || c.err != nil {
		ex.srv.post(hostEvent{ex: ex, typ: EvBody, err: ErrIO})
		return nil
	}
	ex.watchGone = true
	if ex.bodyDone {
		c.watchPeer(ex) // the host waits for just this: no need to wait for watchDelay
	}
	return nil
}

// inClientLeft: the loop saw the peer's FIN (or a reset, with reset) while
// the host has a request. Bytes still unread in the socket are a pipelined
// request, as buffered ones are. Loop thread, under mu.
func (c *conn) inClientLeft(reset bool) {
	if !reset && unreadBytes(c.in.fd) > 0 {
		return
	}
	c.clientLeft(reset)
}

// unreadBytes is what the socket holds for reading (FIONREAD), 0 on error.
func unreadBytes(fd int) int {
	var n int32
	_, _, errno := syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCINQ,
		uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return 0
	}
	return int(n)
}

// watchDelay: the goroutine path watches a request's socket only once the
// host has held it this long. Most answers come sooner, and the watch (a
// goroutine and two deadline changes) would cost them a tenth of their
// time; a client that leaves a longer one is noticed this much later.
const watchDelay = 50 * time.Millisecond

// watchLater arms the timer for watchHeld (the connection's goroutine).
func (c *conn) watchLater() <-chan time.Time {
	if c.watchAfter == nil {
		c.watchAfter = time.NewTimer(watchDelay)
	} else {
		c.watchAfter.Reset(watchDelay)
	}
	return c.watchAfter.C
}

// watchHeld starts watchPeer for a request the host has held for
// watchDelay, if its body is all in (else the host's reads see the EOF).
func (c *conn) watchHeld(ex *Exchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ex == ex && ex.bodyDone && !ex.finished {
		c.watchPeer(ex)
	}
}

// peekSize bounds watchPeer's read: a pipelined request's first bytes are
// enough to know the client stays; the rest waits in the socket.
const peekSize = 4 << 10

// watchPeer reads the socket while the host has ex and its whole body was
// received (so the host's thread reads no more), on the goroutine path
// (started by watchHeld, watchGone, or the host's read of the body's end):
// EOF or an error is the client leaving; bytes are a pipelined request,
// kept for the parser, and end the watch. stopWatch ends it before the
// connection reads again. Under mu.
func (c *conn) watchPeer(ex *Exchange) {
	if c.in != nil || c.h2 != nil || c.watchDone != nil || c.gone || ex.offer != nil ||
		len(c.p.Buffered()) > 0 {
		return
	}
	if c.eof { // read with the request: no need to wait for it
		c.clientLeft(false)
		return
	}
	done := make(chan struct{})
	c.watchDone = done
	c.dl.forceRead(c.nc, time.Time{}) // the request timeout bounds the host, not this
	if c.peek == nil {
		c.peek = make([]byte, peekSize)
	}
	go func() {
		defer close(done)
		n, err := c.nc.Read(c.peek)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case n > 0:
			copy(c.p.RecvBuffer(n), c.peek[:n])
			c.p.Commit(n)
		case c.watchDone != done: // stopped by stopWatch
		case isEOF(err):
			c.eof = true
			c.p.Commit(0)
			c.clientLeft(false)
		case err != nil: // a reset and the like
			c.clientLeft(true)
		}
	}()
}

// stopWatch ends watchPeer, if it runs, and waits for it (the connection's
// goroutine, before it reads or lingers).
func (c *conn) stopWatch() {
	c.mu.Lock()
	done := c.watchDone
	c.watchDone = nil
	if done != nil {
		c.dl.forceRead(c.nc, time.Unix(1, 0))
	}
	c.mu.Unlock()
	if done != nil {
		<-done
	}
}
