package server

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"

	coreconn "github.com/portico-http/portico/core/conn"
	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/h2"
	"github.com/portico-http/portico/core/ws"
)

// h2conn drives one HTTP/2 connection: its goroutine reads and runs the
// sans-I/O engine, a second goroutine writes, and the host's threads answer
// streams concurrently, each under mu.
type h2conn struct {
	c  *conn // the accepted connection (socket, addresses, drain state)
	mu *sync.Mutex
	p  *h2.Conn

	streams map[uint32]*h2stream
	fresh   []*Exchange // requests parsed in this batch, queued after unlock
	fields  []h2.Field  // scratch for response heads, under mu
	closing bool        // the reader is done: flush and close
	dead    bool        // the socket failed: every stream is gone

	// Streams that hold no worker yet (bodywait.go): parked ones wait for
	// their body, backlog ones for a place under the worker cap.
	backlog []*h2stream
	active  int // streams with the host now, against Options.workerStreams
	resets  int // streams the client (or the engine) reset
	unseen  int // requests that ended before the host saw them
	// Output for a client that does not read stays bounded: past
	// outHighWater (the engine's output plus what the writer holds) no
	// DATA is added, and senders wait until the writer has written.
	inFlight int  // bytes the writer took and is writing
	stalled  bool // a sender waits for the writer (wake the streams after a write)
}

// h2stream is one request stream: the backend of its Exchange.
type h2stream struct {
	hc       *h2conn
	id       uint32
	ex       *Exchange
	head     bool   // HEAD request: no body bytes in the answer
	declared int64  // the response's Content-Length, -1 if none: never more goes out
	sent     int64  // response body bytes given to the engine
	cut      bool   // the body disagrees with declared: reset once the allowed bytes are out
	queued   bool   // handed to the host (before, DATA goes into the record); under mu
	body     []byte // DATA received, not yet read by the host
	ended    bool   // END_STREAM received
	reset    bool   // the stream is gone (reset, or the connection ended)
	readable chan struct{}
	writable chan struct{}

	scheme, authority []byte // of the request, for pushes it makes

	ws    *wsSession // RFC 8441: a WebSocket carried in this stream's DATA
	wsOut []byte     // its frames not yet taken by the send window

	// Before the host has it (bodywait.go):
	parked   bool        // waiting for its body before it is queued
	counted  bool        // counts against the connection's worker cap
	opened   time.Time   // when its head came
	lastData time.Time   // when its last DATA came, while parked
	timer    *time.Timer // ends a parked stream whose body stalls or trickles
}

func (c *conn) h2Limits() h2.Limits {
	o := &c.srv.opts
	return h2.Limits{
		MaxHeaderListSize:     uint32(min(o.MaxHeadSize, 1<<30)),
		MaxBodySize:           o.MaxBodySize,
		EnableConnectProtocol: true, // WebSocket over HTTP/2 (RFC 8441) works end to end
	}
}

// serveH2 runs the connection as HTTP/2 from here on. initial holds bytes
// already read (the client preface, perhaps more); up, if not nil, is the
// request of an "Upgrade: h2c" that becomes stream 1.
func (c *conn) serveH2(initial []byte, up *h2Upgrade) {
	hc := &h2conn{c: c, mu: &c.mu, p: h2.NewServerConn(c.h2Limits()), streams: map[uint32]*h2stream{}}
	c.mu.Lock()
	c.h2 = hc
	if up != nil {
		hc.startUpgraded(up)
	}
	c.mu.Unlock()
	writerDone := make(chan struct{})
	go hc.writer(writerDone)
	defer func() {
		c.mu.Lock()
		hc.closing = true
		hc.resetAll()
		failed := c.err != nil
		hc.logResets()
		c.mu.Unlock()
		c.wakeUp()
		<-writerDone
		if !failed {
			// The client may still be sending (a PING after its GOAWAY):
			// a plain close would reset the connection and destroy our
			// last frames in flight.
			lingerClose(c.nc)
		}
	}()

	buf := initial
	for {
		c.mu.Lock()
		if len(buf) > 0 {
			hc.p.Recv(buf, time.Now())
			buf = nil
		}
		done := hc.process()
		fresh := hc.admit() // bodywait.go
		if hc.p.HasOutput() {
			c.wakeUp()
		}
		c.mu.Unlock()
		for _, ex := range fresh {
			if !c.srv.enqueue(ex) {
				return
			}
		}
		if done {
			return
		}
		if !hc.readMore() {
			return
		}
	}
}

// readMore reads into the engine. With no stream open the connection is
// idle: after the keep-alive timeout (or at shutdown) it says GOAWAY.
func (hc *h2conn) readMore() bool {
	c := hc.c
	c.mu.Lock()
	idle := hc.p.OpenStreams() == 0 && len(hc.streams) == 0
	if idle {
		if c.srv.draining.Load() {
			hc.p.GoAway(http2.ErrCodeNo, nil)
			c.mu.Unlock()
			return false
		}
		c.dl.setRead(c.nc, time.Now().Add(c.srv.opts.KeepAliveTimeout))
	} else {
		c.dl.setRead(c.nc, time.Time{})
	}
	c.idle = idle
	buf := hc.p.RecvBuffer(readChunk)
	c.mu.Unlock()
	n, err := c.nc.Read(buf)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = false
	if n > 0 {
		hc.p.Commit(n, time.Now())
		return true
	}
	if isTimeout(err) && idle {
		hc.p.GoAway(http2.ErrCodeNo, nil) // idle: say goodbye properly
		return false
	}
	if err != nil && !isEOF(err) {
		return false
	}
	hc.p.Commit(0, time.Now())
	return true
}

// process runs the engine's events (under mu). It reports whether the
// connection is finished.
func (hc *h2conn) process() bool {
	p := hc.p
	for {
		switch p.Next() {
		case h2.NeedData:
			return false
		case h2.RequestEvent:
			hc.open(p.Request())
		case h2.DataEvent:
			hc.data(p.StreamID(), p.Data())
		case h2.EndStreamEvent:
			if s := hc.streams[p.StreamID()]; s != nil && s.ws != nil {
				s.ws.feed(nil) // the client ended the stream: the transport is gone
				hc.flushWS(s)
			} else if s != nil {
				s.ended = true
				if !s.queued && len(s.body) == 0 {
					s.ex.bodyDone = true // else the host reads the rest first
				}
				hc.unpark(s)
				for _, f := range p.Trailers() {
					s.ex.trailers = append(s.ex.trailers, h1.Field{Name: bytes.Clone(f.Name), Value: bytes.Clone(f.Value)})
				}
				signal(s.readable)
			}
		case h2.ResetEvent:
			hc.resets++
			if s := hc.streams[p.StreamID()]; s != nil {
				s.gone()
				if s.ws != nil {
					s.ws.end(1006, "")
					s.ws.finished = true
					delete(hc.streams, s.id)
				}
			}
		case h2.WindowEvent:
			for _, s := range hc.streams {
				if id := p.StreamID(); id == 0 || id == s.id {
					signal(s.writable)
					if s.ws != nil {
						hc.flushWS(s)
					}
				}
			}
		case h2.GoAwayEvent:
			// The client stops opening streams; the open ones finish.
		case h2.ConnErrorEvent, h2.ClosedEvent:
			return true
		}
	}
}

// open makes the Exchange for a new stream; it is queued after the batch,
// so DATA in the same batch still rides in the record.
func (hc *h2conn) open(req *h2.Request) {
	s := &h2stream{hc: hc, id: req.StreamID, head: string(req.Method) == "HEAD", declared: -1,
		readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
	var offer *ws.Offer
	if len(req.Protocol) > 0 {
		o, herr := ws.CheckOffer(req.Method, coreconn.H2FieldLookup(req.Fields), true)
		if string(req.Protocol) != "websocket" {
			herr = &ws.HandshakeError{Status: 501, Reason: "unknown :protocol"}
		}
		if herr != nil {
			hc.refuse(req.StreamID, herr)
			return
		}
		offer = &o
		// The app sees the same request as over HTTP/1.1 (RFC 8441 5).
		req.Method = []byte("GET")
	}
	ex := &Exchange{b: s, srv: hc.c.srv, head: hc.packHead(req), bodyDone: req.EndStream, offer: offer, flags: reqTrailers}
	if offer != nil {
		ex.flags |= reqWebSocket
	}
	if hc.p.PushEnabled() {
		ex.flags |= reqPush
	}
	s.scheme, s.authority = bytes.Clone(req.Scheme), bytes.Clone(req.Authority)
	s.ex, s.ended, s.opened = ex, req.EndStream, time.Now()
	ex.unsized = req.ContentLength < 0
	hc.streams[req.StreamID] = s
	exchanges.add(ex)
	hc.fresh = append(hc.fresh, ex)
}

func (hc *h2conn) data(id uint32, d []byte) {
	s := hc.streams[id]
	if s != nil && s.ws != nil {
		// WebSocket frames; the session's inbox bounds what waits for the
		// app, the message limit bounds each message.
		s.ws.feed(d)
		hc.p.Consumed(id, len(d))
		return
	}
	if s == nil || s.reset {
		// The host is done with the stream: give the window back at once.
		hc.p.Consumed(id, len(d))
		return
	}
	if s.parked {
		s.ex.clock.bytes += int64(len(d))
		s.lastData = time.Now()
	}
	if !s.queued && len(s.body) == 0 && len(s.ex.pending)+len(d) <= hc.c.srv.opts.PrefetchSize {
		s.ex.pending = append(s.ex.pending, d...)
		hc.p.Consumed(id, len(d)) // it reaches the host with the record
	} else {
		s.body = append(s.body, d...)
		signal(s.readable)
	}
	hc.unpark(s)
}

// packHead lays out an HTTP/2 request like an HTTP/1.1 one; :authority
// becomes a Host field when the client sent none, as gateways expect.
func (hc *h2conn) packHead(req *h2.Request) []byte {
	path, query, _ := bytes.Cut(req.Path, []byte{'?'})
	b := make([]byte, 0, 128+len(req.Path)+len(req.Authority))
	b = append(b, req.Method...)
	b = append(b, 0)
	b = append(b, path...)
	b = append(b, 0)
	b = append(b, query...)
	b = append(b, "\x00HTTP/2.0\x00"...)
	b = append(b, hc.c.addrs...)
	hasHost := false
	for _, f := range req.Fields {
		if string(f.Name) == "host" {
			hasHost = true
			break
		}
	}
	if !hasHost && len(req.Authority) > 0 {
		b = append(b, "\x00host\x00"...)
		b = append(b, req.Authority...)
	}
	for _, f := range req.Fields {
		b = append(b, 0)
		b = append(b, f.Name...)
		b = append(b, 0)
		b = append(b, f.Value...)
	}
	return b
}

// resetAll ends every stream: the connection is over (under mu).
func (hc *h2conn) resetAll() {
	hc.dead = true
	for _, s := range hc.streams {
		s.gone()
		if s.ws != nil {
			s.ws.end(1006, "")
		}
	}
	hc.backlog = nil
}

func (s *h2stream) gone() {
	if ex := s.ex; ex != nil && ex.watchGone && !ex.finished {
		ex.watchGone = false
		ex.srv.post(hostEvent{ex: ex, typ: EvBody, err: ErrIO})
	}
	s.reset = true
	signal(s.readable)
	signal(s.writable)
	if ex := s.ex; ex != nil && !ex.handed && !ex.finished {
		s.hc.dropUnseen(s) // bodywait.go: the host never sees it
	}
}

// writer flushes the engine's output until the reader is done.
func (hc *h2conn) writer(done chan struct{}) {
	defer close(done)
	c := hc.c
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.srv.kill:
			c.nc.Close()
			return
		}
		c.mu.Lock()
		buf = hc.p.Output(buf[:0])
		hc.inFlight = len(buf)
		closing := hc.closing
		c.mu.Unlock()
		if len(buf) > 0 {
			c.dl.setWrite(c.nc, time.Now().Add(c.srv.opts.BodyTimeout))
			if _, err := c.nc.Write(buf); err != nil {
				c.mu.Lock()
				c.err = err
				hc.resetAll()
				c.mu.Unlock()
				c.nc.Close() // wakes the reader
				return
			}
			c.mu.Lock()
			hc.inFlight = 0
			if hc.stalled && !hc.overWater() {
				hc.stalled = false
				hc.wakeSenders()
			}
			c.mu.Unlock()
		}
		if cap(buf) > keepBufferCap {
			buf = nil
		}
		signal(c.flushed)
		if closing {
			return
		}
	}
}

// overWater: the client has not taken what was written; DATA waits (under mu).
func (hc *h2conn) overWater() bool { return hc.p.OutputLen()+hc.inFlight > outHighWater }

// room is how much of p may become DATA now, given the output waiting for
// the client; a sender left with less waits for wakeSenders (under mu).
func (hc *h2conn) room(p []byte) []byte {
	n := min(len(p), outHighWater)
	if hc.overWater() {
		n = 0
	}
	if n < len(p) {
		hc.stalled = true
	}
	return p[:n]
}

// wakeSenders tells the streams that wait for the writer to go on (under mu).
func (hc *h2conn) wakeSenders() {
	for _, s := range hc.streams {
		signal(s.writable)
		if s.ws != nil {
			hc.flushWS(s)
		}
	}
}

// beginDrain: GOAWAY now; streams in flight finish.
func (hc *h2conn) beginDrain() {
	hc.p.GoAway(http2.ErrCodeNo, nil)
	for _, s := range hc.streams {
		if s.ws != nil {
			s.ws.close(1001, "server shutting down")
			s.wsClosing()
		}
	}
	hc.c.wakeUp()
	if len(hc.streams) == 0 {
		hc.c.dl.forceRead(hc.c.nc, time.Unix(1, 0))
	}
}

// ---- the stream as an Exchange backend (host threads) ----

func (s *h2stream) lock()   { s.hc.mu.Lock() }
func (s *h2stream) unlock() { s.hc.mu.Unlock() }

func (s *h2stream) read(ex *Exchange, dst []byte, timeout time.Duration) (int, error) {
	hc := s.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if len(ex.pending) > 0 {
		n := copy(dst, ex.pending)
		ex.pending = ex.pending[n:]
		return n, nil
	}
	// The app's own timeout only ends this call; body_timeout and
	// min_body_rate end the request (bodywait.go).
	var appDeadline time.Time
	if timeout >= 0 {
		appDeadline = time.Now().Add(timeout)
	}
	var n int
	for {
		if len(s.body) > 0 {
			n = copy(dst, s.body)
			ex.clock.bytes += int64(n)
			s.body = s.body[n:]
			hc.p.Consumed(s.id, n) // real backpressure: the window opens as the app reads
			if hc.p.HasOutput() {
				hc.c.wakeUp()
			}
			return n, nil
		}
		if s.ended {
			ex.bodyDone = true
			return 0, nil
		}
		if s.reset || ex.finished { // finished: the request timed out meanwhile
			return 0, ErrIO
		}
		start := time.Now()
		allow, why := ex.clock.left(&hc.c.srv.opts, 0)
		if !appDeadline.IsZero() && appDeadline.Sub(start) < allow {
			allow, why = max(appDeadline.Sub(start), 0), ErrTimeout
		}
		t := time.NewTimer(allow)
		hc.mu.Unlock()
		expired := false
		select {
		case <-s.readable:
		case <-t.C:
			expired = true
		}
		t.Stop()
		hc.mu.Lock()
		ex.clock.waited += time.Since(start)
		if expired && len(s.body) == 0 && !s.ended && !s.reset && !ex.finished {
			if why != ErrTimeout {
				ex.slowBodyLog(hc.c.addrs, "RST_STREAM CANCEL", why)
				hc.p.Reset(s.id, http2.ErrCodeCancel)
				s.gone()
				ex.finish()
				hc.c.wakeUp()
			}
			return 0, why
		}
	}
}

func (s *h2stream) respond(ex *Exchange, head, body []byte, end bool) error {
	hc := s.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if ex.started || ex.finished {
		return ErrState
	}
	if s.reset {
		ex.finish()
		return ErrIO
	}
	status, fs, err := hc.responseHead(head)
	if err != nil {
		return err
	}
	s.declared = -1
	if s.head {
		body = nil
	} else if status != 204 && status != 304 {
		if v, ok := h2FieldValue(fs, "content-length"); !ok {
			if end {
				fs = append(fs, h2.Field{Name: []byte("content-length"), Value: strconv.AppendInt(nil, int64(len(body)), 10)})
			}
		} else if n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil && n >= 0 {
			s.declared = n
		}
	}
	trailersLater := end && len(ex.respTrailers) > 0
	endOnHeaders := end && len(body) == 0 && !trailersLater && s.declared <= 0
	if err := hc.p.Respond(s.id, status, fs, endOnHeaders); err != nil {
		if err == h2.ErrHeader {
			return ErrHeader
		}
		ex.finish()
		return ErrIO
	}
	ex.started = true
	hc.c.wakeUp()
	if endOnHeaders {
		ex.finish()
		return nil
	}
	if len(body) > 0 || end {
		return s.send(ex, body, end)
	}
	return nil
}

// h2FieldValue finds a field by its lower-case name.
func h2FieldValue(fs []h2.Field, lowerName string) ([]byte, bool) {
	for _, f := range fs {
		if len(f.Name) == len(lowerName) && bytes.EqualFold(f.Name, []byte(lowerName)) {
			return f.Value, true
		}
	}
	return nil, false
}

// responseHead turns the host's packed head into a status and h2 fields
// (the engine lowercases names and drops connection-specific fields).
func (hc *h2conn) responseHead(head []byte) (int, []h2.Field, error) {
	line, rest, _ := bytes.Cut(head, []byte{0})
	code, _, _ := bytes.Cut(line, []byte{' '})
	status, err := strconv.Atoi(string(code))
	if len(code) != 3 || err != nil || status < 200 {
		return 0, nil, ErrHeader
	}
	fs := hc.fields[:0]
	for len(rest) > 0 {
		var name, value []byte
		name, rest, _ = bytes.Cut(rest, []byte{0})
		value, rest, _ = bytes.Cut(rest, []byte{0})
		fs = append(fs, h2.Field{Name: name, Value: value})
	}
	if !hasH2Field(fs, "date") {
		fs = append(fs, h2.Field{Name: []byte("date"), Value: hc.c.srv.date.get()})
	}
	if sh := hc.c.srv.opts.ServerHeader; sh != "" && !hasH2Field(fs, "server") {
		fs = append(fs, h2.Field{Name: []byte("server"), Value: []byte(sh)})
	}
	hc.fields = fs
	return status, fs, nil
}

func hasH2Field(fs []h2.Field, lower string) bool {
	for _, f := range fs {
		if len(f.Name) == len(lower) && bytes.EqualFold(f.Name, []byte(lower)) {
			return true
		}
	}
	return false
}

// send pushes body bytes through the stream and connection windows,
// waiting (without the lock) while the client's window is closed; in
// nowait mode it hands the wait to a goroutine instead (ErrPending). Under mu.
func (s *h2stream) send(ex *Exchange, data []byte, end bool) error {
	return s.sendMode(ex, data, end, ex.nowait)
}

// sendWaiting is send that waits whatever the mode (under mu).
func (s *h2stream) sendWaiting(ex *Exchange, data []byte, end bool) error {
	return s.sendMode(ex, data, end, false)
}

func (s *h2stream) sendMode(ex *Exchange, data []byte, end, nowait bool) error {
	hc := s.hc
	if s.head {
		data = data[:0]
	}
	if s.declared >= 0 && !s.cut {
		// Never past the declared length; a body that ends short or runs
		// over is cut with RST_STREAM once the allowed bytes are out.
		gave := s.sent + int64(len(data))
		if left := s.declared - s.sent; int64(len(data)) > left {
			data, s.cut = data[:left], true
		} else if end && int64(len(data)) < left {
			s.cut = true
		}
		if s.cut {
			hc.c.srv.reportLength(ex, s.declared, gave)
		}
	}
	if s.cut {
		end = false
	}
	trailers := end && len(ex.respTrailers) > 0
	for {
		chunk := hc.room(data)
		n, err := hc.p.SendData(s.id, chunk, end && !trailers && len(chunk) == len(data))
		if err != nil {
			ex.finish()
			return ErrIO
		}
		s.sent += int64(n)
		data = data[n:]
		if n > 0 || end {
			// An empty final DATA frame (END_STREAM) must go out too.
			hc.c.wakeUp()
		}
		if len(data) == 0 {
			if s.cut {
				hc.p.Reset(s.id, http2.ErrCodeInternal)
				hc.c.wakeUp()
				ex.finish()
				return ErrLength
			}
			if trailers {
				if err = hc.p.SendTrailers(s.id, h2Fields(ex.respTrailers)); err != nil {
					// The stream must not stay open without its end.
					hc.p.Reset(s.id, http2.ErrCodeInternal)
				}
				hc.c.wakeUp()
			}
			if end {
				ex.finish()
			}
			if err != nil {
				return ErrHeader
			}
			return nil
		}
		if nowait {
			// Event mode: the rest goes out from a goroutine as the
			// client opens its window; EvWritten tells the host.
			// The end of a response is the library's to finish: no event.
			rest := bytes.Clone(data)
			go func() {
				hc.mu.Lock()
				err := s.sendWaiting(ex, rest, end)
				hc.mu.Unlock()
				if !end {
					ex.srv.post(hostEvent{ex: ex, typ: EvWritten, err: err})
				}
			}()
			if end {
				return nil
			}
			return ErrPending
		}
		hc.mu.Unlock()
		t := time.NewTimer(hc.c.srv.opts.BodyTimeout)
		stalled := false
		select {
		case <-s.writable:
		case <-t.C:
			stalled = true
		case <-hc.c.srv.kill:
		}
		t.Stop()
		hc.mu.Lock()
		if stalled && !s.reset && !hc.dead {
			// A client that keeps its window shut for a whole body timeout
			// (a zero-window stall) would hold the app's thread forever.
			hc.p.Reset(s.id, http2.ErrCodeCancel)
			s.gone()
			hc.c.wakeUp()
		}
		if s.reset || hc.dead {
			ex.finish()
			return ErrIO
		}
	}
}

func (s *h2stream) write(ex *Exchange, data []byte, end bool) error {
	s.hc.mu.Lock()
	defer s.hc.mu.Unlock()
	if !ex.started || ex.finished {
		return ErrState
	}
	if s.reset {
		ex.finish()
		return ErrIO
	}
	return s.send(ex, data, end)
}

func (s *h2stream) abort(ex *Exchange, status int) error {
	hc := s.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if ex.finished {
		return ErrState
	}
	if !ex.started && !s.reset {
		fs := []h2.Field{{Name: []byte("content-length"), Value: []byte("0")}}
		if hc.p.Respond(s.id, status, fs, true) == nil {
			ex.started = true
			ex.finish()
			hc.c.wakeUp()
			return nil
		}
	}
	hc.p.Reset(s.id, http2.ErrCodeInternal)
	ex.finish()
	hc.c.wakeUp()
	return nil
}

func h2Fields(fs []h1.Field) []h2.Field {
	out := make([]h2.Field, len(fs))
	for i, f := range fs {
		out[i] = h2.Field{Name: f.Name, Value: f.Value}
	}
	return out
}

// earlyHints sends a 103 on the stream before its response.
func (s *h2stream) earlyHints(ex *Exchange, fields []h1.Field) error {
	hc := s.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if ex.started || ex.finished {
		return ErrState
	}
	if err := hc.p.Informational(s.id, 103, h2Fields(fields)); err != nil {
		if err == h2.ErrHeader {
			return ErrHeader
		}
		return ErrState
	}
	hc.c.wakeUp()
	return nil
}

// push promises a GET on the stream (PUSH_PROMISE) and queues the promised
// request for the host like any other.
func (s *h2stream) push(ex *Exchange, path []byte, fields []h1.Field) error {
	hc := s.hc
	hc.mu.Lock()
	if ex.finished || s.reset || !hc.p.PushEnabled() {
		hc.mu.Unlock()
		return ErrState
	}
	fs := h2Fields(fields)
	id, err := hc.p.Push(s.id, []byte("GET"), s.scheme, s.authority, path, fs)
	if err != nil {
		hc.mu.Unlock()
		if err == h2.ErrHeader {
			return ErrHeader
		}
		return ErrState
	}
	req := &h2.Request{StreamID: id, Method: []byte("GET"), Scheme: s.scheme, Authority: s.authority,
		Path: path, Fields: fs, EndStream: true, ContentLength: -1}
	hc.open(req)
	pushed := hc.fresh[len(hc.fresh)-1]
	hc.fresh = hc.fresh[:len(hc.fresh)-1]
	pushed.flags = (pushed.flags | reqPushed | reqBodyComplete) &^ reqPush
	pushed.b.(*h2stream).queued = true
	hc.c.wakeUp()
	hc.mu.Unlock()
	// Never block the app's thread on a full queue: refuse the push.
	select {
	case hc.c.srv.queue <- pushed:
		hc.c.srv.ready.wake()
		return nil
	default:
		hc.mu.Lock()
		hc.p.Reset(id, http2.ErrCodeRefusedStream)
		pushed.finish()
		hc.mu.Unlock()
		hc.c.wakeUp()
		return ErrState
	}
}

// release forgets the stream (under mu): DATA still arriving for it is
// acknowledged at once so it does not hold the connection window.
func (s *h2stream) release(ex *Exchange) {
	if s.counted {
		s.counted = false
		s.hc.active--
		s.hc.promote() // bodywait.go
	}
	if s.ws != nil {
		return // the stream carries the WebSocket on
	}
	if len(s.body) > 0 {
		s.hc.p.Consumed(s.id, len(s.body))
		s.body = nil
	}
	delete(s.hc.streams, s.id)
}

// acceptWebSocket answers the extended CONNECT with 200 (RFC 8441 5); from
// then on the stream's DATA carries the WebSocket's frames.
func (s *h2stream) acceptWebSocket(ex *Exchange, subprotocol string, extra []byte) error {
	hc := s.hc
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if ex.offer == nil || ex.started || ex.finished {
		return ErrState
	}
	if hc.c.srv.draining.Load() {
		return ErrClosed
	}
	if s.reset {
		ex.finish()
		return ErrIO
	}
	neg, err := ws.Negotiate(*ex.offer, subprotocol, true)
	if err != nil {
		return ErrHeader
	}
	fs := []h2.Field{{Name: []byte("date"), Value: hc.c.srv.date.get()}}
	if neg.Subprotocol != "" {
		fs = append(fs, h2.Field{Name: []byte("sec-websocket-protocol"), Value: []byte(neg.Subprotocol)})
	}
	if neg.ResponseExtensions != "" {
		fs = append(fs, h2.Field{Name: []byte("sec-websocket-extensions"), Value: []byte(neg.ResponseExtensions)})
	}
	for rest := extra; len(rest) > 0; {
		var name, value []byte
		name, rest, _ = bytes.Cut(rest, []byte{0})
		value, rest, _ = bytes.Cut(rest, []byte{0})
		fs = append(fs, h2.Field{Name: bytes.Clone(name), Value: bytes.Clone(value)})
	}
	if err := hc.p.Respond(s.id, 200, fs, false); err != nil {
		return ErrHeader
	}
	ex.started = true
	s.ws = newWSSession(neg, &hc.c.srv.opts, func() { hc.flushWS(s) })
	s.ws.onDrop = s.wsDrop
	s.ws.startKeepalive(hc.c.srv.opts.WSPingInterval, hc.c.srv.opts.WSPingTimeout, hc.mu, s.wsClosing)
	ex.ws = s.ws
	ex.finish()
	hc.c.wakeUp()
	return nil
}

// flushWS moves the session's frames into DATA as far as the send windows
// allow, and ends the stream once the session is over (under mu).
func (hc *h2conn) flushWS(s *h2stream) {
	if s.reset {
		return
	}
	for {
		if len(s.wsOut) == 0 {
			// Taken only once what was taken is out: for a client that
			// does not read, output waits in the endpoint's blocks.
			s.wsOut = s.ws.takeOutput(s.wsOut)
		}
		chunk := hc.room(s.wsOut)
		end := s.ws.finished && len(chunk) == len(s.wsOut) && !s.ws.ep.HasOutput()
		n, err := hc.p.SendData(s.id, chunk, end)
		if err != nil {
			s.gone()
			return
		}
		s.ws.ep.Sent(n)
		s.wsOut = s.wsOut[:copy(s.wsOut, s.wsOut[n:])]
		if end && len(s.wsOut) == 0 {
			delete(hc.streams, s.id)
			break
		}
		if n == 0 || len(s.wsOut) > 0 || !s.ws.ep.HasOutput() {
			break
		}
	}
	hc.c.wakeUp()
	signal(hc.c.flushed)
}

func (s *h2stream) flushWSNow(ws *wsSession) { s.hc.flushWS(s) }

func (s *h2stream) overWater(pending func() int) bool {
	return pending()+len(s.wsOut) > outHighWater && !s.reset && !s.hc.dead
}

func (s *h2stream) waitDrained(pending func() int) {
	hc := s.hc
	for pending()+len(s.wsOut) > outHighWater && !s.reset && !hc.dead {
		hc.mu.Unlock()
		select {
		case <-s.writable:
		case <-hc.c.srv.kill:
		}
		hc.mu.Lock()
	}
}

// wsDrop resets the stream of a session dropped for a client that does not
// read (wsSession.drop), letting go of what it held to send (under mu).
func (s *h2stream) wsDrop() {
	s.wsOut = nil
	if !s.reset && !s.hc.dead {
		s.hc.p.Reset(s.id, http2.ErrCodeCancel)
	}
	s.gone()
	delete(s.hc.streams, s.id)
	s.hc.c.wakeUp()
}

// wsClosing resets the stream if the client does not answer our close.
func (s *h2stream) wsClosing() {
	time.AfterFunc(closeWait, func() {
		s.hc.mu.Lock()
		defer s.hc.mu.Unlock()
		if s.ws != nil && !s.ws.finished && !s.reset {
			s.hc.p.Reset(s.id, http2.ErrCodeCancel)
			s.ws.end(1006, "")
			s.ws.finished = true
			s.gone()
			delete(s.hc.streams, s.id)
			s.hc.c.wakeUp()
		}
	})
}

// refuse answers a broken extended CONNECT itself (under mu).
func (hc *h2conn) refuse(id uint32, herr *ws.HandshakeError) {
	fs := []h2.Field{{Name: []byte("content-type"), Value: []byte("text/plain")}}
	for _, f := range herr.Fields {
		fs = append(fs, h2.Field{Name: []byte(f[0]), Value: []byte(f[1])})
	}
	body := []byte(herr.Reason + "\n")
	if hc.p.Respond(id, herr.Status, fs, false) == nil {
		hc.p.SendData(id, body, true)
	}
}

// h2Upgrade is an "Upgrade: h2c" request switching to HTTP/2.
type h2Upgrade struct {
	settings []byte // the decoded HTTP2-Settings
	req      h2.Request
}

// startUpgraded makes stream 1 from the upgraded request (under mu).
func (hc *h2conn) startUpgraded(up *h2Upgrade) {
	if err := hc.p.Upgrade(up.settings, &up.req); err != nil {
		return
	}
	hc.open(&up.req)
}
