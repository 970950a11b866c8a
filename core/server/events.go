package server

// Event mode: for a host that runs an event loop (asyncio, a C loop) and
// must never block inside the library. Poll hands over, in one call, the
// new requests and the events of requests the host asked to watch, and the
// readiness descriptor signals that more are pending. What would block
// (waiting for body bytes, for a WebSocket message, for a slow client to
// take what was written) runs on goroutines or as a hook of the transport,
// and its outcome comes back as an event. The sans-I/O engines are
// untouched: this sits on the Exchange calls the threaded hosts use.

import (
	"encoding/binary"
	"errors"
	"sync"
)

// Event types in a Poll batch; the values are PORTICO_POLL_* in portico.h.
const (
	EvRequest = 1 // a new request: the payload is its record (see Exchange.record)
	EvBody    = 2 // body bytes (code 0), the end of the body (code 1), or a failure (code < 0)
	EvWS      = 3 // one WebSocket message; code is its WS* kind
	EvWritten = 4 // a deferred write finished; code 0 or the failure

	evWSReady = 100 // internal: a watched WebSocket has messages (expanded by Poll)
)

// EventHeader is the fixed part of each event: id, type, code, length.
const EventHeader = 16

// ErrPending: a write was queued, and finishing it would block; an
// EvWritten event follows. The host must not write to the request again
// before that event.
var ErrPending = errors.New("write completes in the background")

type hostEvent struct {
	ex   *Exchange
	typ  uint16
	end  bool   // EvBody: the body is complete
	err  error  // EvBody, EvWritten: the failure
	data []byte // EvBody
}

// post queues an event for Poll and wakes a host waiting on the descriptor.
// It may run under a transport's lock: Poll never holds evMu while it takes
// one.
func (s *Server) post(ev hostEvent) {
	s.evMu.Lock()
	s.evq = append(s.evq, ev)
	s.evMu.Unlock()
	s.ready.wake()
}

// Poll fills dst with events (layout in portico.h: portico_server_poll):
// first those of known requests, then new requests. It never blocks; with
// nothing pending it returns ErrTimeout and arms the readiness descriptor.
// code maps an event's error to the host's error code. If the first event
// alone does not fit, it returns its size with ErrBuffer and keeps it.
func (s *Server) Poll(dst []byte, code func(error) int16) (int, error) {
	if l := s.inl; l != nil {
		return l.poll(dst, code) // inline_events.go: the loop runs first
	}
	return s.pollQueue(dst, code, nil)
}

// pollQueue packs what is pending; l is the inline loop (its lock held) or
// nil.
func (s *Server) pollQueue(dst []byte, code func(error) int16, l *inlineLoop) (int, error) {
	for {
		n, need, full := s.pollOnce(dst, code, l)
		if need > 0 {
			return need, ErrBuffer
		}
		if n > 0 {
			// The host need not poll again to learn that nothing is left
			// (a crossing per wake-up saved): the descriptor fires for
			// whatever is pending or comes.
			if full {
				s.ready.signal()
			} else {
				s.armAfterDrain(l)
			}
			return n, nil
		}
		// Nothing: the host will wait on the descriptor. Anything posted
		// after this store wakes it; anything posted before is seen below.
		if s.ready.fd.Load() > 0 {
			s.ready.sleeping.Store(true)
		}
		if !s.pending(l) {
			select {
			case <-s.closed:
				return 0, ErrClosed
			default:
				return 0, ErrTimeout
			}
		}
		s.ready.sleeping.Store(false)
		if l != nil {
			l.runParseQ() // a paused WebSocket the host drained reads again
		}
	}
}

// pending reports events, requests or inline work waiting for a Poll.
func (s *Server) pending(l *inlineLoop) bool {
	s.evMu.Lock()
	pending := len(s.evq) > 0
	s.evMu.Unlock()
	return pending || len(s.queue) > 0 || s.peekStashed() != nil ||
		l != nil && (l.head < len(l.ready) || l.parsePending())
}

// armAfterDrain arms the descriptor after a batch that took everything:
// what is posted from now on signals it, and what slipped in before the
// store is signalled here.
func (s *Server) armAfterDrain(l *inlineLoop) {
	if s.ready.fd.Load() <= 0 {
		return
	}
	s.ready.sleeping.Store(true)
	if s.pending(l) {
		s.ready.wake()
	}
}

func (s *Server) peekStashed() *Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stashed
}

// pollOnce packs what is pending now. need > 0 means the first event did
// not fit in dst at all; full, that it stopped for room with more pending.
func (s *Server) pollOnce(dst []byte, code func(error) int16, l *inlineLoop) (n, need int, full bool) {
	s.evMu.Lock()
	batch := s.evq
	s.evq = s.evSpare[:0]
	s.evMu.Unlock()

	i := 0
	for ; i < len(batch); i++ {
		w, full := s.putEvent(dst[n:], &batch[i], code)
		n += w
		if full {
			if n == 0 {
				need = EventHeader + s.eventSize(&batch[i])
			}
			break
		}
	}
	if i < len(batch) {
		// What did not fit goes back in front of anything posted meanwhile.
		s.evMu.Lock()
		rest := append(batch[i:len(batch):len(batch)], s.evq...)
		s.evq = rest
		s.evMu.Unlock()
		return n, need, true
	}
	clear(batch)
	s.evMu.Lock()
	if cap(batch) <= 1024 {
		s.evSpare = batch[:0]
	}
	s.evMu.Unlock()

	for {
		ex := s.takeStashed()
		if ex == nil {
			select {
			case ex = <-s.queue:
			default:
				if l != nil {
					ex = l.pop()
				}
				if ex == nil {
					return n, 0, false
				}
			}
			if ex.answer == nil {
				if ex.expiredInQueue() || !ex.claim() {
					// Answered 503 while it waited, or reset: as Next skips it.
					if ex = s.unseenAnswer(ex); ex == nil {
						continue
					}
				}
			}
		}
		room := dst[n:]
		if len(room) < EventHeader {
			s.stash(ex)
			return n, 0, true
		}
		w, err := ex.record(room[EventHeader:])
		if err == ErrBuffer {
			s.stash(ex)
			if n == 0 {
				need = EventHeader + w
			}
			return n, need, true
		}
		putHeader(room, ex.id, EvRequest, 0, w)
		n += EventHeader + w
	}
}

func (s *Server) stash(ex *Exchange) {
	s.mu.Lock()
	s.stashed = ex
	s.mu.Unlock()
}

func putHeader(dst []byte, id uint64, typ uint16, code int16, length int) {
	binary.LittleEndian.PutUint64(dst, id)
	binary.LittleEndian.PutUint16(dst[8:], typ)
	binary.LittleEndian.PutUint16(dst[10:], uint16(code))
	binary.LittleEndian.PutUint32(dst[12:], uint32(length))
}

// eventSize is the payload an event needs at least (for ErrBuffer).
func (s *Server) eventSize(ev *hostEvent) int {
	if ev.typ != evWSReady {
		return len(ev.data)
	}
	b := ev.ex.b
	b.lock()
	defer b.unlock()
	if ws := ev.ex.ws; ws != nil && len(ws.inbox) > 0 {
		return len(ws.inbox[0].payload)
	}
	return 0
}

// putEvent writes ev into dst: its bytes, and whether it stopped for room
// (then ev keeps what is left).
func (s *Server) putEvent(dst []byte, ev *hostEvent, code func(error) int16) (int, bool) {
	if ev.typ == evWSReady {
		return s.putMessages(dst, ev.ex)
	}
	if len(dst) < EventHeader+len(ev.data) {
		return 0, true
	}
	var c int16
	switch {
	case ev.err != nil:
		c = code(ev.err)
	case ev.end:
		c = 1
	}
	putHeader(dst, ev.ex.id, ev.typ, c, len(ev.data))
	copy(dst[EventHeader:], ev.data)
	n := EventHeader + len(ev.data)
	if ev.typ == EvBody && ev.data != nil {
		releaseBodyBuffer(ev.data) // copied: WantBody's next read may take it
		ev.data = nil
	}
	return n, false
}

// putMessages moves a watched WebSocket's received messages into dst, one
// EvWS event each, as far as they fit.
func (s *Server) putMessages(dst []byte, ex *Exchange) (int, bool) {
	b := ex.b
	b.lock()
	defer b.unlock()
	ws := ex.ws
	if !ws.watch {
		ws.notified = false // WSWatch(true) posts again if messages wait
		return 0, false
	}
	n, i := 0, 0
	for ; i < len(ws.inbox); i++ {
		m := ws.inbox[i]
		if len(dst)-n < EventHeader+len(m.payload) {
			break
		}
		putHeader(dst[n:], ex.id, EvWS, int16(m.kind), len(m.payload))
		copy(dst[n+EventHeader:], m.payload)
		n += EventHeader + len(m.payload)
		ws.inboxBytes -= len(m.payload)
	}
	// The inbox's array is reused (a message per wake-up is the common
	// case); a burst's large one is not kept.
	left := copy(ws.inbox, ws.inbox[i:])
	clear(ws.inbox[left:])
	ws.inbox = ws.inbox[:left]
	if left > 0 {
		ws.tookMessages()
		return n, true
	}
	if cap(ws.inbox) > 64 {
		ws.inbox = nil
	}
	ws.notified = false
	ws.tookMessages() // a reader paused on a full inbox goes on
	return n, false
}

// WantBody asks for the next body bytes (at most max) as one EvBody event:
// data, the end of the body, or the failure (the client went away, the
// body timed out or is over max_body_size). One at a time per request.
func (ex *Exchange) WantBody(max int) error {
	if max <= 0 {
		return ErrState
	}
	ex.b.lock()
	finished := ex.finished
	ex.b.unlock()
	if finished {
		return ErrState
	}
	go func() {
		buf := bodyBuffer(max)
		n, err := ex.Read(buf, -1)
		if n == 0 {
			releaseBodyBuffer(buf)
			buf = nil
		}
		ex.srv.post(hostEvent{ex: ex, typ: EvBody, data: buf[:n], end: n == 0 && err == nil, err: err})
	}()
	return nil
}

// bodyBuffers holds the buffers of EvBody events Poll has copied out: a
// 64 KiB buffer made and zeroed per chunk was a tenth of an upload's CPU
// (and the scavenger's page faults and madvise calls another).
var bodyBuffers sync.Pool // *[]byte

const maxPooledBody = 1 << 20

func bodyBuffer(size int) []byte {
	if p, ok := bodyBuffers.Get().(*[]byte); ok && cap(*p) >= size {
		return (*p)[:size]
	}
	return make([]byte, size)
}

func releaseBodyBuffer(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooledBody {
		bodyBuffers.Put(&b)
	}
}

// WSWatch turns delivery of this WebSocket's messages through Poll on or
// off. Off, messages wait in the library, and past its inbox limit the
// client is no longer read: the host's way to push back.
func (ex *Exchange) WSWatch(on bool) error {
	ws := ex.ws
	if ws == nil {
		return ErrState
	}
	ex.b.lock()
	defer ex.b.unlock()
	ws.watch = on
	if ws.notify == nil {
		srv := ex.srv
		ws.notify = func() { srv.post(hostEvent{ex: ex, typ: evWSReady}) }
	}
	if on && len(ws.inbox) > 0 && !ws.notified {
		ws.notified = true
		ws.notify()
	}
	return nil
}

// WSSendNowait is WSSend without the wait for a slow client: the message
// is queued, and if the output is over the high-water mark it returns
// ErrPending and posts EvWritten once the client has taken enough.
func (ex *Exchange) WSSendNowait(kind int, p []byte) error {
	ws := ex.ws
	if ws == nil {
		return ErrState
	}
	b := ex.b
	b.lock()
	defer b.unlock()
	if err := ws.queue(kind, p); err != nil {
		return err
	}
	b.flushWSNow(ws)
	if !b.overWater(ws.ep.OutputLen) {
		return nil
	}
	go func() {
		b.lock()
		b.waitDrained(ws.ep.OutputLen)
		b.unlock()
		ex.srv.post(hostEvent{ex: ex, typ: EvWritten})
	}()
	return ErrPending
}

// SetNowait makes Respond and Write of this request never wait for the
// client: see ErrPending. The host calls it before those calls, from the
// request's thread.
func (ex *Exchange) SetNowait(on bool) { ex.nowait = on }

// WatchGone asks for one EvBody event with ErrIO if the client goes away
// before the response ends: an HTTP/2 stream reset or a lost connection,
// on HTTP/1.x the client's EOF or a reset (h1gone.go).
func (ex *Exchange) WatchGone() error {
	if c, ok := ex.b.(*conn); ok {
		return c.watchGone(ex)
	}
	s, ok := ex.b.(*h2stream)
	if !ok {
		return ErrState
	}
	s.lock()
	defer s.unlock()
	if ex.finished {
		return ErrState
	}
	if s.reset {
		ex.srv.post(hostEvent{ex: ex, typ: EvBody, err: ErrIO})
		return nil
	}
	ex.watchGone = true
	return nil
}
