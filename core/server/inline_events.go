package server

// Event mode on the inline loop: an event-loop host (asyncio) waits on the
// loop's epoll descriptor, and each Poll runs one non-blocking pass on the
// host's thread before it packs the batch. Requests, and the messages of
// WebSockets accepted on inline connections (inline_ws.go), then reach the
// host without a goroutine or a thread hand-off; a keep-alive request or an
// echoed message costs one read and one write on the host's thread.

// poll is Server.Poll for a server with the inline loop.
func (l *inlineLoop) poll(dst []byte, code func(error) int16) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.eventMode.Store(true)
	s := l.s
	s.ready.sleeping.Store(false)
	select {
	case <-s.closed:
		// The descriptors may be gone: hand over what is queued, then end.
	default:
		l.runParseQ()
		l.pass(0)
	}
	return s.pollQueue(dst, code, l)
}

// parsePending reports connections waiting for runParseQ.
func (l *inlineLoop) parsePending() bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.parseQ) > 0
}
