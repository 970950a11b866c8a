package h2

// Upgrade starts the connection from an HTTP/1.1 "Upgrade: h2c" request (RFC 7540
// 3.2): the host has answered 101 and already holds req. settingsPayload is the
// decoded HTTP2-Settings header; the 101 acknowledges it, so no SETTINGS ACK is sent.
// Stream 1 becomes half-closed (remote) with req as its request (no RequestEvent);
// the host answers it with Respond. The client preface is expected next, and our
// SETTINGS, queued by NewServerConn, must be the first bytes after the 101.
func (c *Conn) Upgrade(settingsPayload []byte, req *Request) error {
	if c.maxClientID != 0 || c.preface > 0 || len(c.in) > 0 || c.dead || c.done {
		return ErrState
	}
	if err := c.applySettingsPayload(settingsPayload); err != nil {
		return err
	}
	c.maxClientID = 1
	s := c.newStream(1)
	s.known = true
	s.remoteEnded = true
	if req != nil {
		req.StreamID = 1
		req.EndStream = true
	}
	return nil
}
