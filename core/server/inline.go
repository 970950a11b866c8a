package server

// Inline I/O: cleartext HTTP/1.1 served on the host's own thread. The
// host's pull call (Next) runs an epoll loop over the inline listeners and
// connections: it accepts, reads, parses and queues requests, and the
// host's respond() writes the answer at once. A keep-alive request then
// costs no goroutine wake-up and no thread hand-off. Anything else (h2
// preface, Upgrade, Expect: 100-continue, a body not yet fully received,
// CONNECT, a refusal) is handed to the goroutine path at a request boundary.
// TLS listeners never run inline.

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	epollET      = 1 << 31 // EPOLLET; the syscall package's constant is negative
	inlineEvents = 128
	// janitorTick bounds how late a timeout fires, and how long a
	// connection waits to be accepted while no host thread is pulling.
	janitorTick = 100 * time.Millisecond
	lingerTime  = time.Second
)

type inlineLoop struct {
	s    *Server
	epfd int
	rfd  int // the readiness eventfd, in the epoll set

	mu     sync.Mutex // held by the one thread running the loop
	events [inlineEvents]syscall.EpollEvent
	ready  []*Exchange // parsed requests for the host, in order (under mu)
	head   int         // ready[head:] are waiting
	turn   bool        // take: the inline list's turn first

	cmu         sync.Mutex
	conns       map[int32]*conn // by descriptor
	lns         map[int32]bool  // inline listener descriptors
	acceptRetry bool            // an accept failed for want of resources

	qmu    sync.Mutex
	parseQ []*conn // response finished with input pending: parse it

	now       atomic.Int64 // coarse clock (unix ns), set at each pass
	lastSweep int64        // under mu
	janitorOn bool         // the janitor runs this pass (under mu)
	lastPass  atomic.Int64

	// eventMode: the host polls (Poll) instead of pulling (Next), so
	// WebSockets stay inline too: nothing on the host's side blocks.
	eventMode atomic.Bool
	rbuf      [readChunk]byte // the loop thread's read buffer for WebSockets
}

func newInlineLoop(s *Server) (*inlineLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	rfd, err := s.ready.get()
	if err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(rfd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, rfd, &ev); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	l := &inlineLoop{s: s, epfd: epfd, rfd: rfd, conns: make(map[int32]*conn), lns: make(map[int32]bool)}
	l.now.Store(time.Now().UnixNano())
	return l, nil
}

// inlineListenerFD returns the descriptor of a cleartext TCP or Unix
// listener (still owned by the listener), or -1.
func inlineListenerFD(ln net.Listener) int {
	type rawer interface {
		SyscallConn() (syscall.RawConn, error)
	}
	switch ln.(type) {
	case *net.TCPListener, *net.UnixListener:
	default:
		return -1
	}
	rc, err := ln.(rawer).SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// addListener makes the loop accept on fd (edge-triggered: accept until
// EAGAIN).
func (l *inlineLoop) addListener(fd int) error {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollET, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	if len(l.lns) == 0 {
		go l.janitor()
	}
	l.lns[int32(fd)] = true
	l.acceptRetry = true // connections may have queued before the registration
	return nil
}

// stopAccepting forgets the listeners before Shutdown closes them, so the
// loop never accepts on a descriptor number that was reused.
func (l *inlineLoop) stopAccepting() {
	l.cmu.Lock()
	for fd := range l.lns {
		syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		delete(l.lns, fd)
	}
	l.cmu.Unlock()
}

// next runs the loop until a request is ready or timeout passes (negative:
// forever; 0: one non-blocking pass). The caller checks s.closed on nil.
func (l *inlineLoop) next(timeout time.Duration) *Exchange {
	s := l.s
	l.mu.Lock()
	defer l.mu.Unlock()
	s.ready.sleeping.Store(false)
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if ex := l.take(); ex != nil {
			return ex
		}
		wait := time.Duration(0)
		if timeout != 0 {
			if timeout > 0 {
				wait = time.Until(deadline)
				if wait <= 0 {
					return nil
				}
			} else {
				wait = janitorTick
			}
			wait = min(wait, janitorTick)
		}
		select {
		case <-s.closed:
			// The descriptors may be gone: serve what is queued, then end.
			return l.take()
		default:
		}
		if wait > 0 {
			// A request queued by a goroutine or a responder from now on
			// signals the eventfd, which is in the epoll set.
			s.ready.sleeping.Store(true)
			if ex := l.take(); ex != nil {
				s.ready.sleeping.Store(false)
				return ex
			}
		}
		got := l.pass(wait)
		if wait > 0 {
			s.ready.sleeping.Store(false) // awake: the queue is checked next
		}
		if timeout == 0 && !got {
			// The host may wait on the descriptor now: see wait in server.go.
			s.ready.sleeping.Store(true)
			return l.take()
		}
	}
}

// take returns a queued request, from the goroutine path's queue and the
// inline list in turn: neither starves the other (a flood of slow uploads
// on the goroutine path must not hold back every keep-alive GET).
func (l *inlineLoop) take() *Exchange {
	l.turn = !l.turn
	if l.turn {
		if ex := l.pop(); ex != nil {
			return ex
		}
	}
	select {
	case ex := <-l.s.queue:
		return ex
	default:
	}
	if ex := l.pop(); ex != nil {
		return ex
	}
	l.runParseQ()
	return l.pop()
}

func (l *inlineLoop) pop() *Exchange {
	if l.head == len(l.ready) {
		return nil
	}
	ex := l.ready[l.head]
	l.ready[l.head] = nil
	l.head++
	if l.head == len(l.ready) {
		l.ready, l.head = l.ready[:0], 0
	}
	return ex
}

func (l *inlineLoop) pushParse(c *conn) {
	l.qmu.Lock()
	l.parseQ = append(l.parseQ, c)
	l.qmu.Unlock()
	l.s.ready.wake()
}

func (l *inlineLoop) runParseQ() {
	l.qmu.Lock()
	q := l.parseQ
	l.parseQ = nil
	l.qmu.Unlock()
	for _, c := range q {
		c.mu.Lock()
		if c.in != nil && !c.in.closed && c.ex == nil {
			if c.wsLive {
				c.inReadWS()
			} else {
				c.inRead()
			}
		}
		c.mu.Unlock()
	}
}

// pass waits up to wait for events and handles them; it reports whether a
// request became ready. Under mu.
func (l *inlineLoop) pass(wait time.Duration) bool {
	ms := 0
	if wait > 0 {
		ms = int((wait + time.Millisecond - 1) / time.Millisecond)
	}
	var n uintptr
	var errno syscall.Errno
	if ms == 0 {
		n, _, errno = syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
			uintptr(unsafe.Pointer(&l.events[0])), inlineEvents, 0, 0, 0)
	} else {
		n, _, errno = syscall.Syscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
			uintptr(unsafe.Pointer(&l.events[0])), inlineEvents, uintptr(ms), 0, 0)
	}
	now := time.Now().UnixNano()
	l.now.Store(now)
	l.lastPass.Store(now)
	before := len(l.ready) - l.head
	if errno == 0 {
		for i := 0; i < int(n); i++ {
			l.handle(l.events[i])
		}
	}
	if now-l.lastSweep >= int64(janitorTick) {
		l.lastSweep = now
		l.sweep(now)
	}
	return len(l.ready)-l.head > before
}

func (l *inlineLoop) handle(ev syscall.EpollEvent) {
	fd := ev.Fd
	if int(fd) == l.rfd {
		if l.janitorOn {
			return // it is the host's wake-up: leave it readable
		}
		var b [8]byte
		syscall.Read(l.rfd, b[:]) // clear it; the queue is checked next
		return
	}
	l.cmu.Lock()
	c := l.conns[fd]
	isListener := c == nil && l.lns[fd]
	l.cmu.Unlock()
	if isListener {
		l.accept(int(fd))
		return
	}
	if c != nil {
		c.inEvent(ev.Events)
	}
}

// accept takes every pending connection on listener fd.
func (l *inlineLoop) accept(fd int) {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	if !l.lns[int32(fd)] {
		return
	}
	for {
		nfd, sa, err := syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		switch err {
		case nil:
		case syscall.EAGAIN:
			return
		case syscall.EINTR, syscall.ECONNABORTED:
			continue
		default:
			// Out of descriptors and the like: the sweep tries again.
			l.s.setError("accept: " + err.Error())
			l.acceptRetry = true
			return
		}
		if l.s.draining.Load() {
			syscall.Close(nfd)
			continue
		}
		c := newInlineConn(l, nfd, sa)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET, Fd: int32(nfd)}
		l.s.connWG.Add(1)
		openConns.Add(1) // forget or inClose takes it back
		l.conns[int32(nfd)] = c
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, nfd, &ev); err != nil {
			delete(l.conns, int32(nfd))
			syscall.Close(nfd)
			openConns.Add(-1)
			l.s.connWG.Done()
		}
	}
}

// sweep closes connections past their timeouts and retries failed accepts.
func (l *inlineLoop) sweep(now int64) {
	l.cmu.Lock()
	retry := l.acceptRetry
	l.acceptRetry = false
	var lns []int
	if retry {
		for fd := range l.lns {
			lns = append(lns, int(fd))
		}
	}
	var due []*conn
	draining := l.s.draining.Load()
	for _, c := range l.conns {
		if d := c.in.deadline.Load(); d != 0 && now > d || draining {
			due = append(due, c)
		}
	}
	l.cmu.Unlock()
	for _, fd := range lns {
		l.accept(fd)
	}
	for _, c := range due {
		c.mu.Lock()
		if in := c.in; in != nil && !in.closed && c.ex == nil {
			switch {
			case in.deadline.Load() != 0 && now > in.deadline.Load():
				if in.awaiting != nil {
					c.inHandOverAwaiting() // inline_conn.go
				} else {
					c.inClose()
				}
			case draining && !c.wsLive && c.p.Idle() && !in.linger:
				c.inDrainClose()
			}
		}
		c.mu.Unlock()
	}
}

// janitor runs a pass when no host thread has for a while, so timeouts
// fire and connections are accepted even while the host is busy elsewhere.
func (l *inlineLoop) janitor() {
	t := time.NewTicker(janitorTick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.s.closed:
			return
		}
		if time.Now().UnixNano()-l.lastPass.Load() < int64(janitorTick) || !l.mu.TryLock() {
			continue
		}
		select {
		case <-l.s.closed:
			l.mu.Unlock()
			return
		default:
		}
		l.janitorOn = true
		l.runParseQ()
		l.pass(0)
		l.janitorOn = false
		pending := l.head < len(l.ready)
		l.mu.Unlock()
		if pending {
			l.s.ready.signal() // a host waiting on the descriptor takes them
		}
	}
}

// snapshot is the inline connections now, to visit without holding cmu.
func (l *inlineLoop) snapshot() []*conn {
	l.cmu.Lock()
	defer l.cmu.Unlock()
	cs := make([]*conn, 0, len(l.conns))
	for _, c := range l.conns {
		cs = append(cs, c)
	}
	return cs
}

// beginDrain starts a graceful shutdown of the inline connections. Idle
// ones are closed by the loop's next sweep (within janitorTick), which reads
// them first; busy ones close after their answer (which says Connection:
// close). A WebSocket is told the server is going away (1001) and ends when
// the client answers, or closeWait later.
func (l *inlineLoop) beginDrain() {
	for _, c := range l.snapshot() {
		c.mu.Lock()
		if in := c.in; in != nil && !in.closed && c.wsLive {
			c.ws.close(1001, "server shutting down")
			c.wsClosing()
		}
		c.mu.Unlock()
	}
}

// closeAll ends every inline connection (the graceful period is over).
func (l *inlineLoop) closeAll() {
	for _, c := range l.snapshot() {
		c.mu.Lock()
		if c.in != nil && !c.in.closed {
			if c.err == nil {
				c.err = ErrClosed
			}
			c.inClose()
		}
		c.mu.Unlock()
	}
}

func (l *inlineLoop) close() {
	l.mu.Lock()
	syscall.Close(l.epfd)
	l.epfd = -1
	l.mu.Unlock()
}

// listenInline hands a cleartext listener to the inline loop (made on
// first use); false leaves it to the goroutine path.
func (s *Server) listenInline(ln net.Listener) bool {
	fd := inlineListenerFD(ln)
	if fd < 0 {
		return false
	}
	return s.inl != nil && s.inl.addListener(fd) == nil
}
