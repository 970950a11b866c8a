package conn

import (
	"bytes"
	"encoding/base64"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/h2"
)

// HTTP/2 through "Upgrade: h2c" (RFC 7540 3.2; dropped from RFC 9113 but
// still sent by curl --http2 and nghttp -u): the request is answered 101
// and becomes stream 1 of an HTTP/2 connection.

// H2CSettings reports whether req asks for h2c in a way we take, and returns
// the decoded HTTP2-Settings: exactly one such field, named in Connection,
// and no body (a request with a body is served over HTTP/1.1, which RFC 7540
// 3.2 allows; nginx does too). Server mode and connection mode share it.
func H2CSettings(req *h1.Request) ([]byte, bool) {
	if req.Upgrade == nil || !h1.HasToken(req.Upgrade, "h2c") || req.ContentLength > 0 || req.Chunked {
		return nil, false
	}
	var settings [][]byte
	named := false
	for _, f := range req.Fields {
		switch {
		case bytes.EqualFold(f.Name, []byte("http2-settings")):
			settings = append(settings, f.Value)
		case bytes.EqualFold(f.Name, []byte("connection")):
			named = named || h1.HasToken(f.Value, "http2-settings")
		}
	}
	if len(settings) != 1 || !named {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(settings[0], "=")))
	if err != nil || len(payload)%6 != 0 {
		return nil, false
	}
	return payload, true
}

// H2CRequest is req (which asked for h2c) as the HTTP/2 request of stream
// 1, copied out of the HTTP/1.1 parser's buffer.
func H2CRequest(req *h1.Request) h2.Request {
	path := bytes.Clone(req.Path)
	if len(req.Query) > 0 {
		path = append(append(path, '?'), req.Query...)
	}
	up := h2.Request{Method: bytes.Clone(req.Method), Scheme: []byte("http"),
		Authority: bytes.Clone(req.Authority), Path: path, ContentLength: -1}
	for _, f := range req.Fields {
		if !connectionSpecific(f.Name) {
			up.Fields = append(up.Fields, h2.Field{Name: bytes.ToLower(f.Name), Value: bytes.Clone(f.Value)})
		}
	}
	return up
}

// upgradeH2 answers 101 and turns the connection into HTTP/2 with req as
// stream 1, reported to the host as a Request on stream 1.
func (c *Conn) upgradeH2(req *h1.Request, settings []byte) {
	up := H2CRequest(req)
	for ev := c.p1.Next(); ev == h1.DataEvent; ev = c.p1.Next() {
	} // the (empty) body's end
	rest := bytes.Clone(c.p1.Buffered()) // the client preface may already be here
	c.out = append(c.out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"...)
	c.p1 = nil
	c.startH2()
	if err := c.p2.Upgrade(settings, &up); err != nil {
		c.p2.GoAway(1, nil) // PROTOCOL_ERROR: the settings were refused
		return
	}
	if len(rest) > 0 {
		c.p2.Recv(rest, c.now)
	}
	if c.eof {
		c.p2.Recv(nil, c.now)
	}
	c.openH2(&up)
}

// connectionSpecific names the HTTP/1.1 fields that do not cross into
// HTTP/2 (RFC 9113 8.2.2), plus the upgrade's own and Host (:authority).
func connectionSpecific(name []byte) bool {
	for _, n := range []string{"connection", "upgrade", "http2-settings", "keep-alive", "proxy-connection", "transfer-encoding", "te", "host"} {
		if bytes.EqualFold(name, []byte(n)) {
			return true
		}
	}
	return false
}
