package server

// Request bodies against the host's workers. A request whose body is still
// coming stays with the driver, holding no worker, until the whole body or
// prefetch_size of it has arrived (nginx's request buffering), or, for a
// body of unknown length (which may be a conversation: each chunk answered
// before the next is sent), until its first bytes have; a stream
// reset before the host took it never reaches the host. While anyone waits
// for body bytes (the driver before the hand-over, or the app in Read), the
// client must never stall for body_timeout, and past min_body_rate_grace
// its average over the waiting must stay at min_body_rate (Kestrel's
// MinRequestBodyDataRate). A client that fails either gets 408 (HTTP/1.x,
// then close) or RST_STREAM CANCEL (HTTP/2), and a log line.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/portico-http/portico/core/h1"
)

// The two ways a body wait ends on the library's account; both are
// ErrTimeout to the host (PORTICO_ERR_DONE).
var (
	errBodyStalled error = bodyTimeout("no request body bytes for body_timeout")
	errBodySlow    error = bodyTimeout("request body slower than min_body_rate")
)

type bodyTimeout string

func (e bodyTimeout) Error() string        { return string(e) }
func (e bodyTimeout) Is(target error) bool { return target == ErrTimeout }

// bodyClock measures a request body against min_body_rate: the time spent
// waiting for its bytes and the bytes that came.
type bodyClock struct {
	waited time.Duration
	bytes  int64
}

// left is how much longer a wait for body bytes may last, sinceByte after
// the last byte came, and the error it ends with then.
func (bc *bodyClock) left(o *Options, sinceByte time.Duration) (time.Duration, error) {
	d, why := o.BodyTimeout-sinceByte, errBodyStalled
	if o.MinBodyRate > 0 {
		// The rate fails once waited > max(grace, bytes/rate).
		covered := time.Duration(float64(bc.bytes) / float64(o.MinBodyRate) * float64(time.Second))
		if r := max(o.MinBodyRateGrace, covered) - bc.waited; r < d {
			d, why = r, errBodySlow
		}
	}
	return max(d, 0), why
}

func (bc *bodyClock) add(waited time.Duration, n int) {
	bc.waited += waited
	bc.bytes += int64(n)
}

// describe names a request for a log line: "POST /upload".
func (ex *Exchange) describe() string {
	method, rest, _ := bytes.Cut(ex.head, []byte{0})
	path, _, _ := bytes.Cut(rest, []byte{0})
	return string(method) + " " + string(path)
}

// peer is the client's address from packed addresses ("scheme\0host\0port...").
func peer(addrs []byte) string {
	f := bytes.SplitN(addrs, []byte{0}, 4)
	if len(f) < 3 || len(f[1]) == 0 {
		return "unix socket"
	}
	return string(f[1]) + ":" + string(f[2])
}

// slowBodyLog tells of a request a stalled or trickling body ended (what:
// "408" or "RST_STREAM CANCEL"). A host that takes the server's own answers
// (report_answers) gets the 408 of a request it never saw as an answer
// record, and logs a request it had from the error its read got; the rest
// (a stream reset before the host saw it, any host without report_answers)
// is the library's own line.
func (ex *Exchange) slowBodyLog(addrs []byte, what string, why error) {
	detail := fmt.Sprintf("%v; %d body bytes in %.1fs of waiting", why, ex.clock.bytes, ex.clock.waited.Seconds())
	s := ex.srv
	switch {
	case s.opts.ReportAnswers && ex.handed:
	case s.opts.ReportAnswers && what == "408":
		s.reportAnswer(&Exchange{srv: s, id: lastID.Add(1), head: ex.head, answer: answerText(408, detail)})
	default:
		logf("%s to %s (%s): %s", what, peer(addrs), ex.describe(), detail)
	}
}

// logOutput receives the library's own log lines. Written like the Python
// binding's ("[portico] ..."), they sit in the same stream as its lines.
var (
	logMu     sync.Mutex
	logOutput io.Writer = os.Stderr
)

func logf(format string, args ...any) {
	line := "[portico] " + fmt.Sprintf(format, args...) + "\n"
	logMu.Lock()
	io.WriteString(logOutput, line)
	logMu.Unlock()
}

// claim marks a queued request as taken by the host; false if it was
// finished meanwhile (its stream reset, or the request timeout answered
// it): the host must not see it.
func (ex *Exchange) claim() bool {
	ex.b.lock()
	defer ex.b.unlock()
	if ex.finished {
		return false
	}
	ex.handed = true
	return true
}

// ---- HTTP/1.x ----

// gatesBody: the request waits for its body before the host gets it. A
// WebSocket handshake carries none, and Expect: 100-continue leaves the
// choice to the app (the 100 goes out when it reads).
func (ex *Exchange) gatesBody(limit int) bool {
	return !ex.bodyDone && ex.bodyErr == nil && len(ex.pending) < limit && !ex.expect100 && ex.offer == nil &&
		!(ex.unsized && len(ex.pending) > 0)
}

// awaitBody reads the body of ex (goroutine path) until all of it or
// prefetch_size has arrived. Called and returns with mu held; false: the
// connection ends and the host never sees the request (the client closed,
// or stalled and got 408).
func (c *conn) awaitBody(ex *Exchange) bool {
	o := &c.srv.opts
	ex.clock.bytes = int64(len(ex.pending)) // what came with the head counts
	for ex.gatesBody(o.PrefetchSize) {
		if c.eof {
			return false
		}
		allow, why := ex.clock.left(o, 0)
		buf := c.p.RecvBuffer(readChunk)
		start := time.Now()
		c.dl.forceRead(c.nc, start.Add(allow))
		c.mu.Unlock()
		n, err := c.nc.Read(buf)
		c.mu.Lock()
		ex.clock.add(time.Since(start), n)
		if n > 0 {
			c.p.Commit(n)
			c.prefetch(ex, o.PrefetchSize)
			continue
		}
		if isTimeout(err) {
			c.answerSlowBody(ex, why)
			return false
		}
		if err != nil && !isEOF(err) {
			return false
		}
		c.eof = true
		c.p.Commit(0)
		c.prefetch(ex, o.PrefetchSize)
		if !ex.bodyDone {
			return false
		}
	}
	c.dl.forceRead(c.nc, time.Time{})
	return true
}

// answerSlowBody answers 408 to a request the host never saw, and closes.
func (c *conn) answerSlowBody(ex *Exchange, why error) {
	ex.slowBodyLog(c.addrs, "408", why)
	out := c.write408(nil)
	c.mu.Unlock()
	c.dl.setWrite(c.nc, time.Now().Add(c.srv.opts.BodyTimeout))
	c.nc.Write(out)
	lingerClose(c.nc)
	c.mu.Lock()
}

// endSlowBody ends a request whose app waited in Read for a body that
// stalled or trickled: 408 if nothing was sent yet, and the connection
// closes either way (under mu).
func (c *conn) endSlowBody(ex *Exchange, why error) {
	ex.slowBodyLog(c.addrs, "408", why)
	if !ex.started && c.err == nil {
		c.out = c.write408(c.out)
		ex.started = true
	}
	c.abandon(ex)
}

func (c *conn) write408(dst []byte) []byte {
	r := h1.Response{Status: 408, Date: c.srv.date.get(), End: true,
		Fields: []h1.Field{{Name: []byte("Content-Length"), Value: []byte("0")},
			{Name: []byte("Connection"), Value: []byte("close")}}}
	out, _ := c.p.WriteResponse(dst, &r)
	return out
}

// ---- HTTP/2 ----

// bodyReady: the stream's request may go to the host (under mu).
func (s *h2stream) bodyReady() bool {
	ex := s.ex
	return s.ended || ex.bodyDone || ex.offer != nil || len(s.body) > 0 ||
		len(ex.pending) >= s.hc.c.srv.opts.PrefetchSize || ex.unsized && len(ex.pending) > 0
}

// admit decides, after a batch of frames, what becomes of the new streams
// and of parked ones whose body came: those finished meanwhile (reset) are
// gone, those still waiting for their body park, the rest join the
// backlog. It returns the requests the host gets now, within the worker
// cap; from here their records belong to the host. Under mu.
func (hc *h2conn) admit() []*Exchange {
	for _, ex := range hc.fresh {
		s := ex.b.(*h2stream)
		switch {
		case ex.finished:
		case !s.bodyReady():
			s.parked, s.lastData = true, s.opened
			ex.clock.bytes = int64(len(ex.pending))
			hc.armParked(s)
		default:
			hc.backlog = append(hc.backlog, s)
		}
	}
	clear(hc.fresh)
	hc.fresh = hc.fresh[:0]
	return hc.take()
}

// take moves backlog streams to the host while the cap allows (under mu).
func (hc *h2conn) take() []*Exchange {
	limit := hc.c.srv.opts.workerStreams()
	var out []*Exchange
	i := 0
	for ; i < len(hc.backlog) && (limit == 0 || hc.active < limit); i++ {
		s := hc.backlog[i]
		if s.ex.finished {
			continue
		}
		s.queued, s.counted = true, true
		hc.active++
		out = append(out, s.ex)
	}
	n := copy(hc.backlog, hc.backlog[i:])
	clear(hc.backlog[n:])
	hc.backlog = hc.backlog[:n]
	return out
}

// promote queues backlog streams once a stream left the host (under mu, on
// the host's thread). In order; if the queue is full, the rest wait for
// room apart from the host's thread.
func (hc *h2conn) promote() {
	if hc.dead {
		return
	}
	ready := hc.take()
	srv := hc.c.srv
	for len(ready) > 0 && srv.tryEnqueue(ready[0]) {
		ready = ready[1:]
	}
	if len(ready) == 0 {
		return
	}
	go func() {
		for _, ex := range ready {
			if !srv.enqueue(ex) {
				hc.mu.Lock()
				ex.finish()
				hc.mu.Unlock()
			}
		}
	}()
}

// tryEnqueue is enqueue without the wait, under ex's transport lock:
// false if the queue is full.
func (s *Server) tryEnqueue(ex *Exchange) bool {
	if d := s.opts.RequestTimeout; d > 0 {
		ex.timer = time.AfterFunc(d, ex.expire)
	}
	select {
	case s.queue <- ex:
		s.ready.wake()
		return true
	default:
		ex.stopTimerLocked()
		return false
	}
}

// unpark readmits a parked stream whose body came (under mu).
func (hc *h2conn) unpark(s *h2stream) {
	if !s.parked || !s.bodyReady() {
		return
	}
	s.parked = false
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	hc.fresh = append(hc.fresh, s.ex)
}

// armParked ends a parked stream whose body stalls or trickles, or checks
// it again when it next could (under mu).
func (hc *h2conn) armParked(s *h2stream) {
	now := time.Now()
	s.ex.clock.waited = now.Sub(s.opened)
	left, why := s.ex.clock.left(&hc.c.srv.opts, now.Sub(s.lastData))
	if left <= 0 {
		s.ex.slowBodyLog(hc.c.addrs, "RST_STREAM CANCEL", why)
		hc.p.Reset(s.id, http2.ErrCodeCancel)
		s.gone() // and dropUnseen
		hc.c.wakeUp()
		return
	}
	s.timer = time.AfterFunc(left, func() {
		hc.mu.Lock()
		defer hc.mu.Unlock()
		if s.parked && !s.reset {
			hc.armParked(s)
		}
	})
}

// dropUnseen ends the exchange of a stream the host never took (under mu).
func (hc *h2conn) dropUnseen(s *h2stream) {
	hc.unseen++
	s.ex.reported.Store(true) // not the server's answer: no record of it (answered.go)
	s.parked = false
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.ex.finish() // a queued one is skipped by claim
}

// logResets says at the end of a connection how many of its streams were
// reset, and how many requests the host never saw (under mu).
func (hc *h2conn) logResets() {
	if hc.resets > 0 {
		logf("HTTP/2 connection from %s closed: %d streams reset, %d requests ended before the app saw them",
			peer(hc.c.addrs), hc.resets, hc.unseen)
	}
}
