// Package server is the driver around the sans-I/O engines: it owns
// listeners and sockets, runs one goroutine per connection, applies
// timeouts and limits, and queues requests for a host that pulls them.
package server

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned to the host; capi maps each to a PORTICO_ERR_* code.
var (
	ErrTimeout  = errors.New("timed out")
	ErrClosed   = errors.New("server closed")
	ErrBuffer   = errors.New("buffer too small")
	ErrState    = errors.New("not valid in this state")
	ErrHeader   = errors.New("malformed status or header")
	ErrIO       = errors.New("connection failed or client went away")
	ErrTooLarge = errors.New("request body over max_body_size")
	// The response body disagrees with its Content-Length: what the length
	// allows went out, the response was cut there (connection closed or
	// stream reset), never more.
	ErrLength = errors.New("response body disagrees with its Content-Length")
)

// Server accepts connections and queues their requests for the host.
type Server struct {
	opts  Options
	queue chan *Exchange

	mu        sync.Mutex
	listeners []net.Listener
	secure    []bool // listener i speaks TLS
	conns     map[*conn]struct{}
	stashed   *Exchange // a request whose record did not fit the host's buffer
	lastErr   string
	tls       *tls.Config // loaded at the first TLS listener

	draining atomic.Bool
	connWG   sync.WaitGroup
	kill     chan struct{} // closed when the graceful period is over
	closed   chan struct{} // closed when Shutdown has finished
	shutOnce sync.Once

	date  dateCache
	ready readyFD

	// Event mode (events.go): events for Poll, oldest first.
	evMu    sync.Mutex
	evq     []hostEvent
	evSpare []hostEvent
	inl     *inlineLoop // with InlineIO, made at New (inline.go)
}

// New makes a server; it accepts nothing until Listen.
func New(opts Options) *Server {
	s := &Server{
		opts:   opts,
		queue:  make(chan *Exchange, opts.QueueSize),
		conns:  make(map[*conn]struct{}),
		kill:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	if opts.InlineIO {
		// Made now: the host asks for the descriptor before it listens.
		// Without it, everything runs on the goroutine path.
		s.inl, _ = newInlineLoop(s)
	}
	return s
}

// Listen binds addr and starts accepting on it. It returns the listener's index.
func (s *Server) Listen(addr string) (int, error) {
	if s.draining.Load() {
		return -1, ErrClosed
	}
	addr, secure := s.splitScheme(addr)
	var cfg *tls.Config
	if secure {
		var err error
		if cfg, err = s.tlsConfig(); err != nil {
			s.setError(err.Error())
			return -1, err
		}
	}
	l, err := listen(addr)
	if err != nil {
		s.setError(err.Error())
		return -1, err
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.secure = append(s.secure, secure)
	idx := len(s.listeners) - 1
	s.mu.Unlock()
	if !secure && s.listenInline(l) {
		return idx, nil
	}
	go s.accept(l, cfg)
	return idx, nil
}

// Address names listener idx as bound ("127.0.0.1:43121").
func (s *Server) Address(idx int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx < 0 || idx >= len(s.listeners) {
		return "", false
	}
	a := listenerAddress(s.listeners[idx])
	if s.secure[idx] {
		a = "https://" + a
	}
	return a, true
}

// LastError is the message of the last failure that had more to say than
// its error code.
func (s *Server) LastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *Server) setError(msg string) {
	s.mu.Lock()
	s.lastErr = msg
	s.mu.Unlock()
}

func (s *Server) accept(l net.Listener, cfg *tls.Config) {
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.draining.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAcceptError(err) {
				// Out of descriptors and the like: wait, do not spin.
				if backoff == 0 {
					backoff = 5 * time.Millisecond
				} else if backoff < time.Second {
					backoff *= 2
				}
				s.setError("accept: " + err.Error())
				time.Sleep(backoff)
				continue
			}
			s.setError("accept: " + err.Error())
			return
		}
		backoff = 0
		if cfg != nil {
			nc = tls.Server(nc, cfg)
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.draining.Load() {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		openConns.Add(1)
		s.connWG.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	openConns.Add(-1)
	s.mu.Unlock()
	s.connWG.Done()
}

// enqueue hands a request to the host. It blocks while the queue is full
// (backpressure on the connection) and gives up once the server is killed.
func (s *Server) enqueue(ex *Exchange) bool {
	if d := s.opts.RequestTimeout; d > 0 {
		// Time in the queue counts: the client waits just the same.
		ex.b.lock()
		ex.timer = time.AfterFunc(d, ex.expire)
		ex.b.unlock()
	}
	select {
	case s.queue <- ex:
		s.ready.wake()
		return true
	case <-s.kill:
		ex.stopTimer()
		return false
	}
}

// Next waits up to timeout (negative: forever) for a request and writes its
// record into dst. See portico_server_next for the layout.
func (s *Server) Next(timeout time.Duration, dst []byte) (int, error) {
	ex := s.takeStashed()
	for ex == nil {
		if s.inl != nil {
			ex = s.inl.next(timeout)
		} else {
			ex = s.wait(timeout)
		}
		if ex == nil {
			select {
			case <-s.closed:
				return 0, ErrClosed
			default:
				return 0, ErrTimeout
			}
		}
		if ex.answer == nil {
			if ex.expiredInQueue() || !ex.claim() {
				// Answered 503 while it waited (the host sees at most its
				// record), or reset (the host never sees it).
				ex = s.unseenAnswer(ex)
			}
		}
	}
	n, err := ex.record(dst)
	if err == ErrBuffer {
		s.mu.Lock()
		s.stashed = ex
		s.mu.Unlock()
	}
	return n, err
}

func (s *Server) takeStashed() *Exchange {
	s.mu.Lock()
	ex := s.stashed
	s.stashed = nil
	s.mu.Unlock()
	return ex
}

var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

func (s *Server) wait(timeout time.Duration) *Exchange {
	select {
	case ex := <-s.queue:
		return ex
	default:
	}
	if timeout == 0 {
		if s.ready.fd.Load() > 0 {
			// The host may wait on the descriptor now; a request queued
			// after this store wakes it, one queued before is taken here.
			s.ready.sleeping.Store(true)
			select {
			case ex := <-s.queue:
				s.ready.sleeping.Store(false)
				return ex
			default:
			}
		}
		return nil
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := timerPool.Get().(*time.Timer)
		t.Reset(timeout)
		defer func() { t.Stop(); timerPool.Put(t) }()
		expired = t.C
	}
	select {
	case ex := <-s.queue:
		return ex
	case <-expired:
		return nil
	case <-s.closed:
		// Requests queued before the end are still served.
		select {
		case ex := <-s.queue:
			return ex
		default:
			return nil
		}
	}
}

// Close shuts the server down (if not yet) and releases its descriptor.
func (s *Server) Close() {
	s.Shutdown()
	if s.inl != nil {
		s.inl.close()
	}
	s.ready.close()
}

// ReadyFD returns the readiness descriptor (made on first use): it becomes
// readable when a request arrives after Next(0) found none, and at the end
// of Shutdown. Reading it (8 bytes) clears it.
func (s *Server) ReadyFD() (int, error) {
	if s.inl != nil {
		return s.inl.epfd, nil
	}
	return s.ready.get()
}

// Shutdown stops accepting, closes idle connections, lets requests in flight
// finish for up to GracefulTimeout and then closes what is left. It blocks
// until done; a second call waits for the first.
func (s *Server) Shutdown() {
	s.shutOnce.Do(s.shutdown)
	<-s.closed
}

func (s *Server) shutdown() {
	if s.inl != nil {
		s.inl.stopAccepting()
	}
	s.mu.Lock()
	s.draining.Store(true)
	for _, l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.beginDrain()
	}
	if s.inl != nil {
		s.inl.beginDrain()
	}

	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	t := time.NewTimer(s.opts.GracefulTimeout)
	select {
	case <-done:
	case <-t.C:
		close(s.kill)
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		if s.inl != nil {
			s.inl.closeAll()
		}
		// The connections unwind at once now; bound the wait anyway.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	t.Stop()
	select {
	case <-s.kill:
	default:
		close(s.kill)
	}
	close(s.closed)
	s.ready.signal() // a host waiting on the descriptor sees the end
}
