package conn

import (
	"unicode/utf8"

	"github.com/portico-http/portico/core/ws"
)

// WebSocket sessions, over HTTP/1.1 (the whole connection) or HTTP/2 (one
// stream's DATA, RFC 8441). The same endpoint events reach the host either way.

// skip is an endpoint event the host does not see (ping, pong): pull again.
const skip Kind = -1

// wsEvent pulls one endpoint event and maps it. Closed means the session is
// over; reported records that the host was told with WSClose.
func wsEvent(ep *ws.Endpoint, id uint32, reported *bool) (Event, bool) {
	if ep.Dropped() && !*reported {
		// Dropped by a command (WSSend, WSPing): Next has nothing to say.
		*reported = true
		return Event{Kind: WSClose, Stream: id, Code: ep.CloseCode(), Data: []byte(ep.CloseReason())}, true
	}
	switch ep.Next() {
	case ws.NeedData:
		return Event{}, false
	case ws.MessageEvent:
		op, p := ep.Message()
		return Event{Kind: WSMessage, Stream: id, Data: p, Text: op == ws.OpText}, true
	case ws.CloseEvent, ws.ErrorEvent:
		// The host polls events in order: asking past the messages that came
		// before a protocol error means it has answered them, so the close
		// of the error may follow its answers now.
		ep.FinishFailure()
		if *reported {
			return Event{Kind: skip}, false
		}
		*reported = true
		return Event{Kind: WSClose, Stream: id, Code: ep.CloseCode(), Data: []byte(ep.CloseReason())}, true
	case ws.ClosedEvent:
		return Event{Kind: Closed}, false
	}
	return Event{Kind: skip}, false // ping (the pong is queued), pong
}

func (c *Conn) wsLimits() ws.Limits {
	return ws.Limits{MaxMessageSize: c.cfg.WSMaxMessage, MaxQueued: c.cfg.WSMaxQueued}
}

// wsRefused maps an endpoint's refusal of a command; a session dropped
// for a peer that does not read reports its close at the next Next.
func (c *Conn) wsRefused(ep *ws.Endpoint, s *stream) error {
	if ep.Dropped() && s != nil {
		c.ready = append(c.ready, s.id)
	}
	return ErrClosed
}

// wsEndpoint finds the session named id.
func (c *Conn) wsEndpoint(id uint32) (*ws.Endpoint, *stream, error) {
	switch c.mode {
	case modeWS1:
		if id != c.id1 {
			return nil, nil, ErrStream
		}
		return c.ws1, nil, nil
	case modeH2:
		s := c.streams[id]
		if s == nil || s.ws == nil || s.wsDone {
			return nil, nil, ErrStream
		}
		return s.ws, s, nil
	}
	return nil, nil, ErrStream
}

// WSAccept answers a WebSocket request (Req.WebSocket): 101 on HTTP/1.1, 200 on
// HTTP/2. subprotocol ("" for none) must be one the client offered; extra are
// more response fields. permessage-deflate is taken when offered.
func (c *Conn) WSAccept(id uint32, subprotocol string, extra []Field) error {
	switch c.mode {
	case modeH1:
		return c.accept1(id, subprotocol, extra)
	case modeH2:
		return c.accept2(id, subprotocol, extra)
	}
	return ErrStream
}

// WSSend queues a message: text (valid UTF-8) or binary.
func (c *Conn) WSSend(id uint32, text bool, p []byte) error {
	ep, s, err := c.wsEndpoint(id)
	if err != nil {
		return err
	}
	if text && !utf8.Valid(p) {
		return ErrHeader
	}
	if text {
		err = ep.SendText(p)
	} else {
		err = ep.SendBinary(p)
	}
	if err != nil {
		return c.wsRefused(ep, s)
	}
	c.flushWS(s)
	return nil
}

// WSPing queues a ping (at most 125 bytes); the pong is not reported.
func (c *Conn) WSPing(id uint32, p []byte) error {
	ep, s, err := c.wsEndpoint(id)
	if err != nil {
		return err
	}
	switch ep.Ping(p) {
	case nil:
	case ws.ErrControlSize:
		return ErrHeader
	default:
		return c.wsRefused(ep, s)
	}
	c.flushWS(s)
	return nil
}

// WSClose starts the closing handshake; the peer's answer comes as WSClose.
func (c *Conn) WSClose(id uint32, code int, reason string) error {
	ep, s, err := c.wsEndpoint(id)
	if err != nil {
		return err
	}
	switch ep.Close(code, reason) {
	case nil:
	case ws.ErrClosed:
		return ErrClosed
	default:
		return ErrHeader
	}
	c.flushWS(s)
	return nil
}
