package conn

import (
	"bytes"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/ws"
)

// HTTP/1.x: one request at a time, stream ids 1, 2, 3... in order.

func (c *Conn) startH1() {
	c.mode = modeH1
	c.p1 = h1.NewConn(h1.Limits{MaxHeadSize: c.cfg.MaxHeadSize, MaxBodySize: c.cfg.MaxBodySize})
}

func (c *Conn) nextH1() {
	for {
		if c.open1 && !c.resp1 {
			// The host pulls on while it has not answered: it reads the body,
			// so the client that asked may send it (RFC 9110 10.1.1).
			c.out = c.p1.WriteContinue(c.out)
		}
		switch c.p1.Next() {
		case h1.NeedData, h1.Paused:
			return
		case h1.RequestEvent:
			r := c.p1.Request()
			if !c.cfg.TLS && !c.cfg.NoH2CUpgrade {
				if settings, ok := H2CSettings(r); ok {
					c.upgradeH2(r, settings)
					c.nextH2()
					return
				}
			}
			c.id1++
			c.open1, c.body1, c.resp1, c.trail1, c.offer1 = true, true, false, nil, nil
			c.fillReq1(r)
			if r.Upgrade != nil && h1.HasToken(r.Upgrade, "websocket") {
				offer, herr := ws.CheckOffer(r.Method, FieldLookup(r.Fields), false)
				if herr != nil {
					c.refuse1(herr)
					continue
				}
				c.offer1 = &offer
				c.req.WebSocket = true
			}
			c.ev = Event{Kind: Request, Stream: c.id1, Req: &c.req}
			return
		case h1.DataEvent:
			c.ev = Event{Kind: Data, Stream: c.id1, Data: c.p1.Data()}
			return
		case h1.EndOfMessage:
			c.body1 = false
			var tr []Field
			for _, f := range c.p1.Trailers() {
				tr = append(tr, Field(f))
			}
			if !c.open1 {
				continue // the end of a body the engine answered itself
			}
			c.ev = Event{Kind: End, Stream: c.id1, Trailers: tr}
			return
		case h1.ErrorEvent:
			if !c.eof {
				c.out = c.p1.WriteError(c.out)
			}
			if c.open1 {
				c.open1 = false
				c.q = append(c.q, Event{Kind: Closed})
				c.ev = Event{Kind: Reset, Stream: c.id1, Code: 1}
				c.finished, c.reported, c.mode = true, true, modeDone
				return
			}
			c.finish()
			return
		default: // Closed
			if c.open1 {
				c.open1 = false
				c.q = append(c.q, Event{Kind: Closed})
				c.ev = Event{Kind: Reset, Stream: c.id1, Code: 8}
				c.finished, c.reported, c.mode = true, true, modeDone
				return
			}
			c.finish()
			return
		}
	}
}

func (c *Conn) fillReq1(r *h1.Request) {
	c.fields = c.fields[:0]
	for _, f := range r.Fields {
		c.fields = append(c.fields, Field(f))
	}
	proto := "HTTP/1.1"
	if r.Minor == 0 {
		proto = "HTTP/1.0"
	}
	scheme := "http"
	if c.cfg.TLS {
		scheme = "https"
	}
	c.req = Req{Method: r.Method, Scheme: []byte(scheme), Authority: r.Authority, Path: r.Path, Query: r.Query,
		Proto: proto, Fields: c.fields, ExpectContinue: r.Expect100, Chunked: r.Chunked,
		Trailers: r.Minor >= 1 && TETrailers(r.Fields), EndStream: !r.Chunked && r.ContentLength <= 0}
}

// refuse1 answers a broken WebSocket handshake itself (426 with the versions
// we speak, 400, 405) and closes: the host never sees it.
func (c *Conn) refuse1(herr *ws.HandshakeError) {
	fs := []h1.Field{{Name: []byte("Content-Type"), Value: []byte("text/plain")}, {Name: []byte("Connection"), Value: []byte("close")}}
	for _, f := range herr.Fields {
		fs = append(fs, h1.Field{Name: []byte(f[0]), Value: []byte(f[1])})
	}
	out, err := c.p1.WriteResponse(c.out, &h1.Response{Status: herr.Status, Fields: fs, Body: []byte(herr.Reason + "\n"), End: true})
	if err == nil {
		c.out = out
	}
	c.open1 = false
}

func h1Fields(fs []Field) []h1.Field {
	out := make([]h1.Field, len(fs))
	for i, f := range fs {
		out[i] = h1.Field(f)
	}
	return out
}

// check1 finds the open HTTP/1.x request named id.
func (c *Conn) check1(id uint32) error {
	if c.mode != modeH1 || !c.open1 || id != c.id1 {
		return ErrStream
	}
	return nil
}

func (c *Conn) respond1(id uint32, status int, fields []Field, body []byte, end bool) (int, error) {
	if err := c.check1(id); err != nil {
		return 0, err
	}
	if status == 101 || status < 200 {
		return 0, ErrHeader // 101 only through WSAccept; 1xx through EarlyHints
	}
	r := &h1.Response{Status: status, Fields: h1Fields(fields), Body: body, End: end && c.trail1 == nil}
	out, err := c.p1.WriteResponse(c.out, r)
	if err == h1.ErrBodyTooLong || err == h1.ErrBodyTooShort {
		c.out, c.resp1 = out, true
		c.done1()
		return len(body), ErrLength
	}
	if err != nil {
		return 0, mapH1(err)
	}
	c.out, c.resp1 = out, true
	if end && c.trail1 != nil {
		if err := c.end1(); err != nil {
			return len(body), err
		}
	} else if end {
		c.done1()
	}
	return len(body), nil
}

func (c *Conn) write1(id uint32, p []byte, end bool) (int, error) {
	if err := c.check1(id); err != nil {
		return 0, err
	}
	if !c.resp1 {
		return 0, ErrState
	}
	out, err := c.p1.WriteBody(c.out, p)
	if err == h1.ErrBodyTooLong {
		c.out = out
		c.done1()
		return len(p), ErrLength
	}
	if err != nil {
		return 0, mapH1(err)
	}
	c.out = out
	if end {
		return len(p), c.end1()
	}
	return len(p), nil
}

func (c *Conn) end1() error {
	out, err := c.p1.EndResponse(c.out, c.trail1)
	if err == h1.ErrBodyTooShort {
		c.out = out
		c.done1()
		return ErrLength
	}
	if err != nil {
		return mapH1(err)
	}
	c.out = out
	c.done1()
	return nil
}

// done1 follows the end of a response: the next request, or the end.
func (c *Conn) done1() {
	c.open1 = false
	if c.closeAft || !c.p1.KeepAlive() {
		c.finished = true
		c.mode = modeDone
	}
}

func mapH1(err error) error {
	switch err {
	case h1.ErrHeader:
		return ErrHeader
	}
	return ErrState
}

// accept1 answers the opening handshake with 101 and switches to the WebSocket.
func (c *Conn) accept1(id uint32, subprotocol string, extra []Field) error {
	if err := c.check1(id); err != nil {
		return err
	}
	if c.offer1 == nil || c.resp1 {
		return ErrState
	}
	neg, err := ws.Negotiate(*c.offer1, subprotocol, true)
	if err != nil {
		return ErrHeader
	}
	fs := WebSocketAccept(c.offer1, neg)
	fs = append(fs, h1Fields(extra)...)
	out, err := c.p1.WriteResponse(c.out, &h1.Response{Status: 101, Fields: fs})
	if err != nil {
		return ErrHeader
	}
	c.out = out
	rest := bytes.Clone(c.p1.Buffered()) // frames that came with the handshake
	c.p1, c.open1, c.offer1 = nil, false, nil
	c.mode = modeWS1
	c.ws1 = ws.NewEndpoint(c.wsLimits(), neg)
	if len(rest) > 0 {
		c.ws1.Recv(rest)
	}
	if c.eof {
		c.ws1.Recv(nil)
	}
	return nil
}

func (c *Conn) nextWS1() {
	for {
		ev, ok := wsEvent(c.ws1, c.id1, &c.wsr)
		if ev.Kind == Closed {
			c.finished, c.mode = true, modeDone
			if !c.wsr {
				c.wsr = true
				c.q = append(c.q, Event{Kind: Closed})
				c.reported = true
				c.ev = Event{Kind: WSClose, Stream: c.id1, Code: c.ws1.CloseCode()}
				return
			}
			c.finish()
			return
		}
		if ok {
			if ev.Kind == WSClose && c.ws1.Dropped() {
				// A peer that does not read: what waits for it goes, and
				// the connection ends after the close is reported.
				c.out, c.outR = nil, 0
				c.finished, c.mode = true, modeDone
				c.q = append(c.q, Event{Kind: Closed})
				c.reported = true
			}
			c.ev = ev
			return
		}
		if ev.Kind == NeedData {
			return
		}
	}
}
