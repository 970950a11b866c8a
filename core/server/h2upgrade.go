package server

import (
	"bytes"
	"encoding/base64"
	"time"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/h2"
)

// HTTP/2 through "Upgrade: h2c" (RFC 7540 3.2; dropped from RFC 9113 but
// still sent by curl --http2 and nghttp -u): the request is answered 101
// and becomes stream 1 of an HTTP/2 connection.

// h2cUpgrade reports whether req asks for h2c in a way we take: exactly one
// HTTP2-Settings field, named in Connection, and no body. (A request with a
// body is served over HTTP/1.1, which RFC 7540 3.2 allows; nginx does too.)
func h2cUpgrade(req *h1.Request) ([]byte, bool) {
	if req.Upgrade == nil || !hasToken(req.Upgrade, "h2c") || req.ContentLength > 0 || req.Chunked {
		return nil, false
	}
	var settings [][]byte
	namedInConnection := false
	for _, f := range req.Fields {
		switch {
		case bytes.EqualFold(f.Name, []byte("http2-settings")):
			settings = append(settings, f.Value)
		case bytes.EqualFold(f.Name, []byte("connection")):
			namedInConnection = namedInConnection || hasToken(f.Value, "http2-settings")
		}
	}
	if len(settings) != 1 || !namedInConnection {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(settings[0], "=")))
	if err != nil || len(payload)%6 != 0 {
		return nil, false
	}
	return payload, true
}

// upgradeToH2 answers 101 and runs the connection as HTTP/2 with req (which
// has no body) as stream 1. Goroutine only, instead of dispatching req.
func (c *conn) upgradeToH2(req *h1.Request, settings []byte) {
	c.mu.Lock()
	path := bytes.Clone(req.Path)
	if len(req.Query) > 0 {
		path = append(append(path, '?'), req.Query...)
	}
	up := &h2Upgrade{settings: settings, req: h2.Request{Method: bytes.Clone(req.Method),
		Scheme: []byte("http"), Authority: bytes.Clone(req.Authority), Path: path, ContentLength: -1}}
	for _, f := range req.Fields {
		if !connectionSpecific(f.Name) {
			up.req.Fields = append(up.req.Fields, h2.Field{Name: bytes.ToLower(f.Name), Value: bytes.Clone(f.Value)})
		}
	}
	for ev := c.p.Next(); ev != h1.Paused && ev != h1.NeedData && ev != h1.ErrorEvent; ev = c.p.Next() {
	} // the (empty) body's end
	rest := bytes.Clone(c.p.Buffered()) // the client preface may already be here
	c.mu.Unlock()
	c.dl.setWrite(c.nc, time.Now().Add(c.srv.opts.BodyTimeout))
	if _, err := c.nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")); err != nil {
		return
	}
	c.serveH2(rest, up)
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
