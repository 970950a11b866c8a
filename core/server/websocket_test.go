package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestWebSocketEchoOverHTTP1(t *testing.T) {
	h, addr := startServer(t, nil)
	done := make(chan error, 1)
	go func() {
		p := h.next()
		if p.flags&reqWebSocket == 0 {
			done <- fmt.Errorf("no websocket flag in %q", p.fields)
			return
		}
		ex := p.ex
		if err := ex.AcceptWebSocket("chat", head("X-Server", "portico")[len("X-Server")+1:]); err != nil {
			done <- err
			return
		}
		buf := make([]byte, 1<<16)
		for {
			n, kind, err := ex.WSRecv(buf, 5*time.Second)
			if err == ErrBuffer {
				// Too big for the buffer: ask the size, grow, take it.
				size, _ := ex.WSNextSize()
				buf = make([]byte, size)
				n, kind, err = ex.WSRecv(buf, 0)
			}
			if err != nil {
				done <- err
				return
			}
			if kind == WSClose {
				code := int(buf[0])<<8 | int(buf[1])
				if code != 1000 {
					done <- fmt.Errorf("close code %d", code)
					return
				}
				done <- ex.WSRelease()
				return
			}
			if err := ex.WSSend(kind, buf[:n]); err != nil {
				done <- err
				return
			}
		}
	}()

	d := ws.Dialer{Protocols: []string{"other", "chat"}}
	c, _, hs, err := d.Dial(context.Background(), "ws://"+addr+"/chat")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hs.Protocol != "chat" {
		t.Errorf("subprotocol %q", hs.Protocol)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 70000)} {
		if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, op, err := wsutil.ReadServerData(c)
		if err != nil || op != ws.OpText || string(got) != msg {
			t.Fatalf("echo: %v op %v len %d", err, op, len(got))
		}
	}
	wsutil.WriteClientBinary(c, []byte{0, 1, 2})
	if got, op, _ := wsutil.ReadServerData(c); op != ws.OpBinary || len(got) != 3 {
		t.Errorf("binary echo op %v %v", op, got)
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The server answers the close, then closes the connection.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := ws.ReadFrame(c)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("want a close frame: %v %v", err, f.Header.OpCode)
	}
}

func TestWebSocketBadVersionGets426(t *testing.T) {
	h, addr := startServer(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("got %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := h.srv.Next(0, h.buf); err != ErrTimeout {
		t.Errorf("the refused handshake reached the host: %v", err)
	}
}

func TestWebSocketServerCloseAndShutdown(t *testing.T) {
	h, addr := startServer(t, nil)
	go func() {
		p := h.next()
		p.ex.AcceptWebSocket("", nil)
	}()
	c, _, _, err := ws.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go h.srv.Shutdown()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := ws.ReadFrame(c)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("want close: %v", err)
	}
	code, _ := ws.ParseCloseFrameData(f.Payload)
	if code != 1001 {
		t.Errorf("close code %d, want 1001", code)
	}
}

// A quiet client is pinged; one that stays silent is closed with 1011.
func TestWebSocketKeepalive(t *testing.T) {
	h, addr := startServer(t, func(o *Options) {
		o.WSPingInterval, o.WSPingTimeout = 50*time.Millisecond, 100*time.Millisecond
	})
	go func() {
		p := h.next()
		p.ex.AcceptWebSocket("", nil)
		buf := make([]byte, 64)
		for {
			if _, kind, err := p.ex.WSRecv(buf, 5*time.Second); err != nil || kind == WSClose {
				p.ex.WSRelease()
				return
			}
		}
	}()
	c, _, _, err := ws.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	var ops []ws.OpCode
	for {
		f, err := ws.ReadFrame(c) // never answers: no pong
		if err != nil {
			t.Fatalf("after %v: %v (frames %v)", time.Since(start), err, ops)
		}
		ops = append(ops, f.Header.OpCode)
		if f.Header.OpCode == ws.OpClose {
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != 1011 || ops[0] != ws.OpPing {
				t.Errorf("frames %v, close %d %q", ops, code, reason)
			}
			return
		}
	}
}
