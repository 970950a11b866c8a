package server

// One inline connection: a non-blocking descriptor outside Go's netpoller,
// read by the loop (inline.go) and written by whichever host thread answers.
// All of it runs under the conn's mu.

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	coreconn "github.com/portico-http/portico/core/conn"
	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

type inlineState struct {
	l  *inlineLoop
	fd int

	closed   bool         // the descriptor is closed (or handed over)
	sniff    bool         // the first bytes may still be an HTTP/2 preface
	drained  bool         // the last read was short: wait for the next edge
	readable bool         // input arrived while a request was with the host
	rdhup    bool         // the peer shut its side: a read returns 0 at once
	eof      bool         // a read returned 0
	linger   bool         // half-closed after an error answer: discard until EOF
	wsPaused bool         // a WebSocket's inbox is full: read once the host takes messages
	awaiting *Exchange    // a request whose body is still arriving (inReadBody)
	awaitLen int          // its Content-Length
	deadline atomic.Int64 // unix ns; 0: none. The sweep reads it without mu
	headAt   int64        // when the first byte of the current head arrived
}

func newInlineConn(l *inlineLoop, fd int, remote syscall.Sockaddr) *conn {
	s := l.s
	c := &conn{
		srv:     s,
		p:       h1.NewConn(h1.Limits{MaxHeadSize: s.opts.MaxHeadSize, MaxBodySize: s.opts.MaxBodySize}),
		wake:    make(chan struct{}, 1),
		flushed: make(chan struct{}, 1),
		in:      &inlineState{l: l, fd: fd, sniff: true},
	}
	c.outLen = func() int { return len(c.out) }
	local, _ := syscall.Getsockname(fd)
	c.addrs = packSockaddrs(remote, local)
	if _, ok := remote.(*syscall.SockaddrUnix); !ok {
		// As net does for its TCP connections: answers are written whole.
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	c.in.deadline.Store(l.now.Load() + int64(s.opts.KeepAliveTimeout))
	return c
}

// packSockaddrs is packAddrs for a raw socket.
func packSockaddrs(remote, local syscall.Sockaddr) []byte {
	b := make([]byte, 0, 64)
	b = append(b, "http"...)
	for i, a := range []syscall.Sockaddr{remote, local} {
		host, port := "", "0"
		switch a := a.(type) {
		case *syscall.SockaddrInet4:
			host, port = net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)
		case *syscall.SockaddrInet6:
			host, port = net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)
		case *syscall.SockaddrUnix:
			if i == 1 {
				host = a.Name
			}
		}
		b = append(b, 0)
		b = append(b, host...)
		b = append(b, 0)
		b = append(b, port...)
	}
	return b
}

// inEvent handles what epoll reported for the connection (loop thread).
func (c *conn) inEvent(events uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.in
	if in == nil || in.closed {
		return
	}
	if events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		in.drained = false
		if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			in.rdhup = true
		}
	}
	if c.wsLive {
		if events&syscall.EPOLLOUT != 0 && len(c.wsRest) > 0 {
			c.inFlushWS()
		}
		c.inReadWS()
		return
	}
	if events&syscall.EPOLLOUT != 0 && len(c.out) > 0 {
		c.inFlush()
		if in.closed {
			return
		}
	}
	if in.drained {
		return
	}
	if in.linger {
		c.inDiscard()
		return
	}
	if c.ex != nil {
		in.readable = true // parsed once the response is complete
		if events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			c.inClientLeft(events&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0) // h1gone.go
		}
		return
	}
	c.inRead()
}

// fill reads once into the parser. It reports false when nothing more can
// be read now (the socket is drained, or the connection was closed).
func (c *conn) fill() bool {
	in := c.in
	if in.drained && !in.rdhup {
		return false
	}
	buf := c.p.RecvBuffer(readChunk)
	n, errno := readNow(in.fd, buf)
	switch errno {
	case 0:
	case syscall.EAGAIN:
		in.drained = true
		return false
	default: // reset and the like: nothing useful to say
		c.inClose()
		return false
	}
	if n == 0 {
		c.p.Commit(0)
		in.eof, in.rdhup, in.drained = true, false, true
		return true
	}
	if c.p.Idle() {
		in.headAt = in.l.now.Load()
	}
	c.p.Commit(n)
	// Edge-triggered: a short read emptied the socket, so the next input
	// brings a new event; this saves the read that says EAGAIN.
	in.drained = n < len(buf)
	return true
}

// readNow reads once from a non-blocking socket (EINTR retried). recvfrom,
// not read: it goes straight to the socket, past read's file-position and
// VFS checks.
func readNow(fd int, buf []byte) (int, syscall.Errno) {
	for {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}

// inRead parses buffered input and reads more until a request is queued for
// the host, the socket is drained, or the connection leaves the inline path.
func (c *conn) inRead() {
	in := c.in
	in.readable = false
	if in.awaiting != nil {
		c.inReadBody()
		return
	}
	for !in.closed {
		if in.sniff {
			switch coreconn.Sniff(c.p.Buffered()) { // the rule both modes share
			case coreconn.SniffMore:
				if in.eof {
					c.inClose()
					return
				}
				if !c.fill() {
					c.inWaiting()
					return
				}
				continue
			case coreconn.SniffH2:
				c.handOver(0, false)
				return
			case coreconn.SniffJunk:
				c.inClose()
				return
			}
			in.sniff = false
		}
		switch ev := c.p.Next(); ev {
		case h1.NeedData:
			if !c.fill() {
				c.inWaiting()
				return
			}
		case h1.RequestEvent:
			in.headAt = 0
			req := c.p.Request()
			if ok, complete := c.inlineable(req); ok {
				ex := c.inExchange(req, nil)
				if complete {
					c.inDispatch(ex)
					return
				}
				in.awaiting, in.awaitLen = ex, int(req.ContentLength)
				in.deadline.Store(in.l.now.Load() + int64(inlineBodyWait))
				c.inReadBody()
				return
			}
			if offer := c.inlineOffer(req); offer != nil {
				c.inDispatch(c.inExchange(req, offer)) // inline_ws.go
				return
			}
			c.handOver(ev, true)
			return
		case h1.ErrorEvent:
			// The goroutine path answers it and lingers, as it does for
			// its own connections; a request cut off by EOF gets nothing.
			if in.eof {
				c.inClose()
				return
			}
			c.handOver(ev, true)
			return
		default: // Closed
			c.inClose()
			return
		}
	}
}

// inWaiting sets the timeout for a connection that waits for input.
func (c *conn) inWaiting() {
	in := c.in
	if in.closed {
		return
	}
	if c.p.Idle() {
		return // the keep-alive deadline was set when it became idle
	}
	if in.headAt == 0 {
		in.headAt = in.l.now.Load()
	}
	in.deadline.Store(in.headAt + int64(c.srv.opts.HeaderTimeout))
}

// inlineable reports whether the inline path serves the request just
// parsed: no protocol switch, no interim response, and a body of at most
// prefetch_size, which its record carries (a bigger upload goes to the
// goroutine path, which streams it to the host). complete: all of the body
// has arrived; otherwise inReadBody waits for the rest.
func (c *conn) inlineable(req *h1.Request) (ok, complete bool) {
	if req.Upgrade != nil || req.Expect100 || req.Chunked || bytes.Equal(req.Method, []byte("CONNECT")) ||
		req.ContentLength > int64(c.srv.opts.PrefetchSize) {
		return false, false
	}
	return true, req.ContentLength <= int64(len(c.p.Buffered()))
}

// inlineBodyWait is how long the loop waits for the rest of a body that
// did not come with its head: long enough for the segments right behind
// it, short enough that a slow upload soon reaches the host (which may
// answer without reading it) on the goroutine path.
var inlineBodyWait = 100 * time.Millisecond // a variable for the tests

// inReadBody reads the body of the request in.awaiting until all of it is
// buffered, then queues the request. Past inlineBodyWait the sweep hands
// it to the goroutine path (inHandOverAwaiting). A client that closes
// first reaches nobody: the host never saw its request.
func (c *conn) inReadBody() {
	in := c.in
	for len(c.p.Buffered()) < in.awaitLen {
		if in.eof {
			in.awaiting = nil
			c.inClose()
			return
		}
		if !c.fill() {
			return
		}
	}
	ex := in.awaiting
	in.awaiting = nil
	c.inDispatch(ex)
}

// inHandOverAwaiting moves a connection whose request body is slow to come
// to the goroutine path, the request built already (loop thread).
func (c *conn) inHandOverAwaiting() {
	c.seedEx, c.in.awaiting = c.in.awaiting, nil
	c.handOver(0, false)
}

// inExchange makes the host's exchange for the request just parsed. It
// copies what it needs of req, whose fields point into the parser's buffer
// (which the next read may move).
func (c *conn) inExchange(req *h1.Request, offer *ws.Offer) *Exchange {
	ex := &Exchange{b: c, srv: c.srv}
	ex.head = c.packHead(req)
	if offer != nil {
		ex.offer = offer
		ex.flags |= reqWebSocket
	}
	if req.Minor >= 1 && coreconn.TETrailers(req.Fields) {
		ex.flags |= reqTrailers
	}
	return ex
}

// inDispatch queues a request for the host, its body (or what of it fits
// in prefetch_size) with it (loop thread).
func (c *conn) inDispatch(ex *Exchange) {
	c.prefetch(ex, c.srv.opts.PrefetchSize)
	c.ex, c.exDone, c.closeAfter, c.gone = ex, false, false, false
	if c.in.eof || c.in.rdhup { // the client's FIN came with the request
		c.inClientLeft(false)
	}
	c.in.deadline.Store(0) // the host has it; body_timeout bounds its writes
	exchanges.add(ex)
	if d := c.srv.opts.RequestTimeout; d > 0 {
		ex.timer = time.AfterFunc(d, ex.expire) // as enqueue does; expire takes mu
	}
	l := c.in.l
	l.ready = append(l.ready, ex)
}

// inFlush writes what the host formatted, without blocking; what does not
// fit waits for EPOLLOUT (or the host waits in inWaitRoom). Once the
// request is finished and written, the connection takes its next request.
func (c *conn) inFlush() {
	in := c.in
	if in.closed {
		if c.err == nil {
			c.err = ErrIO
		}
		c.out = c.out[:0]
	}
	for len(c.out) > 0 && c.err == nil {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(in.fd),
			uintptr(unsafe.Pointer(&c.out[0])), uintptr(len(c.out)), syscall.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			if int(n) == len(c.out) {
				c.out = c.out[:0]
			} else {
				c.out = c.out[:copy(c.out, c.out[n:])]
			}
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
		default: // the client went away
			c.err = ErrIO
			c.out = c.out[:0]
		}
		break
	}
	if cap(c.out) > keepBufferCap && len(c.out) == 0 {
		c.out = nil
	}
	if c.ex != nil && c.exDone && len(c.out) == 0 {
		c.inDone()
	}
}

// inDone ends an exchange whose answer is written: close, or go on with
// the next request.
func (c *conn) inDone() {
	in := c.in
	c.ex = nil
	if c.ws != nil && c.err == nil && !in.closed {
		c.inStartWS() // the 101 is out
		return
	}
	switch {
	case c.err != nil || in.closed:
		c.inClose()
		return
	case c.closeAfter:
		// An answer cut short or refused: half-close and let the client's
		// remaining input drain, so the answer is not lost to a reset.
		syscall.Shutdown(in.fd, syscall.SHUT_WR)
		in.linger = true
		in.deadline.Store(in.l.now.Load() + int64(lingerTime))
		c.inDiscard()
		return
	case !c.p.KeepAlive() || c.srv.draining.Load():
		c.inClose()
		return
	}
	in.deadline.Store(in.l.now.Load() + int64(c.srv.opts.KeepAliveTimeout))
	if in.readable || in.rdhup || len(c.p.Buffered()) > 0 {
		in.l.pushParse(c)
	}
}

// inDiscard reads and drops input on a lingering connection until EOF.
func (c *conn) inDiscard() {
	var buf [4096]byte
	in := c.in
	for !in.closed {
		n, errno := readNow(in.fd, buf[:])
		switch {
		case errno == syscall.EAGAIN:
			return
		case errno != 0 || n == 0:
			c.inClose()
			return
		}
	}
}

// inDrainClose closes an idle connection while the server drains (loop
// thread). It reads first, whatever the last edge said: a request the client
// sent meanwhile (a new connection's first one, often) is served, and its
// answer closes the connection, instead of being met with a reset.
func (c *conn) inDrainClose() {
	c.in.drained = false
	c.inRead()
	if in := c.in; in != nil && !in.closed && c.ex == nil && c.p.Idle() && len(c.p.Buffered()) == 0 {
		c.inClose()
	}
}

// inClose closes the descriptor and forgets the connection.
func (c *conn) inClose() {
	in := c.in
	if in.closed {
		return
	}
	in.closed = true
	if c.ex != nil && c.err == nil {
		c.err = ErrIO
	}
	c.inEndWS()
	l := in.l
	l.cmu.Lock()
	delete(l.conns, int32(in.fd))
	l.cmu.Unlock()
	syscall.Close(in.fd)
	openConns.Add(-1)
	c.srv.connWG.Done()
}

// inWaitRoom holds a host that writes faster than the client reads until
// the pending output is below the high-water mark, waiting on its own
// thread. Called and returns with mu held.
func (c *conn) inWaitRoom(pending func() int) {
	in := c.in
	// The loop may finish this exchange meanwhile (its last bytes sent on
	// EPOLLOUT) and start the next one: then this wait is over.
	ex := c.ex
	for pending()+len(c.wsRest) > outHighWater && c.err == nil && c.ex == ex {
		if in.closed {
			c.err = ErrIO
			return
		}
		fd := in.fd
		c.mu.Unlock()
		ok := pollOut(fd, c.srv.opts.BodyTimeout)
		c.mu.Lock()
		if c.ex != ex {
			return
		}
		select {
		case <-c.srv.kill:
			if c.err == nil {
				c.err = ErrClosed
			}
			return
		default:
		}
		if !ok {
			c.err = ErrIO // the client stopped reading for body_timeout
			return
		}
		c.wakeUp() // inFlush, or inFlushWS for a WebSocket
	}
}

// pollOut waits until fd is writable (or broken); false after timeout.
func pollOut(fd int, timeout time.Duration) bool {
	type pollfd struct {
		fd             int32
		events, revent int16
	}
	p := pollfd{fd: int32(fd), events: 0x4} // POLLOUT
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		ts := syscall.NsecToTimespec(int64(left))
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&p)), 1,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		return errno == 0 && n > 0
	}
}

// handOver moves the connection to the goroutine path, with its parser
// and everything it buffered; with seeded, the goroutine starts from ev
// (the event the parser just reported). Loop thread, between requests.
func (c *conn) handOver(ev h1.Event, seeded bool) {
	in := c.in
	l := in.l
	l.cmu.Lock()
	delete(l.conns, int32(in.fd))
	l.cmu.Unlock()
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, in.fd, nil)
	in.closed = true
	f := os.NewFile(uintptr(in.fd), "")
	nc, err := net.FileConn(f) // a duplicate, in Go's netpoller
	f.Close()
	if err != nil {
		openConns.Add(-1)
		c.srv.connWG.Done()
		return
	}
	c.nc, c.in = nc, nil
	c.seed, c.seeded = ev, seeded
	s := c.srv
	s.mu.Lock()
	s.conns[c] = struct{}{} // its connWG count carries over
	s.mu.Unlock()
	go c.serve()
}
