package conn

// The host's commands on a request stream, the same for every protocol.

// Respond starts the response on stream id with a final status (200-999),
// fields and the first body bytes. With end, body is the whole body. It returns
// how many body bytes were taken: on HTTP/2 the send window may take fewer, and
// then end is not applied: Write the rest after a Writable event.
func (c *Conn) Respond(id uint32, status int, fields []Field, body []byte, end bool) (int, error) {
	switch c.mode {
	case modeH1:
		return c.respond1(id, status, fields, body, end)
	case modeH2:
		return c.respond2(id, status, fields, body, end)
	}
	return 0, ErrStream
}

// Write sends more body bytes after Respond and returns how many were taken
// (HTTP/1.x takes all; HTTP/2 what the flow-control windows allow). With end,
// the response ends once all of p was taken.
func (c *Conn) Write(id uint32, p []byte, end bool) (int, error) {
	switch c.mode {
	case modeH1:
		return c.write1(id, p, end)
	case modeH2:
		return c.write2(id, p, end)
	}
	return 0, ErrStream
}

// SetTrailers sets the fields sent when the response on id ends (HTTP/2, or
// HTTP/1.1 chunked to a client that sent "TE: trailers"). A later call
// replaces them.
func (c *Conn) SetTrailers(id uint32, fields []Field) error {
	for _, f := range fields {
		if len(f.Name) == 0 {
			return ErrHeader
		}
	}
	switch c.mode {
	case modeH1:
		if err := c.check1(id); err != nil {
			return err
		}
		if !c.req.Trailers {
			return ErrState
		}
		c.trail1 = h1Fields(fields)
		return nil
	case modeH2:
		s := c.streams[id]
		if s == nil {
			return ErrStream
		}
		if s.ws != nil {
			return ErrState
		}
		s.trailers = h2Fields(fields) // the encoder lowercases names
		return nil
	}
	return ErrStream
}

// EarlyHints sends 103 Early Hints with fields before the response (nothing to
// an HTTP/1.0 client).
func (c *Conn) EarlyHints(id uint32, fields []Field) error {
	switch c.mode {
	case modeH1:
		if err := c.check1(id); err != nil {
			return err
		}
		out, err := c.p1.WriteInformational(c.out, 103, h1Fields(fields))
		if err != nil {
			return mapH1(err)
		}
		c.out = out
		return nil
	case modeH2:
		return mapH2(c.p2.Informational(id, 103, h2Fields(fields)))
	}
	return ErrStream
}

// Push promises a GET of path (with any query) on HTTP/2 and returns the
// promised stream id, which the host answers like any other stream.
func (c *Conn) Push(id uint32, path []byte, fields []Field) (uint32, error) {
	switch c.mode {
	case modeH2:
		return c.push2(id, path, fields)
	case modeH1:
		if err := c.check1(id); err != nil {
			return 0, err
		}
		return 0, ErrState
	}
	return 0, ErrStream
}

// Reset abandons stream id: RST_STREAM(CANCEL) on HTTP/2; on HTTP/1.x (and a
// WebSocket over it) the only way is to close the connection.
func (c *Conn) Reset(id uint32) error {
	switch c.mode {
	case modeH2:
		return c.reset2(id)
	case modeH1, modeWS1:
		if c.mode == modeH1 && c.check1(id) != nil || c.mode == modeWS1 && id != c.id1 {
			return ErrStream
		}
		c.open1 = false
		c.finished, c.mode = true, modeDone
		return nil
	}
	return ErrStream
}
