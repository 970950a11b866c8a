package h2

import "golang.org/x/net/http2"

// Server push (RFC 9113 8.4). A promised stream starts "reserved (local)"; we model
// it as half-closed (remote), since the client never sends on it: the host answers
// it with Respond/SendData like any request.

// PushEnabled reports whether Push may succeed now: the client allows push
// (SETTINGS_ENABLE_PUSH), has not sent GOAWAY, and has room under its
// SETTINGS_MAX_CONCURRENT_STREAMS.
func (c *Conn) PushEnabled() bool {
	return c.peerPush && !c.goAwayRecv && !c.dead && !c.done &&
		uint32(c.pushOpen) < c.peerMaxStreams && c.nextPushID < 1<<31
}

// Push sends a PUSH_PROMISE on client stream id for the request method (GET or
// HEAD), scheme, authority and path plus fields, and returns the promised stream id.
func (c *Conn) Push(id uint32, method, scheme, authority, path []byte, fields []Field) (uint32, error) {
	s, err := c.sendable(id)
	if err != nil {
		return 0, err
	}
	if s.pushed {
		return 0, ErrState // only a client-initiated stream can carry a promise
	}
	if !c.PushEnabled() {
		return 0, ErrPushDisabled
	}
	// Promised requests must be safe and cacheable, without a body.
	if string(method) != "GET" && string(method) != "HEAD" {
		return 0, ErrHeader
	}
	if !validToken(scheme) || len(path) == 0 || path[0] != '/' || !validValue(path) || !validValue(authority) {
		return 0, ErrHeader
	}
	c.enc.begin()
	c.enc.pseudo(":method", bstr(method))
	c.enc.pseudo(":scheme", bstr(scheme))
	if len(authority) > 0 {
		c.enc.pseudo(":authority", bstr(authority))
	}
	c.enc.pseudo(":path", bstr(path))
	if err := c.encodeFields(fields); err != nil {
		return 0, err
	}
	promised := c.nextPushID
	c.nextPushID += 2
	c.writeEncoded(http2.FramePushPromise, id, promised, false)
	ps := c.newStream(promised)
	ps.pushed = true
	ps.known = true
	ps.remoteEnded = true
	return promised, nil
}
