package server

// The HTTP/1.x side of an Exchange: the conn is its backend. The host's
// calls run on the host's thread under the connection's lock.

import (
	"bytes"
	"strconv"
	"time"

	"github.com/portico-http/portico/core/h1"
)

// prefetch takes the body bytes already buffered, so that small bodies
// reach the host inside the record. Called by the goroutine under mu.
func (c *conn) prefetch(ex *Exchange, limit int) {
	p := c.p
	for len(ex.pending) < limit {
		switch p.Next() {
		case h1.DataEvent:
			ex.pending = append(ex.pending, p.Data()...)
			continue
		case h1.EndOfMessage, h1.Paused:
			c.endBody(ex)
		case h1.ErrorEvent:
			ex.bodyErr = p.Err()
		}
		return
	}
}

func (c *conn) endBody(ex *Exchange) {
	ex.bodyDone = true
	if t := c.p.Trailers(); len(t) > 0 {
		ex.trailers = copyFields(t)
	}
}

func copyFields(fs []h1.Field) []h1.Field {
	out := make([]h1.Field, len(fs))
	for i, f := range fs {
		out[i] = h1.Field{Name: bytes.Clone(f.Name), Value: bytes.Clone(f.Value)}
	}
	return out
}

// read copies request body bytes into dst, reading from the socket on the
// host's thread when nothing is buffered. 0 means the body is complete.
func (c *conn) read(ex *Exchange, dst []byte, timeout time.Duration) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.finished {
		return 0, ErrState
	}
	if len(ex.pending) > 0 {
		n := copy(dst, ex.pending)
		ex.pending = ex.pending[n:]
		return n, nil
	}
	if ex.bodyDone {
		return 0, nil
	}
	if ex.bodyErr != nil {
		return 0, c.failBody(ex)
	}
	// The app's own timeout only ends this call; body_timeout and
	// min_body_rate end the request (bodywait.go).
	var appDeadline time.Time
	if timeout >= 0 {
		appDeadline = time.Now().Add(timeout)
	}
	for {
		switch c.p.Next() {
		case h1.DataEvent:
			d := c.p.Data()
			n := copy(dst, d)
			ex.pending = append(ex.pending[:0], d[n:]...)
			return n, nil
		case h1.EndOfMessage, h1.Paused:
			c.endBody(ex)
			c.watchPeer(ex) // h1gone.go: the host reads no more
			return 0, nil
		case h1.ErrorEvent:
			ex.bodyErr = c.p.Err()
			return 0, c.failBody(ex)
		case h1.NeedData:
			if c.err != nil || c.in != nil { // inline bodies arrive whole
				return 0, ErrIO
			}
			if ex.expect100 && !ex.started {
				ex.expect100 = false
				c.out = c.p.WriteContinue(c.out)
				c.wakeUp()
			}
			buf := c.p.RecvBuffer(readChunk)
			start := time.Now()
			allow, why := ex.clock.left(&c.srv.opts, 0)
			deadline := start.Add(allow)
			if !appDeadline.IsZero() && appDeadline.Before(deadline) {
				deadline, why = appDeadline, ErrTimeout
			}
			c.dl.forceRead(c.nc, deadline)
			// The goroutine does not touch the parser while the host has
			// the request, so the socket read can run without the lock
			// (the goroutine may need it to flush "100 Continue").
			c.mu.Unlock()
			n, err := c.nc.Read(buf)
			c.mu.Lock()
			ex.clock.add(time.Since(start), n)
			if ex.finished { // the request timed out meanwhile
				return 0, ErrIO
			}
			if n > 0 {
				c.p.Commit(n)
				continue
			}
			if err != nil && !isEOF(err) {
				if isTimeout(err) {
					if why != ErrTimeout {
						c.endSlowBody(ex, why)
					}
					return 0, why
				}
				c.closeAfter = true
				return 0, ErrIO
			}
			c.p.Commit(0)
		default:
			return 0, ErrState
		}
	}
}

// failBody turns a broken body into the host's error. Over the size limit,
// the client gets 413 at once if the app has not answered yet.
func (c *conn) failBody(ex *Exchange) error {
	c.closeAfter = true
	if ex.bodyErr.Status == 413 {
		if !ex.started {
			c.out = append(c.out, c.p.WriteError(nil)...)
			ex.started = true
			ex.finish()
			c.wakeUp()
		}
		return ErrTooLarge
	}
	return ErrIO
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	t, ok := err.(timeout)
	return ok && t.Timeout()
}

// respond formats the response head (NUL-separated: status line, then name
// and value per field) and the first body bytes. With end, body is the
// whole body and the request is finished.
func (c *conn) respond(ex *Exchange, head, body []byte, end bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.started || ex.finished {
		return ErrState
	}
	if c.err != nil {
		c.abandon(ex)
		return ErrIO
	}
	if c.gone && !end { // h1gone.go: a whole answer still goes out
		return c.refuseGone(ex)
	}
	resp, err := c.parseHead(head)
	if err != nil {
		return err
	}
	if c.srv.draining.Load() && !hasField(resp.Fields, "connection") {
		resp.Fields = append(resp.Fields, h1.Field{Name: []byte("Connection"), Value: []byte("close")})
	}
	resp.Date = c.srv.date.get()
	if c.srv.opts.ServerHeader != "" {
		resp.Server = []byte(c.srv.opts.ServerHeader)
	}
	// With trailers the body must be chunked: no Content-Length from End.
	withTrailers := end && len(ex.respTrailers) > 0
	resp.Body, resp.End = body, end && !withTrailers
	out, err := c.p.WriteResponse(c.out, &resp)
	if err == nil && withTrailers {
		out, err = c.p.EndResponse(out, ex.respTrailers)
	}
	if err == h1.ErrBodyTooLong || err == h1.ErrBodyTooShort {
		c.out = out // cut at the declared length; the connection closes after it
		ex.started = true
		c.abandon(ex)
		declared, _ := c.p.ResponseLength()
		c.srv.reportLength(ex, declared, int64(len(body)))
		return ErrLength
	}
	if err != nil {
		if err == h1.ErrState {
			return ErrState
		}
		return ErrHeader
	}
	c.out = out
	ex.started = true
	if end {
		ex.finish()
	}
	c.wakeUp()
	return c.drain(ex, end)
}

// parseHead splits the host's packed head into h1.Response fields that
// point into head (valid only during the call).
func (c *conn) parseHead(head []byte) (h1.Response, error) {
	var r h1.Response
	line, rest, _ := bytes.Cut(head, []byte{0})
	code, reason, _ := bytes.Cut(line, []byte{' '})
	if len(code) != 3 {
		return r, ErrHeader
	}
	status, err := strconv.Atoi(string(code))
	if err != nil || status < 100 {
		return r, ErrHeader
	}
	r.Status, r.Reason = status, reason
	fs := c.fields[:0]
	for len(rest) > 0 {
		var name, value []byte
		name, rest, _ = bytes.Cut(rest, []byte{0})
		value, rest, _ = bytes.Cut(rest, []byte{0})
		fs = append(fs, h1.Field{Name: name, Value: value})
	}
	c.fields = fs
	r.Fields = fs
	return r, nil
}

func hasField(fs []h1.Field, lowerName string) bool {
	for _, f := range fs {
		if len(f.Name) == len(lowerName) && bytes.EqualFold(f.Name, []byte(lowerName)) {
			return true
		}
	}
	return false
}

// write adds body bytes after respond; with end it finishes the request.
func (c *conn) write(ex *Exchange, data []byte, end bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ex.started || ex.finished {
		return ErrState
	}
	if c.err != nil {
		c.abandon(ex)
		return ErrIO
	}
	if c.gone {
		return c.refuseGone(ex)
	}
	declared, before := c.p.ResponseLength()
	out, err := c.p.WriteBody(c.out, data)
	if err == nil && end {
		out, err = c.p.EndResponse(out, ex.respTrailers)
	}
	if err == h1.ErrBodyTooLong || err == h1.ErrBodyTooShort {
		c.out = out // cut at the declared length; the connection closes after it
		c.abandon(ex)
		c.srv.reportLength(ex, declared, before+int64(len(data)))
		return ErrLength
	}
	if err != nil {
		// Trailers refused: the response cannot be completed honestly.
		c.closeAfter = true
		ex.finish()
		c.wakeUp()
		return ErrState
	}
	c.out = out
	if end {
		ex.finish()
	}
	c.wakeUp()
	return c.drain(ex, end)
}

// abort gives up on the request: status with an empty body if nothing was
// sent, otherwise the connection is closed after what was sent.
func (c *conn) abort(ex *Exchange, status int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.finished {
		return ErrState
	}
	if c.gone { // h1gone.go: nothing more for a client that left
		c.refuseGone(ex)
		return nil
	}
	if !ex.started && c.err == nil {
		r := h1.Response{Status: status, Date: c.srv.date.get(), End: true,
			Fields: []h1.Field{{Name: []byte("Content-Length"), Value: []byte("0")}}}
		if out, err := c.p.WriteResponse(c.out, &r); err == nil {
			c.out = out
			ex.started = true
			ex.finish()
			c.wakeUp()
			return nil
		}
	}
	c.abandon(ex)
	return nil
}

// expire answers 503 and closes, or cuts a started response (see
// Exchange.expire). The connection closes either way: the host may still be
// reading the body from its socket.
func (c *conn) expire(ex *Exchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.finished {
		return
	}
	if !ex.started && c.err == nil {
		r := h1.Response{Status: 503, Date: c.srv.date.get(), End: true,
			Fields: []h1.Field{{Name: []byte("Content-Length"), Value: []byte("0")},
				{Name: []byte("Connection"), Value: []byte("close")}}}
		if out, err := c.p.WriteResponse(c.out, &r); err == nil {
			c.out = out
			ex.started = true
			c.abandon(ex)
			return
		}
	}
	// A host blocked in waitDrained wakes on the error and gives up.
	if c.err == nil {
		c.err = ErrTimeout
	}
	c.abandon(ex)
}

// abandon finishes a request whose response cannot complete: the
// connection closes after whatever was already written.
func (c *conn) abandon(ex *Exchange) {
	c.closeAfter = true
	ex.finish()
	c.wakeUp()
}

// release gives the connection back to its goroutine (under mu).
func (c *conn) release(ex *Exchange) { c.exDone = true }

func (c *conn) lock()   { c.mu.Lock() }
func (c *conn) unlock() { c.mu.Unlock() }

// earlyHints writes a 103 before the response (nothing for HTTP/1.0).
func (c *conn) earlyHints(ex *Exchange, fields []h1.Field) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ex.started || ex.finished {
		return ErrState
	}
	out, err := c.p.WriteInformational(c.out, 103, fields)
	if err != nil {
		return ErrHeader
	}
	c.out = out
	c.wakeUp()
	return nil
}

// push: HTTP/1.x has no server push.
func (c *conn) push(ex *Exchange, path []byte, fields []h1.Field) error { return ErrState }

// drain holds the host while the output is over the high-water mark. In
// nowait mode it does not: the end of a response is left to the
// connection's goroutine (which flushes it before reading the next
// request), and otherwise a goroutine waits and posts EvWritten.
func (c *conn) drain(ex *Exchange, end bool) error {
	if !ex.nowait {
		c.waitDrained(c.outLen)
		return nil
	}
	if end || !c.overWater(c.outLen) {
		return nil
	}
	go func() {
		c.mu.Lock()
		c.waitDrained(c.outLen)
		err := c.err
		c.mu.Unlock()
		ev := hostEvent{ex: ex, typ: EvWritten}
		if err != nil {
			ev.err = ErrIO
		}
		ex.srv.post(ev)
	}()
	return ErrPending
}

// overWater: waitDrained would wait. wsRest (left by inline WebSocket
// writes) counts as pending output too.
func (c *conn) overWater(pending func() int) bool {
	return pending()+len(c.wsRest) > outHighWater && c.err == nil
}
