package server

// Request bodies against the host's workers (bodywait.go), over real
// sockets: absent and trickling bodies, the per-connection cap on HTTP/2
// streams with the host, and resets before the host took a request.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// captureLog collects the library's log lines for the test.
func captureLog(t *testing.T) func() string {
	var mu sync.Mutex
	var b bytes.Buffer
	logMu.Lock()
	old := logOutput
	logOutput = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	})
	logMu.Unlock()
	t.Cleanup(func() {
		logMu.Lock()
		logOutput = old
		logMu.Unlock()
	})
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// forBothH1Paths runs f on the goroutine path and on the inline loop.
func forBothH1Paths(t *testing.T, f func(t *testing.T, inline bool)) {
	t.Run("goroutine", func(t *testing.T) { f(t, false) })
	t.Run("inline", func(t *testing.T) { f(t, true) })
}

// noRequest checks that the host gets nothing for a while.
func (h *host) noRequest(what string, wait time.Duration) {
	h.t.Helper()
	if n, err := h.srv.Next(wait, h.buf); err == nil {
		h.t.Fatalf("%s: the host got %q", what, h.parse(h.buf[:n]).fields[:2])
	}
}

// Thirty HTTP/1.1 connections announce a body and send none: the host gets
// none of them, another client is served, a body that comes is handed over
// whole, and the rest get 408 once min_body_rate's grace is over.
func TestBodyAbsentH1HoldsNoWorker(t *testing.T) {
	forBothH1Paths(t, func(t *testing.T, inline bool) {
		logged := captureLog(t)
		h, addr := startServer(t, func(o *Options) {
			o.InlineIO = inline
			o.MinBodyRateGrace = 1500 * time.Millisecond
		})
		var conns []net.Conn
		for i := 0; i < 30; i++ {
			c, _ := dial(t, addr)
			fmt.Fprintf(c, "POST /up/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", i)
			conns = append(conns, c)
		}
		h.noRequest("bodies not sent", 300*time.Millisecond)

		other, otherR := dial(t, addr)
		fmt.Fprint(other, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
		p := h.next()
		if p.fields[1] != "/other" {
			t.Fatalf("first request: %s", p.fields[1])
		}
		p.ex.Respond(head("200 OK"), []byte("other"), true)
		if resp, body := readResp(t, otherR); resp.StatusCode != 200 || body != "other" {
			t.Fatalf("bystander: %d %q", resp.StatusCode, body)
		}

		conns[7].Write(bytes.Repeat([]byte("b"), 1000))
		p = h.next()
		if p.fields[1] != "/up/7" || p.flags&reqBodyComplete == 0 || len(p.body) != 1000 {
			t.Fatalf("got %s, flags %d, %d body bytes", p.fields[1], p.flags, len(p.body))
		}
		p.ex.Respond(head("200 OK"), nil, true)

		for i, c := range conns {
			if i == 7 {
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if line != "HTTP/1.1 408 Request Timeout\r\n" {
				t.Fatalf("connection %d: %q %v", i, line, err)
			}
		}
		h.noRequest("after the 408s", 100*time.Millisecond)
		if n := strings.Count(logged(), "408 to 127.0.0.1"); n != 29 {
			t.Errorf("%d log lines for the 408s, want 29:\n%s", n, logged())
		}
	})
}

// A body that trickles in below min_body_rate while the app reads it ends
// with ErrTimeout for the app, 408 for the client and a log line; so does
// one that stops for body_timeout.
func TestBodyTrickleAndStallH1(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*Options)
		want error
		log  string
	}{
		{"min-rate", func(o *Options) { o.MinBodyRateGrace = 500 * time.Millisecond }, errBodySlow, "min_body_rate"},
		{"stall", func(o *Options) { o.MinBodyRate = 0; o.BodyTimeout = 500 * time.Millisecond }, errBodyStalled, "body_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forBothH1Paths(t, func(t *testing.T, inline bool) {
				logged := captureLog(t)
				h, addr := startServer(t, func(o *Options) {
					o.InlineIO = inline
					o.PrefetchSize = 4
					tc.opts(o)
				})
				c, r := dial(t, addr)
				fmt.Fprint(c, "POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabcd")
				p := h.next()
				stop := make(chan struct{})
				defer close(stop)
				if tc.name == "min-rate" {
					go func() { // 20 bytes/s
						for {
							select {
							case <-stop:
								return
							case <-time.After(50 * time.Millisecond):
								c.Write([]byte("x"))
							}
						}
					}()
				}
				start := time.Now()
				var err error
				buf := make([]byte, 100)
				for err == nil {
					_, err = p.ex.Read(buf, -1)
				}
				if err != tc.want {
					t.Fatalf("read: %v, want %v", err, tc.want)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("read ended after %v", d)
				}
				resp, _ := readResp(t, r)
				if resp.StatusCode != 408 {
					t.Errorf("client got %d", resp.StatusCode)
				}
				if err := p.ex.Respond(head("200 OK"), nil, true); err != ErrState {
					t.Errorf("respond after the 408: %v, want ErrState", err)
				}
				if l := logged(); !strings.Contains(l, "408 to 127.0.0.1") || !strings.Contains(l, tc.log) {
					t.Errorf("log: %q", l)
				}
			})
		})
	}
}

// One HTTP/2 connection opens 100 POST streams and sends no body: the host
// gets none of them, another connection is served, a stream whose body
// comes reaches the host, the rest are reset (CANCEL) after the grace.
func TestBodyAbsentH2HoldsNoWorker(t *testing.T) {
	logged := captureLog(t)
	h, addr := startServer(t, func(o *Options) { o.MinBodyRateGrace = 1500 * time.Millisecond })
	r := dialH2(t, addr)
	for id := uint32(1); id < 200; id += 2 {
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: r.block(
			":method", "POST", ":scheme", "http", ":authority", "x", ":path", fmt.Sprintf("/up/%d", id),
			"content-length", "5")})
	}
	h.noRequest("bodies not sent", 300*time.Millisecond)

	other := dialH2(t, addr)
	other.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
		BlockFragment: other.block(getFields("/other")...)})
	p := h.next()
	if p.fields[1] != "/other" {
		t.Fatalf("first request: %s", p.fields[1])
	}
	p.ex.Respond(head("200 OK"), []byte("other"), true)
	if s := other.status(1); s != "200" {
		t.Fatalf("bystander: %s", s)
	}

	r.fr.WriteData(9, true, []byte("hello"))
	p = h.next()
	if p.fields[1] != "/up/9" || p.flags&reqBodyComplete == 0 || string(p.body) != "hello" {
		t.Fatalf("got %s, flags %d, body %q", p.fields[1], p.flags, p.body)
	}
	p.ex.Respond(head("200 OK"), nil, true)

	resets := 0
	for resets < 99 {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d resets: %v", resets, err)
		}
		if rst, ok := f.(*http2.RSTStreamFrame); ok {
			if rst.ErrCode != http2.ErrCodeCancel || rst.StreamID == 9 {
				t.Fatalf("RST_STREAM %d %v", rst.StreamID, rst.ErrCode)
			}
			resets++
		}
	}
	h.noRequest("after the resets", 100*time.Millisecond)
	if n := strings.Count(logged(), "RST_STREAM CANCEL to 127.0.0.1"); n != 99 {
		t.Errorf("%d log lines for the resets, want 99", n)
	}
}

// An app reading an HTTP/2 body that stops: ErrTimeout, RST_STREAM CANCEL
// and a log line.
func TestBodyStallH2(t *testing.T) {
	logged := captureLog(t)
	h, addr := startServer(t, func(o *Options) {
		o.PrefetchSize = 2
		o.MinBodyRate = 0
		o.BodyTimeout = 500 * time.Millisecond
	})
	r := dialH2(t, addr)
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: r.block(
		":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/stall")})
	r.fr.WriteData(1, false, []byte("ab"))
	p := h.next()
	start := time.Now()
	if n, err := p.ex.Read(make([]byte, 16), -1); err != errBodyStalled {
		t.Fatalf("read: %d %v, want errBodyStalled", n, err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Errorf("read ended after %v", d)
	}
	if s := r.status(1); s != "RST_STREAM CANCEL" {
		t.Errorf("stream 1: %s", s)
	}
	if !strings.Contains(logged(), "RST_STREAM CANCEL to 127.0.0.1") {
		t.Errorf("log: %q", logged())
	}
}

// Streams of one connection with the host at once stop at half the pool;
// the next waits until one finishes.
func TestH2WorkerStreamCap(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.WorkerThreads = 4 })
	r := dialH2(t, addr)
	for id := uint32(1); id <= 9; id += 2 {
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
			BlockFragment: r.block(getFields(fmt.Sprintf("/s/%d", id))...)})
	}
	a, b := h.next(), h.next()
	h.noRequest("a third stream over the cap of 2", 300*time.Millisecond)
	// Another connection has a cap of its own.
	other := dialH2(t, addr)
	other.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
		BlockFragment: other.block(getFields("/other")...)})
	if p := h.next(); p.fields[1] != "/other" {
		t.Fatalf("other connection: %s", p.fields[1])
	}
	a.ex.Respond(head("200 OK"), nil, true)
	c := h.next()
	if c.fields[1] != "/s/5" {
		t.Fatalf("after one finished: %s", c.fields[1])
	}
	h.noRequest("still at the cap", 200*time.Millisecond)
	b.ex.Respond(head("200 OK"), nil, true)
	c.ex.Respond(head("200 OK"), nil, true)
	for _, want := range []string{"/s/7", "/s/9"} {
		if p := h.next(); p.fields[1] != want {
			t.Fatalf("got %s, want %s", p.fields[1], want)
		} else {
			p.ex.Respond(head("200 OK"), nil, true)
		}
	}
}

// A stream reset while its request waits in the queue, and streams opened
// and reset at once by a reconnecting client, never reach the host; the
// connection's resets are logged.
func TestResetBeforeHostNeverReachesIt(t *testing.T) {
	logged := captureLog(t)
	h, addr := startServer(t, nil)
	r := dialH2(t, addr)
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
		BlockFragment: r.block(getFields("/queued")...)})
	time.Sleep(200 * time.Millisecond) // queued, not taken
	r.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	time.Sleep(200 * time.Millisecond)
	h.noRequest("a reset stream", 100*time.Millisecond)

	var pulled int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := h.srv.Next(300*time.Millisecond, h.buf)
			if err != nil {
				return
			}
			pulled++
			h.parse(h.buf[:n]).ex.Respond(head("200 OK"), nil, true)
		}
	}()
	opened := 0
	for conn := 0; conn < 5; conn++ {
		a := dialH2(t, addr)
		blk := a.block(getFields("/rr")...)
		// In batches, as an attacker writes: each HEADERS with its RST_STREAM.
		bw := bufio.NewWriterSize(a.c, 64<<10)
		fr := http2.NewFramer(bw, nil)
		for id := uint32(1); id < 2*1200; id += 2 {
			if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true, EndStream: true}) != nil ||
				fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				break
			}
			opened++
			if opened%100 == 0 && bw.Flush() != nil {
				break
			}
		}
		bw.Flush()
		a.goAway()
		a.c.Close()
	}
	<-done
	// A request may reach the host before its reset is read: a few may.
	if pulled > opened/10 {
		t.Errorf("%d of %d reset streams reached the host", pulled, opened)
	}
	settled(t, "reset lines", func() bool { return strings.Count(logged(), "streams reset") >= 5 })
	t.Logf("%d streams opened and reset, %d reached the host", opened, pulled)
}

// A body of unknown length may be a conversation (each chunk answered
// before the next is sent): its request goes to the host with its first
// bytes, not before them.
func TestBodyUnsizedGoesWithFirstBytes(t *testing.T) {
	forBothH1Paths(t, func(t *testing.T, inline bool) {
		h, addr := startServer(t, func(o *Options) { o.InlineIO = inline })
		c, _ := dial(t, addr)
		fmt.Fprint(c, "POST /chat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		h.noRequest("no chunk yet", 300*time.Millisecond)
		fmt.Fprint(c, "5\r\nhello\r\n")
		p := h.next()
		if p.fields[1] != "/chat" || p.flags&reqBodyComplete != 0 || string(p.body) != "hello" {
			t.Fatalf("got %s, flags %d, body %q", p.fields[1], p.flags, p.body)
		}
		p.ex.Respond(head("200 OK"), nil, true)
	})
	t.Run("h2", func(t *testing.T) {
		h, addr := startServer(t, nil)
		r := dialH2(t, addr)
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: r.block(
			":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/chat")})
		h.noRequest("no DATA yet", 300*time.Millisecond)
		r.fr.WriteData(1, false, []byte("hello"))
		p := h.next()
		if p.fields[1] != "/chat" || p.flags&reqBodyComplete != 0 || string(p.body) != "hello" {
			t.Fatalf("got %s, flags %d, body %q", p.fields[1], p.flags, p.body)
		}
		p.ex.Respond(head("200 OK"), nil, true)
	})
}

// Uploads over HTTP/2 just past a window and past prefetch_size arrive
// whole and in order, with or without content-length: the part held back
// before the host took the request comes first, the rest after it.
func TestBodyH2UploadsWhole(t *testing.T) {
	h, addr := startServer(t, nil)
	stop := make(chan struct{})
	defer close(stop)
	go echoHost(h, stop)
	client := h2cClient()
	for _, size := range []int{65535, 65536, 65537, 100000, 300000} {
		for _, sized := range []bool{true, false} {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte('a' + i%23)
			}
			req, _ := http.NewRequest("POST", "http://"+addr+"/up", bytes.NewReader(body))
			if !sized {
				req.ContentLength = -1
				req.Body = io.NopCloser(bytes.NewReader(body))
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := append([]byte("POST /up HTTP/2.0 "), body...); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes (sized %v): echoed %d bytes, want %d", size, sized, len(got), len(want))
			}
		}
	}
}

// With report_answers, the 408 of a request the host never saw comes to the
// host as an answer record, not as a library log line; an HTTP/2 stream
// reset (not an HTTP answer) stays a library line.
func TestBodySlowReportedAsAnswer(t *testing.T) {
	logged := captureLog(t)
	h, addr := startServer(t, func(o *Options) {
		o.ReportAnswers = true
		o.MinBodyRateGrace = 300 * time.Millisecond
	})
	c, _ := dial(t, addr)
	fmt.Fprint(c, "POST /h1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
	rec := h.nextRecord()
	if rec.flags != reqAnswered || rec.fields[1] != "/h1" || !strings.HasPrefix(rec.body, "408 ") ||
		!strings.Contains(rec.body, "min_body_rate") {
		t.Fatalf("h1: %+v", rec)
	}
	r := dialH2(t, addr)
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: r.block(
		":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/h2", "content-length", "10")})
	if s := r.status(1); s != "RST_STREAM CANCEL" {
		t.Errorf("stream 1: %s", s)
	}
	h.noRequest("no record for a reset", 100*time.Millisecond)
	if l := logged(); strings.Count(l, "\n") != 1 || !strings.Contains(l, "RST_STREAM CANCEL to 127.0.0.1") ||
		!strings.Contains(l, "(POST /h2): request body slower than min_body_rate") {
		t.Errorf("library log: %q", l)
	}
}
