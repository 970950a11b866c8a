package server

// Faults: clients that vanish, apps that fail or hang. Each test asserts the
// exact outcome for the client and for the host, and that nothing is left
// behind (requests in the registry, connections, goroutines).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
)

// settled waits until cond holds (the server unwinds asynchronously).
func settled(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not settled after 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

type baseline struct{ goroutines, exchanges int }

func takeBaseline() baseline { return baseline{runtime.NumGoroutine(), liveExchanges()} }

// noLeaks checks that a test gave back every request id, connection and
// goroutine it took (baseline taken before the server started).
func noLeaks(t *testing.T, h *host, b baseline) {
	t.Helper()
	goroutines := b.goroutines
	settled(t, "connections", func() bool { return h.srv.connCount() == 0 })
	settled(t, "request registry", func() bool { return liveExchanges() <= b.exchanges })
	h.srv.Shutdown()
	settled(t, fmt.Sprintf("goroutines (baseline %d)", goroutines), func() bool {
		return runtime.NumGoroutine() <= goroutines
	})
}

// The client sends part of a body and disconnects: the app's read fails
// with ErrIO (not a timeout, not a short body), the app's answer fails too,
// and the request and connection are gone.
func TestFaultClientGoneMidRequestBody(t *testing.T) {
	g := takeBaseline()
	h, addr := startServer(t, func(o *Options) { o.PrefetchSize = 1000 })
	c, _ := dial(t, addr)
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%s", strings.Repeat("a", 1000))
	p := h.next()
	if len(p.body) != 1000 || p.flags&reqBodyComplete != 0 {
		t.Fatalf("record body %d flags %x", len(p.body), p.flags)
	}
	c.Close()
	start := time.Now()
	n, err := p.ex.Read(make([]byte, 4096), 5*time.Second)
	if n != 0 || err != ErrIO {
		t.Fatalf("read after disconnect: %d %v, want ErrIO", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("read noticed the disconnect after %v", d)
	}
	// The client only half-closed as far as the server can tell: the
	// answer may still be written (then the connection closes) or fail.
	if err := p.ex.Respond(head("200 OK"), []byte("late"), true); err != nil && err != ErrIO {
		t.Errorf("respond after disconnect: %v, want nil or ErrIO", err)
	}
	if Lookup(p.ex.ID()) != nil {
		t.Error("request id still live")
	}
	noLeaks(t, h, g)
}

// The client stops reading and resets the connection mid-response: the
// app's writes fail with ErrIO within the write timeout instead of blocking
// for ever, and everything is released.
func TestFaultClientGoneMidResponse(t *testing.T) {
	g := takeBaseline()
	h, addr := startServer(t, func(o *Options) { o.BodyTimeout = 2 * time.Second })
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if err := p.ex.Respond(head("200 OK", "Content-Type", "application/octet-stream"), nil, false); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	if err := p.ex.Write(chunk, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the response started
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetLinger(0) // RST, as a killed client does
	c.Close()
	start := time.Now()
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = p.ex.Write(chunk, false)
	}
	if err != ErrIO {
		t.Fatalf("writes after disconnect: %v, want ErrIO", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("write noticed the disconnect after %v", d)
	}
	if err := p.ex.Write(nil, true); err != ErrState {
		t.Errorf("write after the failure: %v, want ErrState (request finished)", err)
	}
	noLeaks(t, h, g)
}

// The app answers without reading a large body: the client gets the
// answer, the server skips the rest of the body, and the next request on
// the connection is served (the body is never taken for a request).
func TestFaultAppNeverReadsBody(t *testing.T) {
	g := takeBaseline()
	h, addr := startServer(t, func(o *Options) { o.PrefetchSize = 100 })
	c, r := dial(t, addr)
	sent := make(chan error, 1)
	go func() {
		fmt.Fprint(c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
		_, err := c.Write(make([]byte, 1000000))
		sent <- err
	}()
	p := h.next()
	if err := p.ex.Respond(head("200 OK"), []byte("ignored"), true); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "ignored" || resp.Close {
		t.Fatalf("%d %q close=%v", resp.StatusCode, b, resp.Close)
	}
	if err := <-sent; err != nil {
		t.Fatalf("body upload: %v", err)
	}
	fmt.Fprint(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	q := h.next()
	if q.fields[0] != "GET" || q.fields[1] != "/next" {
		t.Fatalf("next request %q %q", q.fields[0], q.fields[1])
	}
	q.ex.Respond(head("204 No Content"), nil, true)
	if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("second answer: %v %v", resp, err)
	}
	c.Close()
	noLeaks(t, h, g)
}

// The app blocks for ever and the request timeout is set: the client gets
// 503 and a closed connection; the app's late answer is refused (the id is
// gone).
func TestRequestTimeout503(t *testing.T) {
	g := takeBaseline()
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 200 * time.Millisecond })
	c, r := dial(t, addr)
	start := time.Now()
	fmt.Fprint(c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || !resp.Close || resp.ContentLength != 0 {
		t.Fatalf("status %d close %v length %d", resp.StatusCode, resp.Close, resp.ContentLength)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("503 after %v, want about 200 ms", d)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("connection not closed: %v", err)
	}
	if Lookup(p.ex.ID()) != nil {
		t.Error("timed-out id still live")
	}
	if err := p.ex.Respond(head("200 OK"), nil, true); err != ErrState {
		t.Errorf("late respond: %v, want ErrState", err)
	}
	noLeaks(t, h, g)
}

// A response already started when the timeout passes is cut: the client
// sees the connection close before the terminating chunk.
func TestRequestTimeoutCutsStartedResponse(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 200 * time.Millisecond })
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET /partial HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	p.ex.Respond(head("200 OK"), []byte("part"), false)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if string(b) != "part" || err != io.ErrUnexpectedEOF {
		t.Fatalf("body %q err %v, want the part then an unexpected EOF", b, err)
	}
	if err := p.ex.Write([]byte("more"), true); err != ErrState {
		t.Errorf("write after the cut: %v, want ErrState", err)
	}
}

// The app blocked on a body that never comes is freed by the timeout too.
func TestRequestTimeoutWhileReadingBody(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 200 * time.Millisecond; o.PrefetchSize = 2 })
	c, r := dial(t, addr)
	// Over prefetch_size, so the host has the request while its body stalls.
	fmt.Fprint(c, "POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab")
	p := h.next()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		for {
			if n, err := p.ex.Read(buf, 3*time.Second); err != nil || n == 0 {
				done <- err
				return
			}
		}
	}()
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("%v %v", resp, err)
	}
	if err := <-done; err != ErrIO {
		t.Errorf("read after the timeout: %v, want ErrIO", err)
	}
}

// Over HTTP/2 the timeout answers 503 on its stream only; another stream
// on the same connection is served normally.
func TestRequestTimeoutH2(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 300 * time.Millisecond })
	go func() {
		for i := 0; i < 2; i++ {
			p := h.next()
			if p.fields[1] == "/fast" {
				p.ex.Respond(head("200 OK"), []byte("fast"), true)
			} // /hang: never answered
		}
	}()
	cl := h2cClient()
	type result struct {
		path   string
		status int
		body   string
	}
	res := make(chan result, 2)
	for _, path := range []string{"/hang", "/fast"} {
		go func() {
			resp, err := cl.Get("http://" + addr + path)
			if err != nil {
				res <- result{path, -1, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			res <- result{path, resp.StatusCode, string(b)}
		}()
		time.Sleep(20 * time.Millisecond) // one connection, two streams
	}
	got := map[string]result{}
	for i := 0; i < 2; i++ {
		r := <-res
		got[r.path] = r
	}
	if r := got["/hang"]; r.status != 503 || r.body != "" {
		t.Errorf("/hang: %+v, want 503", r)
	}
	if r := got["/fast"]; r.status != 200 || r.body != "fast" {
		t.Errorf("/fast: %+v, want 200", r)
	}
}

// A WebSocket accepted in time outlives the request timeout.
func TestRequestTimeoutSparesWebSockets(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 100 * time.Millisecond })
	go func() {
		p := h.next()
		p.ex.AcceptWebSocket("", nil)
		buf := make([]byte, 64)
		n, kind, err := p.ex.WSRecv(buf, 5*time.Second)
		if err == nil {
			p.ex.WSSend(kind, buf[:n])
		}
		p.ex.WSRecv(buf, 5*time.Second) // the client's close
		p.ex.WSRelease()
	}()
	c, _, _, err := ws.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(300 * time.Millisecond)
	ws.WriteFrame(c, ws.MaskFrame(ws.NewTextFrame([]byte("still here"))))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	f, err := ws.ReadFrame(c)
	if err != nil || f.Header.OpCode != ws.OpText || string(f.Payload) != "still here" {
		t.Fatalf("echo after the timeout: %v %v %q", err, f.Header.OpCode, f.Payload)
	}
}

// The client's TCP connection vanishes without a close frame: the app's
// receive gets a close with 1006 (abnormal closure, RFC 6455 7.1.5), sends
// fail with ErrClosed, and releasing frees everything.
func TestFaultWebSocketPeerVanishes(t *testing.T) {
	g := takeBaseline()
	h, addr := startServer(t, nil)
	type recv struct {
		kind int
		code int
		err  error
	}
	got := make(chan recv, 1)
	var p *pulled
	accepted := make(chan struct{})
	go func() {
		p = h.next()
		p.ex.AcceptWebSocket("", nil)
		close(accepted)
		buf := make([]byte, 128)
		n, kind, err := p.ex.WSRecv(buf, 5*time.Second)
		code := 0
		if n >= 2 {
			code = int(buf[0])<<8 | int(buf[1])
		}
		got <- recv{kind, code, err}
	}()
	c, _, _, err := ws.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	<-accepted
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	r := <-got
	if r.err != nil || r.kind != WSClose || r.code != 1006 {
		t.Fatalf("recv after vanish: kind %d code %d err %v, want WSClose 1006", r.kind, r.code, r.err)
	}
	if err := p.ex.WSSend(WSText, []byte("anyone?")); err != ErrClosed {
		t.Errorf("send after vanish: %v, want ErrClosed", err)
	}
	p.ex.WSRelease()
	noLeaks(t, h, g)
}

func TestRequestTimeoutOption(t *testing.T) {
	o := DefaultOptions()
	if o.RequestTimeout != 0 {
		t.Fatalf("default %v, want off", o.RequestTimeout)
	}
	if err := o.Set("request_timeout_ms", "2500"); err != nil || o.RequestTimeout != 2500*time.Millisecond {
		t.Fatalf("set: %v %v", err, o.RequestTimeout)
	}
	if o.Set("request_timeout_ms", "-1") == nil {
		t.Error("negative accepted")
	}
}

// A request that timed out while queued (the host was busy) is answered 503
// and never handed to the host: the next one is.
func TestRequestTimeoutSkipsExpiredInQueue(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 100 * time.Millisecond })
	c1, r1 := dial(t, addr)
	fmt.Fprint(c1, "GET /queued HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(r1, nil); err != nil || resp.StatusCode != 503 {
		t.Fatalf("queued request: %v %v", resp, err)
	}
	c2, r2 := dial(t, addr)
	fmt.Fprint(c2, "GET /fresh HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if p.fields[1] != "/fresh" {
		t.Fatalf("host got %q, want /fresh", p.fields[1])
	}
	p.ex.Respond(head("200 OK"), nil, true)
	if resp, err := http.ReadResponse(r2, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("fresh request: %v %v", resp, err)
	}
}

// Over HTTP/2 too, an app blocked reading a body that never comes is woken
// by the timeout (ErrIO) instead of waiting for the 30 s body timeout.
func TestRequestTimeoutWakesH2Reader(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.RequestTimeout = 200 * time.Millisecond; o.PrefetchSize = 2 })
	r := dialH2(t, addr)
	post := []string{":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/stall"}
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block(post...), EndHeaders: true})
	r.fr.WriteData(1, false, []byte("ab")) // prefetch_size of it: the host gets it
	p := h.next()
	start := time.Now()
	n, err := p.ex.Read(make([]byte, 16), 10*time.Second)
	if n != 0 || err != ErrIO {
		t.Errorf("read: %d %v, want ErrIO", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("read woke after %v", d)
	}
	if s := r.status(1); s != "503" {
		t.Errorf("stream answered %s, want 503", s)
	}
}
