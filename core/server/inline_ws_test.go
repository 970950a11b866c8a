package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// acceptInlineWS opens a WebSocket to an event-mode host, accepts it and
// checks it stayed on the inline loop.
func acceptInlineWS(t *testing.T, h *host, fd int, addr string) (net.Conn, io.Reader, *Exchange) {
	t.Helper()
	type dialed struct {
		c   net.Conn
		r   io.Reader
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, br, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
		var r io.Reader = c
		if br != nil {
			r = io.MultiReader(br, c)
		}
		ch <- dialed{c, r, err}
	}()
	rec := h.parse(h.pollEvents(fd)[0].data)
	if err := rec.ex.AcceptWebSocket("", nil); err != nil {
		t.Fatal(err)
	}
	d := <-ch
	if d.err != nil {
		t.Fatal(d.err)
	}
	t.Cleanup(func() { d.c.Close() })
	d.c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := rec.ex.WSWatch(true); err != nil {
		t.Fatal(err)
	}
	c := rec.ex.b.(*conn)
	c.mu.Lock()
	inline := c.in != nil
	c.mu.Unlock()
	if !inline {
		t.Fatal("the WebSocket left the inline loop in event mode")
	}
	return d.c, d.r, rec.ex
}

// readClose reads the server's next frame, which must be a close, and
// returns its code.
func readClose(t *testing.T, r io.Reader) ws.StatusCode {
	t.Helper()
	fr, err := ws.ReadFrame(r)
	if err != nil || fr.Header.OpCode != ws.OpClose {
		t.Fatalf("client got %+v %v, want a close frame", fr.Header, err)
	}
	code, _ := ws.ParseCloseFrameData(fr.Payload)
	return code
}

// inlineWS starts an event-mode server and opens one accepted WebSocket.
func inlineWS(t *testing.T, mutate func(*Options)) (*host, int, net.Conn, io.Reader, *Exchange) {
	t.Helper()
	requireInline(t)
	h, addr := startServer(t, mutate)
	fd, _ := h.srv.ReadyFD()
	c, r, ex := acceptInlineWS(t, h, fd, addr)
	return h, fd, c, r, ex
}

func closeCode(ev event) int { return int(ev.data[0])<<8 | int(ev.data[1]) }

// waitClose polls until the WebSocket's close event and returns it.
func (h *host) waitClose(fd int, ex *Exchange) event {
	h.t.Helper()
	for {
		for _, ev := range h.pollEvents(fd) {
			if ev.id == ex.id && ev.typ == EvWS && ev.code == WSClose {
				return ev
			}
		}
	}
}

func TestInlineWebSocketPushesBackOnAFullInbox(t *testing.T) {
	h, fd, c, _, ex := inlineWS(t, nil)
	const n, size = 48, 64 << 10 // 3 MiB: three times the inbox limit
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			if err := wsutil.WriteClientBinary(c, msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// With delivery off the loop reads until the inbox is full, then stops
	// reading: the client's sends block in its socket.
	ex.WSWatch(false)
	cn := ex.b.(*conn)
	state := func() (paused bool, inbox int) {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		return cn.in.wsPaused, cn.ws.inboxBytes
	}
	for end := time.Now().Add(5 * time.Second); ; {
		h.srv.Poll(h.buf, testCode)
		if paused, _ := state(); paused || time.Now().After(end) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	paused, inbox := state()
	if !paused || inbox < inboxLimit || inbox > inboxLimit+size {
		t.Fatalf("paused %v with %d bytes waiting, want a pause at the %d limit", paused, inbox, inboxLimit)
	}
	ex.WSWatch(true)
	for got := 0; got < n; {
		for _, ev := range h.pollEvents(fd) {
			if ev.typ != EvWS || ev.code != WSBinary || len(ev.data) != size || ev.data[0] != byte('a'+got%26) {
				t.Fatalf("message %d: kind %d, %d bytes", got, ev.code, len(ev.data))
			}
			got++
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

func TestInlineWebSocketClientGoneIs1006(t *testing.T) {
	h, fd, c, _, ex := inlineWS(t, nil)
	c.Close()
	if ev := h.waitClose(fd, ex); closeCode(ev) != 1006 {
		t.Fatalf("close %d, want 1006", closeCode(ev))
	}
	if err := ex.WSSendNowait(WSText, []byte("late")); err != ErrClosed {
		t.Fatalf("send after the end: %v", err)
	}
	ex.WSRelease()
}

func TestInlineWebSocketBadFrameIs1002BothWays(t *testing.T) {
	h, fd, c, r, ex := inlineWS(t, nil)
	c.Write([]byte{0x81, 0x02, 'h', 'i'}) // unmasked: a protocol error
	if ev := h.waitClose(fd, ex); closeCode(ev) != 1002 {
		t.Fatalf("host saw close %d, want 1002", closeCode(ev))
	}
	if code := readClose(t, r); code != 1002 {
		t.Fatalf("client got close %d", code)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the close: %v, want EOF", err)
	}
	ex.WSRelease()
}

func TestInlineWebSocketShutdownSends1001(t *testing.T) {
	h, _, c, r, ex := inlineWS(t, nil)
	done := make(chan struct{})
	go func() { h.srv.Shutdown(); close(done) }()
	if code := readClose(t, r); code != 1001 {
		t.Fatalf("client got close %d, want 1001", code)
	}
	// The client answers; the connection ends and Shutdown need not wait
	// for its graceful period.
	wsutil.WriteClientMessage(c, ws.OpClose, ws.NewCloseFrameBody(1001, ""))
	start := time.Now()
	for {
		select {
		case <-done:
			if d := time.Since(start); d > time.Second {
				t.Fatalf("shutdown took %v after the client's close", d)
			}
			ex.WSRelease()
			return
		default:
		}
		h.srv.Poll(h.buf, testCode) // the loop runs in the host's poll
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPullingHostKeepsWebSocketsOnGoroutines(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	go func() {
		c, _, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
		if err == nil {
			wsutil.WriteClientText(c, []byte("x"))
			time.Sleep(200 * time.Millisecond)
			c.Close()
		}
	}()
	rec := h.next()
	if err := rec.ex.AcceptWebSocket("", nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, kind, err := rec.ex.WSRecv(buf, 5*time.Second)
	if err != nil || kind != WSText || string(buf[:n]) != "x" {
		t.Fatal(fmt.Sprint(n, kind, err))
	}
	c := rec.ex.b.(*conn)
	c.mu.Lock()
	inline := c.in != nil
	c.mu.Unlock()
	if inline {
		t.Fatal("a pulling host's WebSocket stayed inline")
	}
	rec.ex.WSRelease()
}

func TestInlineWebSocketKeepalivePings(t *testing.T) {
	_, _, _, r, ex := inlineWS(t, func(o *Options) { o.WSPingInterval = 50 * time.Millisecond })
	fr, err := ws.ReadFrame(r) // written by the keepalive timer, off the loop
	if err != nil || fr.Header.OpCode != ws.OpPing {
		t.Fatalf("got %+v %v, want a ping", fr.Header, err)
	}
	ex.WSRelease()
}

// An event-mode host serving WebSockets and plain requests at once, as an
// ASGI loop does: every echo and every answer arrives intact, and the
// WebSockets and connections all end.
func TestEventModeWebSocketsAndRequestsTogether(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	fd, _ := h.srv.ReadyFD()
	const sockets, messages, clients, requests = 20, 50, 10, 30
	errs := make(chan error, sockets+clients)
	for i := 0; i < sockets; i++ {
		go func(i int) {
			c, br, _, err := ws.Dial(t.Context(), "ws://"+addr+"/ws")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			rw := struct {
				io.Reader
				io.Writer
			}{c, c}
			if br != nil {
				rw.Reader = io.MultiReader(br, c)
			}
			for m := 0; m < messages; m++ {
				msg := []byte(fmt.Sprintf("socket %d message %d", i, m))
				if err := wsutil.WriteClientText(c, msg); err != nil {
					errs <- err
					return
				}
				got, err := wsutil.ReadServerText(rw)
				if err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("socket %d: echo %q %v", i, got, err)
					return
				}
			}
			wsutil.WriteClientMessage(c, ws.OpClose, ws.NewCloseFrameBody(1000, ""))
			errs <- nil
		}(i)
	}
	for i := 0; i < clients; i++ {
		go func(i int) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			r := bufio.NewReader(c)
			for n := 0; n < requests; n++ {
				path := fmt.Sprintf("/c%d/r%d", i, n)
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				if string(body) != path {
					errs <- fmt.Errorf("%s answered %q", path, body)
					return
				}
			}
			errs <- nil
		}(i)
	}
	open := map[uint64]*Exchange{}
	closed, done := 0, 0
	deadline := time.Now().Add(30 * time.Second)
	for closed < sockets || done < sockets+clients {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d WebSockets closed, %d of %d clients done", closed, sockets, done, sockets+clients)
		}
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
			done++
			continue
		default:
		}
		n, err := h.srv.Poll(h.buf, testCode)
		if err == ErrTimeout {
			waitFD(t, fd, 10*time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for b := h.buf[:n]; len(b) > 0; {
			l := int(binary.LittleEndian.Uint32(b[12:]))
			id, typ, code := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint16(b[8:]), int16(binary.LittleEndian.Uint16(b[10:]))
			payload := b[EventHeader : EventHeader+l]
			b = b[EventHeader+l:]
			switch typ {
			case EvRequest:
				rec := h.parse(payload)
				if rec.flags&reqWebSocket != 0 {
					if err := rec.ex.AcceptWebSocket("", nil); err != nil {
						t.Fatal(err)
					}
					if rec.ex.b.(*conn).in == nil {
						t.Fatal("a WebSocket left the inline loop")
					}
					rec.ex.WSWatch(true)
					open[rec.ex.id] = rec.ex
					continue
				}
				rec.ex.SetNowait(true)
				path := rec.fields[1]
				if err := rec.ex.Respond(head("200 OK", "Content-Length", fmt.Sprint(len(path))), []byte(path), true); err != nil {
					t.Fatal(err)
				}
			case EvWS:
				ex := open[id]
				if code == WSClose {
					ex.WSRelease()
					closed++
					continue
				}
				if err := ex.WSSendNowait(int(code), bytes.Clone(payload)); err != nil && err != ErrPending {
					t.Fatal(err)
				}
			}
		}
	}
}
