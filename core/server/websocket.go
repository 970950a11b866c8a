package server

import (
	"sync"
	"time"

	"github.com/portico-http/portico/core/ws"
)

// Message kinds on the host side; the values are PORTICO_WS_* in portico.h.
const (
	WSText   = 1
	WSBinary = 2
	WSClose  = 8 // payload: the close code (2 bytes, big-endian) and reason
	WSPing   = 9 // for Send only
)

// inboxLimit bounds received messages waiting for the host: beyond it the
// connection stops reading, so a slow app pushes back on the client.
const inboxLimit = 1 << 20

// closeWait is how long a closing handshake we started may take before the
// transport is dropped (the peer may never answer).
const closeWait = 5 * time.Second

type wsMessage struct {
	kind    int
	payload []byte
}

// wsSession is an accepted WebSocket: the sans-I/O endpoint plus the queue
// of messages for the host. It does not know its transport: the transport's
// loop calls feed with received bytes and drains output with takeOutput
// (today an HTTP/1.1 connection; an HTTP/2 stream uses the same calls).
type wsSession struct {
	ep *ws.Endpoint
	// wakeWriter asks the transport to flush output (never blocks).
	wakeWriter func()

	inbox      []wsMessage
	inboxBytes int
	arrived    chan struct{} // cap 1: a message or the end arrived
	drained    chan struct{} // cap 1: the host took messages (reader may go on)
	ended      bool          // no more messages: the close (or failure) is queued
	finished   bool          // the transport should close once output is flushed
	failing    bool          // a protocol error stopped reading; its close waits (finishFailure)
	mu         sync.Locker   // the transport's lock (for timers)
	lastRecv   time.Time     // the last bytes from the peer (keepalive)

	// Event mode (WSWatch): notify posts one readiness event; notified
	// says one is pending, so a burst of messages costs one event.
	watch, notified bool
	notify          func()

	// onDrained, if set, runs (under the lock) when the host took
	// messages: an inline transport's reader paused on a full inbox resumes.
	onDrained func()
	// onDrop closes the transport at once, dropping what it holds to send,
	// when the endpoint gave up on a peer that does not read (under the lock).
	onDrop func()
}

func newWSSession(neg ws.Negotiated, opts *Options, wake func()) *wsSession {
	return &wsSession{
		ep:         ws.NewEndpoint(ws.Limits{MaxMessageSize: opts.WSMaxMessage, MaxQueued: opts.WSMaxQueued}, neg),
		wakeWriter: wake,
		arrived:    make(chan struct{}, 1),
		drained:    make(chan struct{}, 1),
	}
}

// startKeepalive pings a quiet peer every interval and gives up on one
// silent for interval+timeout (close 1011, then the transport's closing
// rule), as uvicorn does. mu is the transport's lock; closing is its
// wsClosing. A zero interval turns it off.
func (s *wsSession) startKeepalive(interval, timeout time.Duration, mu sync.Locker, closing func()) {
	s.mu = mu
	if interval <= 0 {
		return
	}
	s.lastRecv = time.Now()
	var tick func()
	tick = func() {
		mu.Lock()
		defer mu.Unlock()
		if s.finished || s.ended || s.ep.State() != ws.Open {
			return
		}
		quiet := time.Since(s.lastRecv)
		switch {
		case quiet >= interval+timeout:
			s.close(1011, "keepalive ping timeout")
			closing()
			return
		case quiet >= interval:
			if s.ep.Ping(nil) == ws.ErrQueueFull {
				s.drop()
				return
			}
			s.wakeWriter()
		}
		time.AfterFunc(min(interval, max(interval+timeout-quiet, time.Millisecond)), tick)
	}
	time.AfterFunc(interval, tick)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// feed runs received bytes through the endpoint (under the transport's
// lock). It reports whether the reader should pause (inbox full).
func (s *wsSession) feed(p []byte) bool {
	s.lastRecv = time.Now()
	s.ep.Recv(p)
	for {
		switch s.ep.Next() {
		case ws.NeedData:
			if s.ep.HasOutput() {
				s.wakeWriter()
			}
			return s.inboxBytes >= inboxLimit
		case ws.MessageEvent:
			op, payload := s.ep.Message()
			kind := WSBinary
			if op == ws.OpText {
				kind = WSText
			}
			s.push(wsMessage{kind: kind, payload: append([]byte(nil), payload...)})
		case ws.CloseEvent:
			s.end(s.ep.CloseCode(), s.ep.CloseReason())
		case ws.ErrorEvent:
			if s.ep.Dropped() {
				s.drop()
				return false
			}
			// A protocol error: nothing more is read. The messages before it
			// reach the host, then the close; our close frame waits for the
			// host's answers to them (finishFailure).
			s.end(s.ep.CloseCode(), s.ep.CloseReason())
			s.failing = true
			if s.mu != nil {
				time.AfterFunc(closeWait, func() {
					s.mu.Lock()
					defer s.mu.Unlock()
					s.finishFailure()
				})
			}
			if s.ep.HasOutput() {
				s.wakeWriter() // pongs of pings before the error
			}
			return false
		case ws.ClosedEvent:
			// Both closes are done.
			s.end(s.ep.CloseCode(), s.ep.CloseReason())
			s.finished = true
			s.wakeWriter()
			return false
		case ws.PingEvent, ws.PongEvent:
			// The endpoint answered the ping itself; pongs need nothing.
		}
		if s.ep.State() == ws.Closed || s.finished {
			s.finished = true
			s.wakeWriter()
			return false
		}
	}
}

func (s *wsSession) push(m wsMessage) {
	s.inbox = append(s.inbox, m)
	s.inboxBytes += len(m.payload)
	signal(s.arrived)
	if s.watch && !s.notified {
		s.notified = true
		s.notify()
	}
}

// tookMessages tells a reader paused on a full inbox that the host took
// messages (under the transport's lock).
func (s *wsSession) tookMessages() {
	signal(s.drained)
	if s.onDrained != nil {
		s.onDrained()
	}
}

// end queues the close for the host, once.
func (s *wsSession) end(code int, reason string) {
	if s.ended {
		return
	}
	s.ended = true
	if code == 0 {
		code = 1005 // no status received
	}
	p := make([]byte, 2, 2+len(reason))
	p[0], p[1] = byte(code>>8), byte(code)
	s.push(wsMessage{kind: WSClose, payload: append(p, reason...)})
}

// finishFailure sends the close of a protocol error (under the transport's
// lock). The rule (docs/websocket.md): the close goes out once the host
// closes or releases the WebSocket, or receives (pulling) past the last
// message that came before the error, or closeWait after the error;
// whatever the host sent before that goes out first.
func (s *wsSession) finishFailure() {
	if !s.failing {
		return
	}
	s.failing = false
	s.ep.FinishFailure()
	if !s.finished {
		s.finished = true
		s.wakeWriter()
	}
}

// drop ends a session whose peer does not read what we send (the
// endpoint's MaxQueued): the host gets the close (1008), the transport
// closes now. Under the transport's lock.
func (s *wsSession) drop() {
	s.end(s.ep.CloseCode(), s.ep.CloseReason())
	s.finished = true
	if s.onDrop != nil {
		s.onDrop()
	}
}

// pop takes the next message for the host (under the transport's lock).
func (s *wsSession) pop() (wsMessage, bool) {
	if len(s.inbox) == 0 {
		return wsMessage{}, false
	}
	m := s.inbox[0]
	s.inbox[0] = wsMessage{}
	s.inbox = s.inbox[1:]
	s.inboxBytes -= len(m.payload)
	if m.kind == WSClose {
		// Keep the close visible to every later receive.
		s.inbox = append(s.inbox[:0], m)
		s.inboxBytes += len(m.payload)
		s.finishFailure() // the host is done with what came before it
	}
	s.tookMessages()
	return m, true
}

// send queues a message or ping from the host.
func (s *wsSession) send(kind int, p []byte) error {
	if err := s.queue(kind, p); err != nil {
		return err
	}
	s.wakeWriter()
	return nil
}

// queue frames a message or ping without waking the writer.
func (s *wsSession) queue(kind int, p []byte) error {
	if s.finished || !s.failing && (s.ended || s.ep.State() != ws.Open) {
		return ErrClosed
	}
	var err error
	switch kind {
	case WSText:
		err = s.ep.SendText(p)
	case WSBinary:
		err = s.ep.SendBinary(p)
	case WSPing:
		err = s.ep.Ping(p)
	default:
		return ErrState
	}
	switch err {
	case nil:
		return nil
	case ws.ErrQueueFull:
		s.drop()
		return ErrClosed
	case ws.ErrClosed:
		return ErrClosed
	}
	return ErrHeader // bad UTF-8 in a text message, ping too long
}

// close starts the closing handshake from our side.
func (s *wsSession) close(code int, reason string) error {
	if s.failing {
		s.finishFailure() // the close of the error, not the host's
		return nil
	}
	if s.ep.State() != ws.Open {
		return nil
	}
	if err := s.ep.Close(code, reason); err != nil {
		return ErrHeader
	}
	s.wakeWriter()
	return nil
}

// takeOutput moves pending frames into dst for the transport to write:
// about outHighWater at most, so that a transport's buffer stays small
// while output for a slow client waits in the endpoint's blocks.
func (s *wsSession) takeOutput(dst []byte) []byte { return s.ep.OutputMax(dst, outHighWater) }

// WSRecv waits up to timeout for the next message and copies it into dst.
// A close arrives as kind WSClose and stays for every later call.
func (ex *Exchange) WSRecv(dst []byte, timeout time.Duration) (int, int, error) {
	s := ex.ws
	if s == nil {
		return 0, 0, ErrState
	}
	b := ex.b
	var expired <-chan time.Time
	for {
		b.lock()
		if len(s.inbox) > 0 {
			if len(s.inbox[0].payload) > len(dst) {
				b.unlock()
				return 0, 0, ErrBuffer
			}
			m, _ := s.pop()
			b.unlock()
			return copy(dst, m.payload), m.kind, nil
		}
		b.unlock()
		if timeout == 0 {
			return 0, 0, ErrTimeout
		}
		if expired == nil && timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-s.arrived:
		case <-expired:
			return 0, 0, ErrTimeout
		}
	}
}

// WSNextSize is the length of the message WSRecv would return now.
func (ex *Exchange) WSNextSize() (int, error) {
	s := ex.ws
	if s == nil {
		return 0, ErrState
	}
	ex.b.lock()
	defer ex.b.unlock()
	if len(s.inbox) == 0 {
		return 0, ErrTimeout
	}
	return len(s.inbox[0].payload), nil
}

// WSSend sends a text or binary message, or a ping. Safe while another
// thread waits in WSRecv.
func (ex *Exchange) WSSend(kind int, p []byte) error {
	s := ex.ws
	if s == nil {
		return ErrState
	}
	ex.b.lock()
	defer ex.b.unlock()
	if err := s.send(kind, p); err != nil {
		return err
	}
	ex.b.waitDrained(s.ep.OutputLen)
	return nil
}

// WSClose starts the closing handshake; the peer's answer arrives through
// WSRecv as WSClose. If the peer never answers, the connection is dropped
// after closeWait.
func (ex *Exchange) WSClose(code int, reason string) error {
	s := ex.ws
	if s == nil {
		return ErrState
	}
	ex.b.lock()
	defer ex.b.unlock()
	if err := s.close(code, reason); err != nil {
		return err
	}
	ex.b.wsClosing()
	return nil
}

// WSRelease ends the host's use of the id: an open WebSocket is closed with
// 1000 first. The id stops working.
func (ex *Exchange) WSRelease() error {
	if ex.ws == nil {
		return ErrState
	}
	exchanges.remove(ex.id)
	return ex.WSClose(1000, "")
}
