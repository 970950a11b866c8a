package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	coreconn "github.com/portico-http/portico/core/conn"
	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

// Sizes of the per-connection buffers. out is double-buffered between the
// host (which formats responses into it) and the goroutine (which writes).
const (
	readChunk     = 16 << 10
	outHighWater  = 256 << 10 // a host writing faster than the client waits here
	keepBufferCap = 1 << 20   // buffers that grew beyond this are not kept
)

// conn is one client connection. Its goroutine reads and parses requests
// and writes what the host formatted. While a request is with the host, the
// host's thread owns the parser (it reads the body itself, under mu), and
// the goroutine only flushes output.
type conn struct {
	srv *Server
	nc  net.Conn
	p   *h1.Conn

	// addrs is the scheme and address part of every head from this
	// connection, packed once: "http\0raddr\0rport\0laddr\0lport".
	addrs []byte

	wake    chan struct{} // out has bytes, or the exchange finished
	flushed chan struct{} // the goroutine wrote a batch (for a waiting host)

	mu         sync.Mutex
	out, spare []byte
	fields     []h1.Field // reused when parsing a host's response head
	ex         *Exchange  // the request with the host, nil between requests
	outLen     func() int // len(out), for waitDrained
	h2         *h2conn    // set when the connection speaks HTTP/2
	ws         *wsSession // set when the host accepted a WebSocket: the connection switches
	idle       bool       // waiting for the first byte of a request
	exDone     bool       // the host finished ex
	closeAfter bool       // close once ex is flushed
	err        error      // first write failure
	eof        bool       // the client closed its side (goroutine only)
	wsLive     bool       // the WebSocket writer runs: the 101 is on the wire
	wsWriting  bool       // the WebSocket writer goroutine holds output it is writing
	wsRest     []byte     // output an inline write left over: the writer sends it first
	wsInline   []byte     // scratch for inline writes
	dl         deadlines  // read side under mu; write side by the writer

	// A client that leaves while the host has ex (h1gone.go):
	gone       bool          // it left (clientLeft)
	watchDone  chan struct{} // closed when the goroutine path's watchPeer ends
	watchAfter *time.Timer   // starts watchPeer for a request held past watchDelay
	peek       []byte        // watchPeer's read buffer

	in     *inlineState // set while the host's thread does the I/O (inline.go)
	seed   h1.Event     // with seeded: the first event serve handles,
	seeded bool         // for a connection handed over by the inline path
	seedEx *Exchange    // or a request it built whose body is still coming
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:     s,
		nc:      nc,
		p:       h1.NewConn(h1.Limits{MaxHeadSize: s.opts.MaxHeadSize, MaxBodySize: s.opts.MaxBodySize}),
		wake:    make(chan struct{}, 1),
		flushed: make(chan struct{}, 1),
	}
	c.addrs = packAddrs(nc)
	c.outLen = func() int { return len(c.out) }
	return c
}

func packAddrs(nc net.Conn) []byte {
	b := make([]byte, 0, 64)
	if _, ok := nc.(*tls.Conn); ok {
		b = append(b, "https"...)
	} else {
		b = append(b, "http"...)
	}
	for _, a := range []net.Addr{nc.RemoteAddr(), nc.LocalAddr()} {
		host, port := "", "0"
		switch a := a.(type) {
		case *net.TCPAddr:
			host, port = a.IP.String(), strconv.Itoa(a.Port)
		case *net.UnixAddr:
			if a != nc.RemoteAddr() {
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

// serve is the connection's goroutine: parse, hand requests to the host one
// at a time (so answers leave in order), flush what the host wrote.
func (c *conn) serve() {
	defer c.srv.forget(c)
	defer c.nc.Close()
	opts := &c.srv.opts
	tc, secure := c.nc.(*tls.Conn)
	if secure {
		if !c.handshake(tc) {
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			c.serveH2(nil, nil)
			return
		}
	}
	var headStart time.Time
	// Cleartext: HTTP/2 with prior knowledge starts with its preface.
	sniff := !secure && !c.seeded && c.seedEx == nil
	for {
		if sniff {
			// The sniffing rule is shared with connection mode (core/conn).
			switch coreconn.Sniff(c.p.Buffered()) {
			case coreconn.SniffMore:
				if c.eof || !c.readMore(&headStart, opts) {
					return
				}
				continue
			case coreconn.SniffH2:
				c.serveH2(bytes.Clone(c.p.Buffered()), nil)
				return
			case coreconn.SniffJunk:
				return
			}
			sniff = false
		}
		c.mu.Lock()
		if built := c.seedEx; built != nil {
			c.seedEx = nil
			if !c.serveExchange(c.queueExchange(built)) {
				return
			}
			continue
		}
		ev := c.seed
		if !c.seeded {
			ev = c.p.Next()
		}
		c.seeded = false
		c.mu.Unlock()
		switch ev {
		case h1.NeedData:
			if !c.readMore(&headStart, opts) {
				return
			}
		case h1.RequestEvent:
			headStart = time.Time{}
			if opts.H2CUpgrade && !secure { // h2c is cleartext only (RFC 7540 3.2)
				if settings, ok := coreconn.H2CSettings(c.p.Request()); ok {
					c.upgradeToH2(c.p.Request(), settings)
					return
				}
			}
			if !c.serveExchange(c.dispatch()) {
				return
			}
		case h1.ErrorEvent:
			// A request that breaks off at EOF gets no answer: nobody reads it.
			if e := c.p.Err(); e != nil && !c.eof {
				c.dl.setWrite(c.nc, time.Now().Add(opts.BodyTimeout))
				c.nc.Write(c.p.WriteError(nil))
				c.srv.reportRefusal(c.addrs, c.p)
				lingerClose(c.nc)
			}
			return
		default: // Closed; nothing else can come between requests
			return
		}
	}
}

// handshake runs the TLS handshake within the header timeout, so a client
// that connects and stalls costs no more than a slow request head.
func (c *conn) handshake(tc *tls.Conn) bool {
	tc.SetDeadline(time.Now().Add(c.srv.opts.HeaderTimeout))
	if err := tc.Handshake(); err != nil {
		return false
	}
	tc.SetDeadline(time.Time{})
	return true
}

// readMore reads from the socket into the parser, with the keep-alive
// timeout between requests and the header timeout inside a head.
func (c *conn) readMore(headStart *time.Time, opts *Options) bool {
	c.mu.Lock()
	idle := c.p.Idle()
	c.idle = idle
	buf := c.p.RecvBuffer(readChunk)
	now := time.Now()
	if idle {
		c.dl.setRead(c.nc, now.Add(opts.KeepAliveTimeout))
	} else {
		if headStart.IsZero() {
			*headStart = now
		}
		c.dl.setRead(c.nc, headStart.Add(opts.HeaderTimeout))
	}
	c.mu.Unlock()
	// Checked after the deadline is set: see beginDrain.
	if idle && c.srv.draining.Load() {
		return false
	}
	n, err := c.nc.Read(buf)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = false
	if n > 0 {
		c.p.Commit(n)
		return true
	}
	if err != nil && !isEOF(err) {
		return false // timeout, reset, shutdown: nothing useful to say
	}
	c.eof = true
	c.p.Commit(0)
	return true
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// beginDrain starts a connection's part of a graceful shutdown. One blocked
// waiting for its next request is woken so that it sees the server draining. readMore sets its deadline before it
// checks draining, and Shutdown sets draining before calling this, so either
// readMore sees draining or this deadline lands after readMore's own.
func (c *conn) beginDrain() {
	c.mu.Lock()
	if c.h2 != nil {
		c.h2.beginDrain()
		c.mu.Unlock()
		return
	}
	idle := c.idle && c.ex == nil
	if idle {
		c.dl.forceRead(c.nc, time.Unix(1, 0))
	}
	if c.ws != nil {
		// A WebSocket is told the server is going away (1001); it ends
		// when the client answers, or closeWait later.
		c.ws.close(1001, "server shutting down")
		c.dl.forceRead(c.nc, time.Now().Add(closeWait))
	}
	c.mu.Unlock()
}

// dispatch packs the request just parsed, takes the body bytes already
// received (up to PrefetchSize) and queues it for the host.
func (c *conn) dispatch() *Exchange {
	c.mu.Lock()
	req := c.p.Request()
	ex := &Exchange{b: c, srv: c.srv, expect100: req.Expect100}
	ex.head = c.packHead(req)
	if req.Upgrade != nil && h1.HasToken(req.Upgrade, "websocket") {
		offer, herr := ws.CheckOffer(req.Method, coreconn.FieldLookup(req.Fields), false)
		if herr != nil {
			c.refuseHandshake(herr)
			if c.srv.opts.ReportAnswers {
				c.srv.reportAnswer(&Exchange{srv: c.srv, id: lastID.Add(1), head: packRefused(req, c.addrs),
					answer: answerText(herr.Status, herr.Reason)})
			}
			c.mu.Unlock()
			return nil
		}
		ex.offer = &offer
		ex.flags |= reqWebSocket
	}
	if req.Chunked {
		ex.flags |= reqChunked
		ex.unsized = true
	}
	if req.Minor >= 1 && coreconn.TETrailers(req.Fields) {
		ex.flags |= reqTrailers
	}
	if req.Expect100 {
		ex.flags |= reqExpectContinue
	}
	return c.queueExchange(ex)
}

// queueExchange hands a request made from the parser's head to the host,
// with what of its body is buffered. Called with mu held; unlocks it.
func (c *conn) queueExchange(ex *Exchange) *Exchange {
	c.prefetch(ex, c.srv.opts.PrefetchSize)
	if !c.awaitBody(ex) { // bodywait.go: no worker waits for a body
		c.mu.Unlock()
		return nil
	}
	c.ex, c.exDone, c.closeAfter, c.gone = ex, false, false, false
	c.mu.Unlock()
	exchanges.add(ex)
	if !c.srv.enqueue(ex) {
		exchanges.remove(ex.id)
		return nil
	}
	return ex
}

// serveExchange waits for the host to finish ex (nil: it could not be
// queued), then serves a WebSocket it accepted; false ends the connection.
func (c *conn) serveExchange(ex *Exchange) bool {
	if ex == nil || !c.await(ex) {
		return false
	}
	if c.ws != nil {
		c.serveWebSocket(c.ws)
		return false
	}
	return !c.srv.draining.Load() && c.p.KeepAlive()
}

func (c *conn) packHead(req *h1.Request) []byte {
	proto := "HTTP/1.1"
	if req.Minor == 0 {
		proto = "HTTP/1.0"
	}
	size := len(req.Method) + len(req.Path) + len(req.Query) + len(proto) + len(c.addrs) + 4
	for _, f := range req.Fields {
		size += len(f.Name) + len(f.Value) + 2
	}
	b := make([]byte, 0, size)
	b = append(b, req.Method...)
	b = append(b, 0)
	b = append(b, req.Path...)
	b = append(b, 0)
	b = append(b, req.Query...)
	b = append(b, 0)
	b = append(b, proto...)
	b = append(b, 0)
	b = append(b, c.addrs...)
	for _, f := range req.Fields {
		b = append(b, 0)
		b = append(b, f.Name...)
		b = append(b, 0)
		b = append(b, f.Value...)
	}
	return b
}

// await flushes what the host writes for ex until the host finishes it.
// It reports whether the connection may carry another request.
func (c *conn) await(ex *Exchange) bool {
	held := c.watchLater() // h1gone.go
	defer c.watchAfter.Stop()
	for {
		select {
		case <-c.wake:
		case <-held:
			held = nil
			c.watchHeld(ex)
			continue
		case <-c.srv.kill:
			c.mu.Lock()
			if c.err == nil {
				c.err = ErrClosed
			}
			c.mu.Unlock()
			c.stopWatch()
			return false
		}
		c.mu.Lock()
		buf := c.out
		c.out, c.spare = c.spare[:0], nil
		done, closeAfter, failed := c.exDone, c.closeAfter, c.err != nil
		c.mu.Unlock()
		if len(buf) > 0 && !failed {
			c.dl.setWrite(c.nc, time.Now().Add(c.srv.opts.BodyTimeout))
			if _, err := c.nc.Write(buf); err != nil {
				c.mu.Lock()
				c.err = err
				failed = true
				c.mu.Unlock()
			}
		}
		c.mu.Lock()
		if cap(buf) <= keepBufferCap {
			c.spare = buf[:0]
		}
		if done {
			c.ex = nil
		}
		c.mu.Unlock()
		select {
		case c.flushed <- struct{}{}:
		default:
		}
		if done {
			c.stopWatch() // the connection reads again from here
			if closeAfter && !failed {
				lingerClose(c.nc)
			}
			return !closeAfter && !failed
		}
	}
}

// wakeUp tells the goroutine there is output (or an end); never blocks.
func (c *conn) wakeUp() {
	if c.in != nil { // inline: the caller's thread writes
		if c.wsLive {
			c.inFlushWS()
		} else {
			c.inFlush()
		}
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitDrained holds a host that writes faster than the client reads until
// the pending output is below the high-water mark. Called and returns with
// mu held.
func (c *conn) waitDrained(pending func() int) {
	if c.in != nil {
		c.inWaitRoom(pending)
		return
	}
	for pending()+len(c.wsRest) > outHighWater && c.err == nil {
		c.mu.Unlock()
		select {
		case <-c.flushed:
		case <-c.srv.kill:
		}
		c.mu.Lock()
		select {
		case <-c.srv.kill:
			if c.err == nil {
				c.err = ErrClosed
			}
		default:
		}
	}
}

// lingerClose half-closes and reads what the client still sends for a
// moment, so that an error answer is not destroyed by a reset when the
// client was still sending (RFC 9112 9.6).
func lingerClose(nc net.Conn) {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := nc.(closeWriter); ok {
		cw.CloseWrite()
		nc.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 4096)
		for i := 0; i < 64; i++ {
			if _, err := nc.Read(buf); err != nil {
				break
			}
		}
	}
	nc.Close()
}
