package server

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// goneTransport is one way HTTP/1.1 reaches the host: the inline loop, the
// goroutine path in cleartext, and the goroutine path over TLS.
type goneTransport struct {
	name string
	opts func(t *testing.T, o *Options)
	dial func(t *testing.T, addr string) net.Conn
}

func goneTransports(t *testing.T) []goneTransport {
	tcp := func(t *testing.T, addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return []goneTransport{
		{"inline", func(t *testing.T, o *Options) { requireInline(t); o.InlineIO = true }, tcp},
		{"goroutine", func(t *testing.T, o *Options) { o.InlineIO = false }, tcp},
		{"tls", func(t *testing.T, o *Options) {
			o.CertFile, o.KeyFile = writeSelfSigned(t, t.TempDir())
		}, func(t *testing.T, addr string) net.Conn {
			c, err := tls.Dial("tcp", strings.TrimPrefix(addr, "https://"),
				&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	}
}

func forEachGoneTransport(t *testing.T, f func(t *testing.T, h *host, dial func() net.Conn)) {
	for _, tr := range goneTransports(t) {
		t.Run(tr.name, func(t *testing.T) {
			h, addr := startServer(t, func(o *Options) { tr.opts(t, o) })
			f(t, h, func() net.Conn {
				c := tr.dial(t, addr)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				t.Cleanup(func() { c.Close() })
				return c
			})
		})
	}
}

// readUntil reads from r until want has been seen.
func readUntil(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading for %q: %v after %q", want, err, got.String())
		}
		got.WriteByte(b)
	}
}

// An event-loop host waiting for the client to leave (ASGI's receive()
// after the body) gets its event when the client closes mid-response, and
// the next write fails.
func TestHTTP1ClientLeavingIsAnEvent(t *testing.T) {
	forEachGoneTransport(t, func(t *testing.T, h *host, dial func() net.Conn) {
		fd, err := h.srv.ReadyFD()
		if err != nil {
			t.Fatal(err)
		}
		c := dial()
		fmt.Fprint(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		evs := h.pollEvents(fd)
		if len(evs) != 1 || evs[0].typ != EvRequest {
			t.Fatalf("want the request, got %+v", evs)
		}
		ex := h.parse(evs[0].data).ex
		ex.SetNowait(true)
		if err := ex.Respond(head("200 OK", "Content-Type", "text/event-stream"), []byte("data: 0\n\n"), false); err != nil {
			t.Fatal(err)
		}
		if err := ex.WatchGone(); err != nil {
			t.Fatalf("WatchGone: %v", err)
		}
		readUntil(t, bufio.NewReader(c), "data: 0\n\n")
		closed := time.Now()
		c.Close()
		var gone event
		for gone.id == 0 {
			for _, ev := range h.pollEvents(fd) {
				if ev.id == ex.id && ev.typ == EvBody {
					gone = ev
				}
			}
		}
		took := time.Since(closed)
		t.Logf("the host heard of the close %v after it", took)
		if gone.code != testCode(ErrIO) || took > 5*time.Second {
			t.Fatalf("event code %d after %v, want %d", gone.code, took, testCode(ErrIO))
		}
		if err := ex.Write([]byte("data: 1\n\n"), false); err != ErrIO {
			t.Fatalf("write to a client that left: %v, want ErrIO", err)
		}
	})
}

// A blocking host streaming to a client that left gets ErrIO on its first
// write after the server noticed, well within a second: not only once a
// write has drawn a reset from the client.
func TestHTTP1WriteToAClientThatLeftFails(t *testing.T) {
	forEachGoneTransport(t, func(t *testing.T, h *host, dial func() net.Conn) {
		c := dial()
		fmt.Fprint(c, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
		p := h.next()
		if err := p.ex.Respond(head("200 OK"), []byte("data: 0\n\n"), false); err != nil {
			t.Fatal(err)
		}
		readUntil(t, bufio.NewReader(c), "data: 0\n\n")
		c.Close()
		// The inline loop's janitor runs a pass every 100 ms while no host
		// thread does; the goroutine path's watcher reads at once.
		time.Sleep(500 * time.Millisecond)
		if err := p.ex.Write([]byte("data: 1\n\n"), false); err != ErrIO {
			t.Fatalf("first write after the close: %v, want ErrIO", err)
		}
	})
}

// A client that half-closes after its request (legal in HTTP/1.1) has
// left, as uvicorn counts it, but an answer written at once still reaches
// it; a streamed one is refused.
func TestHTTP1HalfCloseGetsAWholeAnswer(t *testing.T) {
	forEachGoneTransport(t, func(t *testing.T, h *host, dial func() net.Conn) {
		for _, whole := range []bool{true, false} {
			c := dial()
			fmt.Fprint(c, "GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
			c.(interface{ CloseWrite() error }).CloseWrite()
			p := h.next()
			// The goroutine path learns of the EOF by reading: give it time.
			time.Sleep(300 * time.Millisecond)
			if whole {
				if err := p.ex.Respond(head("200 OK", "Content-Length", "4"), []byte("done"), true); err != nil {
					t.Fatalf("whole answer: %v", err)
				}
				resp, body := readResp(t, bufio.NewReader(c))
				if resp.StatusCode != 200 || body != "done" {
					t.Fatalf("got %d %q", resp.StatusCode, body)
				}
				continue
			}
			if err := p.ex.Respond(head("200 OK"), []byte("part"), false); err != ErrIO {
				t.Fatalf("streamed answer to a client that left: %v, want ErrIO", err)
			}
			if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
				t.Fatalf("after a refused stream: %q %v, want a plain close", b, err)
			}
		}
	})
}

// Pipelining is not leaving: requests sent with a half-close behind them
// are all answered, the first one streamed (which a client that left would
// be refused).
func TestHTTP1PipelinedRequestsAreNotALeave(t *testing.T) {
	forEachGoneTransport(t, func(t *testing.T, h *host, dial func() net.Conn) {
		c := dial()
		fmt.Fprint(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
		p := h.next()
		fmt.Fprint(c, "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
		c.(interface{ CloseWrite() error }).CloseWrite()
		time.Sleep(300 * time.Millisecond) // the server may read or see the second request meanwhile
		if err := p.ex.Respond(head("200 OK"), []byte("one-"), false); err != nil {
			t.Fatalf("first answer, streamed: %v", err)
		}
		if err := p.ex.Write([]byte("streamed"), true); err != nil {
			t.Fatalf("first answer's end: %v", err)
		}
		q := h.next()
		if q.fields[1] != "/2" {
			t.Fatalf("second request: %q", q.fields)
		}
		if err := q.ex.Respond(head("200 OK", "Content-Length", "3"), []byte("two"), true); err != nil {
			t.Fatalf("second answer: %v", err)
		}
		r := bufio.NewReader(c)
		if _, body := readResp(t, r); body != "one-streamed" {
			t.Fatalf("first body %q", body)
		}
		if _, body := readResp(t, r); body != "two" {
			t.Fatalf("second body %q", body)
		}
	})
}

// A request held long enough to be watched leaves its connection as it
// was: the watch is stopped (a read deadline in the past, which must not
// upset TLS) and the next request on the connection is served.
func TestHTTP1WatchedConnectionKeepsAlive(t *testing.T) {
	forEachGoneTransport(t, func(t *testing.T, h *host, dial func() net.Conn) {
		c := dial()
		r := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			p := h.next()
			time.Sleep(2 * watchDelay) // the goroutine path watches it meanwhile
			sc := p.ex.b.(*conn)
			sc.mu.Lock()
			watched := sc.in != nil || sc.watchDone != nil
			sc.mu.Unlock()
			if !watched {
				t.Fatalf("request %d: not watched after %v", i, 2*watchDelay)
			}
			body := fmt.Sprint("answer ", i)
			if err := p.ex.Respond(head("200 OK"), []byte(body), true); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if resp, got := readResp(t, r); resp.StatusCode != 200 || got != body {
				t.Fatalf("request %d: %d %q", i, resp.StatusCode, got)
			}
		}
	})
}
