package server

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// go test -inline=false runs the whole suite on the goroutine path.
var inlineFlag = flag.Bool("inline", true, "serve cleartext HTTP/1.1 inline (Options.InlineIO)")

// inline reports whether the request is served by the inline path.
func (p *pulled) inline() bool {
	c, ok := p.ex.b.(*conn)
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in != nil
}

func requireInline(t *testing.T) {
	t.Helper()
	if !*inlineFlag {
		t.Skip("inline I/O is off (-inline=false)")
	}
}

func readResp(t *testing.T, r *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestInlineKeepAlive(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		p := h.next()
		if !p.inline() {
			t.Fatalf("request %d left the inline path", i)
		}
		if p.fields[1] != fmt.Sprintf("/%d", i) || p.fields[4] != "http" || p.fields[5] != "127.0.0.1" {
			t.Fatalf("head %q", p.fields)
		}
		p.ex.Respond(head("200 OK"), []byte(p.fields[1]), true)
		if _, body := readResp(t, r); body != p.fields[1] {
			t.Fatalf("answer %q to %s", body, p.fields[1])
		}
	}
	fmt.Fprint(c, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	h.next().ex.Respond(head("200 OK"), []byte("bye"), true)
	if resp, body := readResp(t, r); body != "bye" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after Connection: close: %v", err)
	}
}

func TestInlinePipelinedInOrder(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 1; i <= 3; i++ {
		p := h.next()
		if want := fmt.Sprintf("/%d", i); p.fields[1] != want || !p.inline() {
			t.Fatalf("got %s (inline %v), want %s", p.fields[1], p.inline(), want)
		}
		if i == 2 && (string(p.body) != "abc" || p.flags&reqBodyComplete == 0) {
			t.Fatalf("body %q flags %x", p.body, p.flags)
		}
		// The next request is not parsed before this answer is complete.
		if _, err := h.srv.Next(0, h.buf); err != ErrTimeout {
			t.Fatalf("a request overtook /%d: %v", i, err)
		}
		p.ex.Respond(head("200 OK"), []byte(p.fields[1]), true)
	}
	for i := 1; i <= 3; i++ {
		if _, body := readResp(t, r); body != fmt.Sprintf("/%d", i) {
			t.Fatalf("answer %d is %q", i, body)
		}
	}
}

// Requests the inline path does not serve itself are handed to the
// goroutine path with what was buffered, after an inline request on the
// same connection.
func TestInlineHandOver(t *testing.T) {
	requireInline(t)
	cases := []struct {
		name string
		run  func(t *testing.T, h *host, c net.Conn, r *bufio.Reader)
	}{
		{"expect-100", func(t *testing.T, h *host, c net.Conn, r *bufio.Reader) {
			fmt.Fprint(c, "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
			p := handedOver(t, h)
			done := make(chan []byte)
			go func() { done <- p.readAll(t) }()
			if line, _ := r.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
				t.Fatalf("got %q", line)
			}
			r.ReadString('\n')
			c.Write([]byte("hello"))
			if b := <-done; string(b) != "hello" {
				t.Fatalf("body %q", b)
			}
			p.ex.Respond(head("200 OK"), []byte("ok"), true)
		}},
		{"partial-body-over-prefetch", func(t *testing.T, h *host, c net.Conn, r *bufio.Reader) {
			// Over prefetch_size (64 KiB) and not all here: streamed by the
			// goroutine path (smaller ones wait inline: TestInlineBodyArrivesLater).
			body := strings.Repeat("0123456789", 7000)
			fmt.Fprintf(c, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
			// The host gets it once prefetch_size of it is here (bodywait.go).
			go c.Write([]byte(body[5:]))
			p := handedOver(t, h)
			if b := p.readAll(t); string(b) != body {
				t.Fatalf("body of %d bytes, want %d", len(b), len(body))
			}
			p.ex.Respond(head("200 OK"), []byte("ok"), true)
		}},
		{"chunked", func(t *testing.T, h *host, c net.Conn, r *bufio.Reader) {
			fmt.Fprint(c, "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
			p := handedOver(t, h)
			if b := p.readAll(t); string(b) != "abc" {
				t.Fatalf("body %q", b)
			}
			p.ex.Respond(head("200 OK"), []byte("ok"), true)
		}},
		{"websocket", func(t *testing.T, h *host, c net.Conn, r *bufio.Reader) {
			fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			p := handedOver(t, h)
			if p.flags&reqWebSocket == 0 {
				t.Fatalf("flags %x", p.flags)
			}
			if err := p.ex.AcceptWebSocket("", nil); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("%v %v", resp, err)
			}
			p.ex.WSRelease()
		}},
		{"h2c", func(t *testing.T, h *host, c net.Conn, r *bufio.Reader) {
			fmt.Fprint(c, "GET /h2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\n\r\n")
			resp, err := http.ReadResponse(r, nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("%v %v", resp, err)
			}
			p := h.next()
			if p.fields[3] != "HTTP/2.0" {
				t.Fatalf("head %q", p.fields)
			}
			p.ex.Abort(503)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, addr := startServer(t, nil)
			c, r := dial(t, addr)
			fmt.Fprint(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
			p := h.next()
			if !p.inline() {
				t.Fatal("first request not inline")
			}
			p.ex.Respond(head("200 OK"), []byte("first"), true)
			if _, body := readResp(t, r); body != "first" {
				t.Fatalf("first answer %q", body)
			}
			tc.run(t, h, c, r)
			if tc.name == "websocket" || tc.name == "h2c" {
				return
			}
			if _, body := readResp(t, r); body != "ok" {
				t.Fatalf("answer %q", body)
			}
		})
	}
}

// A body of at most prefetch_size that arrives right after its head is
// awaited inline and handed over whole; a slow one goes to the goroutine
// path after inlineBodyWait with what came (the host may answer it
// without reading); one cut off by the client reaches nobody. Other
// connections are served meanwhile.
func TestInlineBodyArrivesLater(t *testing.T) {
	requireInline(t)
	// Long enough that a loaded machine cannot make /later late; /slow is
	// handed over after it.
	wait := inlineBodyWait
	inlineBodyWait = time.Second
	t.Cleanup(func() { inlineBodyWait = wait })
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n01234")
	slow, slowR := dial(t, addr)
	fmt.Fprint(slow, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
	cut, _ := dial(t, addr)
	fmt.Fprint(cut, "POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
	cut.Close()
	other, otherR := dial(t, addr)
	fmt.Fprint(other, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if p.fields[1] != "/other" || !p.inline() {
		t.Fatalf("first request pulled: %s (inline %v)", p.fields[1], p.inline())
	}
	p.ex.Respond(head("200 OK"), []byte("other"), true)
	if _, body := readResp(t, otherR); body != "other" {
		t.Fatalf("other: %q", body)
	}
	rest := strings.Repeat("x", 20000-5)
	for i := 0; i < len(rest); i += 4000 { // in pieces
		time.Sleep(time.Millisecond)
		c.Write([]byte(rest[i:min(i+4000, len(rest))]))
	}
	later := h.next()
	if later.fields[1] != "/later" || !later.inline() || later.flags&reqBodyComplete == 0 || string(later.body) != "01234"+rest {
		t.Fatalf("/later: %+v", later)
	}
	later.ex.Respond(head("200 OK"), []byte("later"), true)
	if _, body := readResp(t, r); body != "later" {
		t.Fatalf("later: %q", body)
	}
	// /slow went to the goroutine path, which holds it until its body is
	// all here (bodywait.go): the host gets it whole.
	time.Sleep(2 * inlineBodyWait)
	slow.Write([]byte("56789"))
	slowP := h.next()
	if slowP.fields[1] != "/slow" || slowP.inline() || slowP.flags&reqBodyComplete == 0 || string(slowP.body) != "0123456789" {
		t.Fatalf("/slow: %+v", slowP)
	}
	slowP.ex.Respond(head("200 OK"), []byte("slow"), true)
	if _, body := readResp(t, slowR); body != "slow" {
		t.Fatalf("slow: %q", body)
	}
	if n, err := h.srv.Next(200*time.Millisecond, h.buf); err != ErrTimeout {
		t.Fatalf("Next after them: %d %v, want nothing (the cut request reaches nobody)", n, err)
	}
}

func handedOver(t *testing.T, h *host) *pulled {
	t.Helper()
	p := h.next()
	if p.inline() {
		t.Fatalf("%s served inline", p.fields[1])
	}
	return p
}

func TestInlineHandsOverH2Preface(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	stop := make(chan struct{})
	defer close(stop)
	go echoHost(h, stop)
	c, _ := dial(t, addr)
	// The preface in two writes: the loop waits for enough bytes to decide.
	c.Write([]byte("PRI * HTTP/2.0\r\n"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("\r\nSM\r\n\r\n"))
	buf := make([]byte, 9)
	if _, err := io.ReadFull(c, buf); err != nil || buf[3] != 0x4 { // a SETTINGS frame
		t.Fatalf("%x %v", buf, err)
	}
}

func TestInlineHeaderTimeout(t *testing.T) {
	requireInline(t)
	_, addr := startServer(t, func(o *Options) { o.HeaderTimeout = 100 * time.Millisecond })
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHo")
	// Nobody pulls: the loop's janitor keeps the time.
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("got %v, want EOF", err)
	}
}

func TestInlineShutdown(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	idle, ir := dial(t, addr)
	busy, br := dial(t, addr)
	fmt.Fprint(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	h.next().ex.Respond(head("200 OK"), nil, true)
	readResp(t, ir)
	fmt.Fprint(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if !p.inline() {
		t.Fatal("not inline")
	}
	done := make(chan struct{})
	go func() { h.srv.Shutdown(); close(done) }()
	if _, err := ir.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v", err)
	}
	p.ex.Respond(head("200 OK"), []byte("done"), true)
	if resp, body := readResp(t, br); body != "done" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
	<-done
	if _, err := h.srv.Next(0, h.buf); err != ErrClosed {
		t.Fatalf("Next after shutdown: %v", err)
	}
}

func TestInlineClientVanishesMidResponse(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if err := p.ex.Respond(head("200 OK"), []byte("start"), false); err != nil {
		t.Fatal(err)
	}
	if line, _ := r.ReadString('\n'); line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("got %q", line)
	}
	c.(*net.TCPConn).SetLinger(0) // a reset, as from a client that died
	c.Close()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = p.ex.Write(chunk, false)
	}
	if err != ErrIO {
		t.Fatalf("write after the client vanished: %v", err)
	}
	if Lookup(p.ex.ID()) != nil {
		t.Error("the request is still registered")
	}
	// The server carries on.
	c2, r2 := dial(t, addr)
	fmt.Fprint(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	h.next().ex.Respond(head("200 OK"), []byte("fine"), true)
	if _, body := readResp(t, r2); body != "fine" {
		t.Fatalf("%q", body)
	}
}

func TestInlineBackpressure(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	const chunks, size = 128, 64 << 10 // 8 MiB
	got := make(chan []byte)
	go func() {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			got <- nil
			return
		}
		var b bytes.Buffer
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(time.Millisecond) // a slow reader
		}
		got <- b.Bytes()
	}()
	cn := p.ex.b.(*conn)
	if err := p.ex.Respond(head("200 OK", "Content-Length", fmt.Sprint(chunks*size)), nil, false); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := 0; i < chunks; i++ {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		want.Write(chunk)
		if err := p.ex.Write(chunk, i == chunks-1); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		cn.mu.Lock()
		pending := len(cn.out)
		cn.mu.Unlock()
		if pending > outHighWater {
			t.Fatalf("after write %d, %d bytes pending: the host was not held back", i, pending)
		}
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("received %d bytes, want %d intact", len(b), want.Len())
	}
}

func TestInlineOff(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.InlineIO = false })
	if h.srv.inl != nil {
		t.Fatal("an epoll loop was made with InlineIO off")
	}
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if p.inline() {
		t.Fatal("served inline with InlineIO off")
	}
	p.ex.Respond(head("200 OK"), []byte("goroutine"), true)
	if _, body := readResp(t, r); body != "goroutine" {
		t.Fatalf("%q", body)
	}
}

// Many connections, answered from several host threads at once while one
// thread pulls: every answer reaches its own client.
func TestInlineConcurrentResponders(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	const clients, each = 8, 50
	work := make(chan *pulled)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		go func() {
			for p := range work {
				p.ex.Respond(head("200 OK"), []byte(p.fields[1]), true)
			}
		}()
	}
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for j := 0; j < each; j++ {
				path := fmt.Sprintf("/%d/%d", i, j)
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				if string(b) != path {
					errs <- fmt.Errorf("%s answered %q", path, b)
					return
				}
			}
		}(i)
	}
	for n := 0; n < clients*each; n++ {
		work <- h.next()
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// forEachEventMode runs a test of Poll on the goroutine path and on the
// inline loop (which serves WebSockets inline in event mode).
func forEachEventMode(t *testing.T, f func(t *testing.T, mode func(*Options))) {
	t.Run("goroutine", func(t *testing.T) { f(t, func(o *Options) { o.InlineIO = false }) })
	t.Run("inline", func(t *testing.T) {
		requireInline(t)
		f(t, func(o *Options) {})
	})
}

// A connection accepted just before a graceful shutdown, whose request is
// waiting unread in its socket, gets an answer, not a reset.
func TestInlineDrainServesARequestNotYetRead(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	if _, err := h.srv.Next(50*time.Millisecond, h.buf); err != ErrTimeout { // accepts it, reads nothing
		t.Fatalf("Next: %v", err)
	}
	io.WriteString(c, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // in the socket, no pass has read it
	done := make(chan struct{})
	go func() { h.srv.Shutdown(); close(done) }()
	time.Sleep(50 * time.Millisecond) // the drain has begun
	rec := h.next()
	if rec.fields[1] != "/late" {
		t.Fatalf("got %q", rec.fields[1])
	}
	if err := rec.ex.Respond(head("200 OK", "Content-Length", "2"), []byte("ok"), true); err != nil {
		t.Fatal(err)
	}
	resp, body := readResp(t, r)
	if resp.StatusCode != 200 || body != "ok" || !resp.Close {
		t.Fatalf("%d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not end after the last answer")
	}
}
