package server

import (
	"bytes"
	"time"

	coreconn "github.com/portico-http/portico/core/conn"
	"github.com/portico-http/portico/core/h1"
)

// HTTP/2 through "Upgrade: h2c" (RFC 7540 3.2; dropped from RFC 9113 but
// still sent by curl --http2 and nghttp -u): the request is answered 101
// and becomes stream 1 of an HTTP/2 connection. Which requests qualify, and
// how one becomes stream 1, is shared with connection mode (core/conn).

// upgradeToH2 answers 101 and runs the connection as HTTP/2 with req (which
// has no body) as stream 1. Goroutine only, instead of dispatching req.
func (c *conn) upgradeToH2(req *h1.Request, settings []byte) {
	c.mu.Lock()
	up := &h2Upgrade{settings: settings, req: coreconn.H2CRequest(req)}
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
