package conn

import (
	"bytes"
	"strconv"

	"golang.org/x/net/http2"

	"github.com/portico-http/portico/core/h2"
	"github.com/portico-http/portico/core/ws"
)

// HTTP/2: the engine's streams, plus what the host set on them (trailers)
// and the WebSocket sessions carried in their DATA.

type stream struct {
	id                uint32
	scheme, authority []byte // of the request, for the pushes it makes
	trailers          []h2.Field
	offer             *ws.Offer

	ws       *ws.Endpoint
	wsOut    []byte // session bytes not yet taken by the send window
	wsDone   bool   // the session ended; the stream ends once wsOut is sent
	reported bool   // the host was told with WSClose

	head     bool  // a HEAD request: its Content-Length describes no body here
	declared int64 // the response's Content-Length, -1 if none: never more goes out
	sent     int64 // response body bytes sent
}

func (c *Conn) startH2() {
	c.mode = modeH2
	c.streams = map[uint32]*stream{}
	c.p2 = h2.NewServerConn(h2.Limits{
		MaxConcurrentStreams:  c.cfg.H2MaxStreams,
		MaxHeaderListSize:     uint32(min(max(c.cfg.MaxHeadSize, 0), 1<<30)),
		InitialWindowSize:     c.cfg.H2InitialWind,
		MaxBodySize:           c.cfg.MaxBodySize,
		EnableConnectProtocol: true, // WebSocket over HTTP/2 (RFC 8441)
	})
}

func (c *Conn) nextH2() {
	p := c.p2
	for {
		// Sessions fed by earlier DATA speak first.
		for len(c.ready) > 0 {
			id := c.ready[0]
			s := c.streams[id]
			if s == nil || s.ws == nil {
				c.ready = c.ready[1:]
				continue
			}
			ev, ok := wsEvent(s.ws, id, &s.reported)
			if s.ws.Dropped() {
				// A client that does not read: the stream is reset and
				// what waits for it goes.
				delete(c.streams, id)
				c.p2.Reset(id, http2.ErrCodeCancel)
				if ok {
					c.ev = ev
					return
				}
				continue
			}
			if ev.Kind == Closed {
				s.wsDone = true
				c.flushWS(s)
				if !s.reported {
					s.reported = true
					c.ev = Event{Kind: WSClose, Stream: id, Code: s.ws.CloseCode()}
					return
				}
				continue
			}
			c.flushWS(s) // a pong or a close reply may be queued
			if ok {
				c.ev = ev
				return
			}
			if ev.Kind == NeedData {
				c.ready = c.ready[1:]
			}
		}
		switch p.Next() {
		case h2.NeedData:
			return
		case h2.RequestEvent:
			if c.openH2(p.Request()) {
				return
			}
		case h2.DataEvent:
			id, d := p.StreamID(), p.Data()
			p.Consumed(id, len(d)) // the host takes it now; it applies backpressure by not polling
			if s := c.streams[id]; s != nil && s.ws != nil {
				s.ws.Recv(d)
				c.ready = append(c.ready, id)
				continue
			}
			c.ev = Event{Kind: Data, Stream: id, Data: d}
			return
		case h2.EndStreamEvent:
			id := p.StreamID()
			if s := c.streams[id]; s != nil && s.ws != nil {
				s.ws.Recv(nil) // the client ended the stream: the transport is gone
				c.ready = append(c.ready, id)
				continue
			}
			var tr []Field
			for _, f := range p.Trailers() {
				tr = append(tr, Field(f))
			}
			c.ev = Event{Kind: End, Stream: id, Trailers: tr}
			return
		case h2.ResetEvent:
			id := p.StreamID()
			delete(c.streams, id)
			c.ev = Event{Kind: Reset, Stream: id, Code: int(p.ErrCode())}
			return
		case h2.WindowEvent:
			id := p.StreamID()
			for sid, s := range c.streams {
				if s.ws != nil && (id == 0 || id == sid) {
					c.flushWS(s)
				}
			}
			c.ev = Event{Kind: Writable, Stream: id}
			return
		case h2.GoAwayEvent:
			c.ev = Event{Kind: GoAway, Stream: p.StreamID(), Code: int(p.ErrCode())}
			return
		default: // ConnErrorEvent, ClosedEvent
			c.finish()
			return
		}
	}
}

// openH2 reports a new stream's request, or answers a broken extended
// CONNECT itself (false: nothing to report).
func (c *Conn) openH2(r *h2.Request) bool {
	s := &stream{id: r.StreamID, scheme: bytes.Clone(r.Scheme), authority: bytes.Clone(r.Authority),
		head: string(r.Method) == "HEAD", declared: -1}
	method := r.Method
	if len(r.Protocol) > 0 {
		o, herr := ws.CheckOffer(r.Method, H2FieldLookup(r.Fields), true)
		if string(r.Protocol) != "websocket" {
			herr = &ws.HandshakeError{Status: 501, Reason: "unknown :protocol"}
		}
		if herr != nil {
			c.refuse2(r.StreamID, herr)
			return false
		}
		s.offer = &o
		method = []byte("GET") // the host sees the same request as over HTTP/1.1 (RFC 8441 5)
	}
	c.streams[r.StreamID] = s
	path, query, _ := bytes.Cut(r.Path, []byte{'?'})
	c.fields = c.fields[:0]
	for _, f := range r.Fields {
		c.fields = append(c.fields, Field(f))
	}
	c.req = Req{Method: method, Scheme: r.Scheme, Authority: r.Authority, Path: path, Query: query,
		Proto: "HTTP/2.0", Fields: c.fields, WebSocket: s.offer != nil, Trailers: true,
		Push: c.p2.PushEnabled(), EndStream: r.EndStream}
	c.ev = Event{Kind: Request, Stream: r.StreamID, Req: &c.req}
	if r.EndStream {
		// The engine reports no end for a request without a body; the host
		// gets one anyway, so every protocol looks the same.
		c.q = append(c.q, Event{Kind: End, Stream: r.StreamID})
	}
	return true
}

func (c *Conn) refuse2(id uint32, herr *ws.HandshakeError) {
	fs := []h2.Field{{Name: []byte("content-type"), Value: []byte("text/plain")}}
	for _, f := range herr.Fields {
		fs = append(fs, h2.Field{Name: bytes.ToLower([]byte(f[0])), Value: []byte(f[1])})
	}
	if c.p2.Respond(id, herr.Status, fs, false) == nil {
		c.p2.SendData(id, []byte(herr.Reason+"\n"), true)
	}
}

func h2Fields(fs []Field) []h2.Field {
	out := make([]h2.Field, len(fs))
	for i, f := range fs {
		out[i] = h2.Field(f)
	}
	return out
}

func mapH2(err error) error {
	switch err {
	case nil:
		return nil
	case h2.ErrStreamClosed:
		return ErrStream
	case h2.ErrHeader:
		return ErrHeader
	case h2.ErrConnClosed:
		return ErrClosed
	}
	return ErrState
}

func (c *Conn) respond2(id uint32, status int, fields []Field, body []byte, end bool) (int, error) {
	s := c.streams[id]
	if s != nil && s.ws != nil {
		return 0, ErrState
	}
	if s != nil && !s.head && status != 204 && status != 304 {
		s.declared = declaredLength(fields)
	}
	// A declared length the end does not meet is the stream's to reset (write2).
	endOnHeaders := end && len(body) == 0 && (s == nil || s.trailers == nil && s.declared <= 0)
	if err := c.p2.Respond(id, status, h2Fields(fields), endOnHeaders); err != nil {
		return 0, mapH2(err)
	}
	if endOnHeaders {
		delete(c.streams, id)
		return 0, nil
	}
	if len(body) == 0 && !end {
		return 0, nil
	}
	return c.write2(id, body, end)
}

// declaredLength is the Content-Length among fields, or -1.
func declaredLength(fields []Field) int64 {
	for _, f := range fields {
		if bytes.EqualFold(f.Name, []byte("content-length")) {
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(f.Value)), 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

func (c *Conn) write2(id uint32, p []byte, end bool) (int, error) {
	s := c.streams[id]
	if s != nil && s.ws != nil {
		return 0, ErrState
	}
	tr := s != nil && s.trailers != nil
	cut := false
	if s != nil && s.declared >= 0 {
		// Never past the declared length; a body that runs over or ends
		// short is reset (INTERNAL_ERROR) once the allowed bytes are out.
		if left := s.declared - s.sent; int64(len(p)) > left {
			p, cut = p[:left], true
		} else if end && int64(len(p)) < left {
			cut = true
		}
	}
	n, err := c.p2.SendData(id, p, end && !tr && !cut)
	if err != nil {
		return 0, mapH2(err)
	}
	if s != nil {
		s.sent += int64(n)
	}
	if cut && n == len(p) {
		c.p2.Reset(id, http2.ErrCodeInternal)
		delete(c.streams, id)
		return n, ErrLength
	}
	if end && n == len(p) {
		if tr {
			if err := c.p2.SendTrailers(id, s.trailers); err != nil {
				return n, mapH2(err)
			}
		}
		delete(c.streams, id)
	}
	return n, nil
}

func (c *Conn) accept2(id uint32, subprotocol string, extra []Field) error {
	s := c.streams[id]
	if s == nil {
		return ErrStream
	}
	if s.offer == nil || s.ws != nil {
		return ErrState
	}
	neg, err := ws.Negotiate(*s.offer, subprotocol, true)
	if err != nil {
		return ErrHeader
	}
	var fs []h2.Field
	if neg.Subprotocol != "" {
		fs = append(fs, h2.Field{Name: []byte("sec-websocket-protocol"), Value: []byte(neg.Subprotocol)})
	}
	if neg.ResponseExtensions != "" {
		fs = append(fs, h2.Field{Name: []byte("sec-websocket-extensions"), Value: []byte(neg.ResponseExtensions)})
	}
	fs = append(fs, h2Fields(extra)...)
	if err := c.p2.Respond(id, 200, fs, false); err != nil {
		return mapH2(err)
	}
	s.ws = ws.NewEndpoint(c.wsLimits(), neg)
	return nil
}

// flushWS moves a session's frames into DATA as far as the send windows
// allow, and ends the stream once the session is over.
func (c *Conn) flushWS(s *stream) {
	if s == nil || s.ws == nil {
		return
	}
	s.wsOut = s.ws.Output(s.wsOut)
	id := s.id
	if c.streams[id] != s {
		return // reset meanwhile
	}
	n, err := c.p2.SendData(id, s.wsOut, s.wsDone)
	if err != nil {
		delete(c.streams, id)
		return
	}
	s.ws.Sent(n)
	s.wsOut = s.wsOut[:copy(s.wsOut, s.wsOut[n:])]
	if s.wsDone && len(s.wsOut) == 0 {
		delete(c.streams, id)
	}
}

func (c *Conn) push2(id uint32, path []byte, fields []Field) (uint32, error) {
	s := c.streams[id]
	if s == nil {
		return 0, ErrStream
	}
	pid, err := c.p2.Push(id, []byte("GET"), s.scheme, s.authority, path, h2Fields(fields))
	if err == h2.ErrPushDisabled {
		return 0, ErrState
	}
	if err != nil {
		return 0, mapH2(err)
	}
	c.streams[pid] = &stream{id: pid, scheme: s.scheme, authority: s.authority, declared: -1}
	return pid, nil
}

func (c *Conn) reset2(id uint32) error {
	delete(c.streams, id)
	return mapH2(c.p2.Reset(id, http2.ErrCodeCancel))
}
