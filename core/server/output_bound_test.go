package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	corews "github.com/portico-http/portico/core/ws"
)

// Output waiting for a client that does not read stays bounded: WebSocket
// pongs (and messages) stop at ws_max_queued, then the session is dropped
// with 1008; HTTP/2 DATA stops at the high-water mark and the app waits.

const testMaxQueued = 256 << 10

// pingFrame is a masked ping with a 125-byte payload: a 127-byte pong each.
var pingFrame = func() []byte {
	var b bytes.Buffer
	ws.WriteFrame(&b, ws.MaskFrame(ws.NewPingFrame(bytes.Repeat([]byte{'p'}, 125))))
	return b.Bytes()
}()

// floodPings writes pings, never reading, until the server drops the
// connection or the bound on count (enough for the kernel's buffers and
// the limit many times over) or time is reached. It returns the count.
func floodPings(c net.Conn, write func([]byte) error) int {
	batch := bytes.Repeat(pingFrame, 1000)
	sent := 0
	for end := time.Now().Add(20 * time.Second); sent < 1000000 && time.Now().Before(end); sent += 1000 {
		if write(batch) != nil {
			break
		}
	}
	return sent
}

// dialWSNoRead opens a WebSocket with a small receive buffer and reads
// nothing after the 101.
func dialWSNoRead(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(4096)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	return c
}

func read101(t *testing.T, c net.Conn) {
	t.Helper()
	r := bufio.NewReaderSize(c, 1)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101 ") {
		t.Fatalf("handshake: %q %v", line, err)
	}
	for line != "\r\n" {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
}

// sessionQueued is what the session holds for the client, by the
// endpoint's own accounting (under the transport's lock).
func sessionQueued(ex *Exchange) int64 {
	ex.b.lock()
	defer ex.b.unlock()
	return ex.ws.ep.Queued()
}

// watchQueued samples a session's queued output until stop is closed and
// returns the largest value seen (a sample: it may miss the peak, never
// exceed it).
func watchQueued(ex *Exchange, stop chan struct{}) *atomic.Int64 {
	var most atomic.Int64
	go func() {
		for {
			if q := sessionQueued(ex); q > most.Load() {
				most.Store(q)
			}
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	return &most
}

func checkDropped(t *testing.T, ex *Exchange, code int, reason string, most int64) {
	t.Helper()
	if code != corews.ClosePolicyViolation || reason != corews.QueueFullReason {
		t.Fatalf("close %d %q, want 1008 %q", code, reason, corews.QueueFullReason)
	}
	t.Logf("closed %d %q with %d bytes queued at most", code, reason, most)
	if most > testMaxQueued {
		t.Errorf("%d bytes queued at most, over the %d limit", most, testMaxQueued)
	}
	if q := sessionQueued(ex); q != 0 {
		t.Errorf("%d bytes still queued after the drop", q)
	}
}

// The goroutine path (a pulling host): 1M pings from a client that never
// reads end in 1008 at the limit, not in a queue as big as the flood.
func TestWSPingFloodDroppedAtLimit(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.WSMaxQueued = testMaxQueued })
	c := dialWSNoRead(t, addr)
	p := h.next()
	if err := p.ex.AcceptWebSocket("", nil); err != nil {
		t.Fatal(err)
	}
	read101(t, c)
	stop := make(chan struct{})
	most := watchQueued(p.ex, stop)
	sent := floodPings(c, func(b []byte) error { _, err := c.Write(b); return err })
	buf := make([]byte, 256)
	n, kind, err := p.ex.WSRecv(buf, 10*time.Second)
	close(stop)
	if err != nil || kind != WSClose {
		t.Fatalf("after %d pings: kind %d %v, want the close", sent, kind, err)
	}
	checkDropped(t, p.ex, int(buf[0])<<8|int(buf[1]), string(buf[2:n]), most.Load())
	if sent >= 1000000 {
		t.Errorf("all %d pings went in: the connection was never dropped", sent)
	}
	if err := p.ex.WSSend(WSText, []byte("late")); err != ErrClosed {
		t.Errorf("send after the drop: %v", err)
	}
	p.ex.WSRelease()
}

// The inline event-mode path (ASGI's).
func TestInlineWSPingFloodDroppedAtLimit(t *testing.T) {
	h, fd, c, _, ex := inlineWS(t, func(o *Options) { o.WSMaxQueued = testMaxQueued })
	stop := make(chan struct{})
	most := watchQueued(ex, stop)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	flooded := make(chan int, 1)
	go func() { flooded <- floodPings(c, func(b []byte) error { _, err := c.Write(b); return err }) }()
	ev := h.waitClose(fd, ex)
	close(stop)
	checkDropped(t, ex, closeCode(ev), string(ev.data[2:]), most.Load())
	if sent := <-flooded; sent >= 1000000 {
		t.Errorf("all %d pings went in: the connection was never dropped", sent)
	}
	cn := ex.b.(*conn)
	cn.mu.Lock()
	rest, closed := len(cn.wsRest), cn.in.closed
	cn.mu.Unlock()
	if rest != 0 || !closed {
		t.Errorf("after the drop: %d bytes held, closed %v", rest, closed)
	}
}

// h2Client is a bare HTTP/2 client that reads only until the server's
// SETTINGS, then never again; window is its initial stream window.
func h2Client(t *testing.T, addr string, window uint32) (net.Conn, *http2.Framer) {
	t.Helper()
	c, r := dial(t, addr)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.(*net.TCPConn).SetReadBuffer(4096)
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, r)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
	if window > 65535 {
		fr.WriteWindowUpdate(0, window-65535)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			fr.WriteSettingsAck()
			return c, fr
		}
	}
}

func h2Headers(fields ...string) []byte {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := 0; i < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return hb.Bytes()
}

// WebSocket over HTTP/2 (RFC 8441): the same limit, and the stream is reset.
func TestH2WSPingFloodDroppedAtLimit(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.WSMaxQueued = testMaxQueued })
	c, fr := h2Client(t, addr, 65535)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: h2Headers(
		":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", "/ws",
		":authority", "x", "sec-websocket-version", "13")})
	p := h.next()
	if err := p.ex.AcceptWebSocket("", nil); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	most := watchQueued(p.ex, stop)
	// DATA frames of pings, without waiting for window updates (the
	// server credits what it consumed at once; this client never reads).
	sent := floodPings(c, func(b []byte) error {
		for len(b) > 0 {
			n := min(len(b), 16384)
			if err := fr.WriteData(1, false, b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	})
	buf := make([]byte, 256)
	n, kind, err := p.ex.WSRecv(buf, 10*time.Second)
	close(stop)
	if err != nil || kind != WSClose {
		t.Fatalf("after %d pings: kind %d %v, want the close", sent, kind, err)
	}
	checkDropped(t, p.ex, int(buf[0])<<8|int(buf[1]), string(buf[2:n]), most.Load())
	s := p.ex.b.(*h2stream)
	s.lock()
	held, reset := len(s.wsOut), s.reset
	s.unlock()
	if held != 0 || !reset {
		t.Errorf("after the drop: %d bytes held, reset %v", held, reset)
	}
}

// An app writing to an HTTP/2 client that opened its windows wide and
// never reads waits at the high-water mark instead of buffering all.
func TestH2OutputToNonReaderIsBounded(t *testing.T) {
	h, addr := startServer(t, nil)
	_, fr := h2Client(t, addr, 1<<31-1)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: h2Headers(
		":method", "GET", ":scheme", "http", ":path", "/big", ":authority", "x")})
	p := h.next()
	if err := p.ex.Respond(head("200 OK"), nil, false); err != nil {
		t.Fatal(err)
	}
	const total = 64 << 20
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for written.Load() < total {
			if err := p.ex.Write(chunk, false); err != nil {
				done <- err
				return
			}
			written.Add(int64(len(chunk)))
		}
		done <- nil
	}()
	hc := p.ex.b.(*h2stream).hc
	most := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		hc.mu.Lock()
		most = max(most, hc.p.OutputLen()+hc.inFlight)
		hc.mu.Unlock()
	}
	select {
	case err := <-done:
		t.Fatalf("the app wrote all %d bytes to a client that reads nothing (%v)", total, err)
	default:
	}
	if w := written.Load(); w > 16<<20 {
		t.Errorf("the app wrote %d bytes to a client that reads nothing", w)
	}
	t.Logf("the app wrote %d bytes in 2 s; %d bytes of output at most", written.Load(), most)
	if most > outHighWater+64<<10+1024 {
		t.Errorf("%d bytes of output at most, over the %d high-water mark", most, outHighWater)
	}
}

// A host that keeps sending after ErrPending (ignoring EvWritten) to a
// client that reads nothing reaches the limit: its send fails, the session
// closes 1008 and its output is let go. One that waits is never dropped.
func TestWSNowaitSenderIgnoringPendingDropped(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, func(o *Options) { mode(o); o.WSMaxQueued = testMaxQueued })
		fd, _ := h.srv.ReadyFD()
		c := dialWSNoRead(t, addr)
		rec := h.parse(h.pollEvents(fd)[0].data)
		if err := rec.ex.AcceptWebSocket("", nil); err != nil {
			t.Fatal(err)
		}
		read101(t, c)
		rec.ex.WSWatch(true)
		msg := bytes.Repeat([]byte("y"), 16<<10)
		var err error
		sends := 0
		for ; sends < 10000; sends++ { // 160 MiB, were none refused
			if err = rec.ex.WSSendNowait(WSBinary, msg); err != nil && err != ErrPending {
				break
			}
		}
		if err != ErrClosed {
			t.Fatalf("after %d sends: %v, want ErrClosed", sends, err)
		}
		ev := h.waitClose(fd, rec.ex)
		checkDropped(t, rec.ex, closeCode(ev), string(ev.data[2:]), 0)
		t.Logf("dropped after %d sends of %d bytes", sends, len(msg))
	})
}

// A blocking sender (WSGI's ws.send) to a client that reads nothing waits
// at the high-water mark: nothing is dropped, little is queued.
func TestWSBlockingSenderToNonReaderWaits(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.WSMaxQueued = testMaxQueued })
	c := dialWSNoRead(t, addr)
	p := h.next()
	if err := p.ex.AcceptWebSocket("", nil); err != nil {
		t.Fatal(err)
	}
	read101(t, c)
	var sent atomic.Int64
	go func() {
		msg := bytes.Repeat([]byte("y"), 16<<10)
		for p.ex.WSSend(WSBinary, msg) == nil {
			sent.Add(int64(len(msg)))
		}
	}()
	time.Sleep(time.Second)
	before := sent.Load()
	time.Sleep(time.Second)
	if q := sessionQueued(p.ex); q > outHighWater+32<<10 {
		t.Errorf("%d bytes queued for a client that reads nothing", q)
	}
	if after := sent.Load(); after != before || after > 64<<20 {
		t.Errorf("the sender went on: %d bytes, then %d a second later", before, after)
	}
	t.Logf("the sender waits after %d bytes", sent.Load())
	p.ex.WSRelease()
}
