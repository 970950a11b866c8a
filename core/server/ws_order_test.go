package server

// The Autobahn|Testsuite cases where good messages come before a bad frame, sent
// in one write as Autobahn does: the echo of every good message must reach the
// client before the 1002 close, over HTTP/1.1 (goroutine and inline paths) and
// HTTP/2 (RFC 8441), with real echo hosts. Before, the close was queued the
// moment the bad frame was parsed, ahead of the app's echo, and Autobahn marked
// these cases NON-STRICT.

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
)

type orderCase struct {
	id     string
	in     []byte   // what the client sends, in one write
	echoes []string // the text messages before the bad frame, echoed in order
}

// clientFrame builds a masked client frame (payloads under 126 bytes).
func clientFrame(fin bool, rsv, op byte, p []byte) []byte {
	b0 := rsv | op
	if fin {
		b0 |= 0x80
	}
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out := append([]byte{b0, 0x80 | byte(len(p))}, mask[:]...)
	for i, c := range p {
		out = append(out, c^mask[i%4])
	}
	return out
}

func orderCases() []orderCase {
	hello := []byte("Hello, world!")
	text := clientFrame(true, 0, 1, hello)
	ping := clientFrame(true, 0, 9, []byte("x"))
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	cs := []orderCase{
		{"3.2", cat(text, clientFrame(true, 0x20, 1, hello), ping), []string{"Hello, world!"}},
		{"3.3", cat(text, clientFrame(true, 0x30, 1, hello), ping), []string{"Hello, world!"}},
		{"3.4", cat(text, clientFrame(true, 0x40, 1, hello), ping), []string{"Hello, world!"}},
	}
	for i, op := range []byte{5, 6, 7} {
		cs = append(cs, orderCase{fmt.Sprintf("4.1.%d", i+3), cat(text, clientFrame(true, 0, op, []byte("reserved")), ping), []string{"Hello, world!"}})
	}
	for i, op := range []byte{0xd, 0xe, 0xf} {
		cs = append(cs, orderCase{fmt.Sprintf("4.2.%d", i+3), cat(text, clientFrame(true, 0, op, []byte("reserved")), ping), []string{"Hello, world!"}})
	}
	cs = append(cs, orderCase{"5.15", cat(clientFrame(false, 0, 1, []byte("fragment1")), clientFrame(true, 0, 0, []byte("fragment2")),
		clientFrame(false, 0, 0, []byte("fragment3")), clientFrame(true, 0, 0, []byte("fragment4"))), []string{"fragment1fragment2"}})
	// Several good messages and a pong-worthy ping before the bad frame.
	cs = append(cs, orderCase{"many", cat(text, clientFrame(true, 0, 1, []byte("two")), clientFrame(true, 0, 1, []byte("three")),
		clientFrame(true, 0x20, 1, hello)), []string{"Hello, world!", "two", "three"}})
	return cs
}

// orderRuns is how often each case runs per transport: the old order was a
// race, so one run proves little.
const orderRuns = 5

// checkOrder reads the server's frames: the echoes in order, then close 1002.
func checkOrder(t *testing.T, c orderCase, r io.Reader) {
	t.Helper()
	for i := 0; ; i++ {
		f, err := ws.ReadFrame(r)
		if err != nil {
			t.Fatalf("%s: frame %d: %v", c.id, i, err)
		}
		switch {
		case f.Header.OpCode == ws.OpClose:
			code, _ := ws.ParseCloseFrameData(f.Payload)
			if code != 1002 || i != len(c.echoes) {
				t.Fatalf("%s: close %d after %d echoes, want 1002 after %d", c.id, code, i, len(c.echoes))
			}
			return
		case i >= len(c.echoes) || f.Header.OpCode != ws.OpText || string(f.Payload) != c.echoes[i]:
			t.Fatalf("%s: frame %d is %v %q, want the echo %q", c.id, i, f.Header.OpCode, f.Payload, c.echoes[min(i, len(c.echoes)-1)])
		}
	}
}

// pullEcho is a blocking app: it takes messages with WSRecv and answers each
// before taking the next, then releases the WebSocket at the close.
func pullEcho(ex *Exchange) error {
	buf := make([]byte, 1<<16)
	for {
		n, kind, err := ex.WSRecv(buf, 10*time.Second)
		if err != nil {
			return err
		}
		if kind == WSClose {
			if code := int(buf[0])<<8 | int(buf[1]); code != 1002 {
				return fmt.Errorf("host saw close %d, want 1002", code)
			}
			return ex.WSRelease()
		}
		if err := ex.WSSend(kind, buf[:n]); err != nil {
			return fmt.Errorf("echo: %v", err)
		}
	}
}

func TestWebSocketEchoesBeforeTheProtocolErrorHTTP1(t *testing.T) {
	h, addr := startServer(t, nil)
	for _, c := range orderCases() {
		for run := 0; run < orderRuns; run++ {
			done := make(chan error, 1)
			go func() {
				p := h.next()
				if err := p.ex.AcceptWebSocket("", nil); err != nil {
					done <- err
					return
				}
				done <- pullEcho(p.ex)
			}()
			conn, br, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			var r io.Reader = conn
			if br != nil {
				r = io.MultiReader(br, conn)
			}
			conn.Write(c.in)
			checkOrder(t, c, r)
			if err := <-done; err != nil {
				t.Fatalf("%s: host: %v", c.id, err)
			}
			conn.Close()
		}
	}
}

// The inline loop in event mode: messages reach the host through Poll, and its
// answers are written from its own thread; the close waits for its release.
func TestWebSocketEchoesBeforeTheProtocolErrorInline(t *testing.T) {
	requireInline(t)
	h, addr := startServer(t, nil)
	fd, _ := h.srv.ReadyFD()
	for _, c := range orderCases() {
		for run := 0; run < orderRuns; run++ {
			conn, r, ex := acceptInlineWS(t, h, fd, addr)
			conn.Write(c.in)
		events:
			for {
				for _, ev := range h.pollEvents(fd) {
					if ev.id != ex.id || ev.typ != EvWS {
						continue
					}
					if ev.code == WSClose {
						if closeCode(ev) != 1002 {
							t.Fatalf("%s: host saw close %d", c.id, closeCode(ev))
						}
						ex.WSRelease()
						break events
					}
					if err := ex.WSSendNowait(int(ev.code), ev.data); err != nil {
						t.Fatalf("%s: echo: %v", c.id, err)
					}
				}
			}
			checkOrder(t, c, r)
			conn.Close()
		}
	}
}

// RFC 8441: the WebSocket rides one HTTP/2 stream's DATA.
func TestWebSocketEchoesBeforeTheProtocolErrorHTTP2(t *testing.T) {
	h, addr := startServer(t, nil)
	r := dialH2(t, addr)
	r.fr.WriteSettingsAck()
	id := uint32(1)
	for _, c := range orderCases() {
		for run := 0; run < orderRuns; run++ {
			done := make(chan error, 1)
			go func() {
				p := h.next()
				if err := p.ex.AcceptWebSocket("", nil); err != nil {
					done <- err
					return
				}
				done <- pullEcho(p.ex)
			}()
			blk := r.block(":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", "/",
				":authority", "x", "sec-websocket-version", "13")
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true})
			var got bytes.Buffer
			ended := false
			for !ended {
				f, err := r.fr.ReadFrame()
				if err != nil {
					t.Fatalf("%s: %v (got %q)", c.id, err, got.Bytes())
				}
				if f.Header().StreamID != id {
					continue
				}
				switch f := f.(type) {
				case *http2.MetaHeadersFrame:
					if f.PseudoValue("status") != "200" {
						t.Fatalf("%s: status %q", c.id, f.PseudoValue("status"))
					}
					r.fr.WriteData(id, false, c.in)
				case *http2.DataFrame:
					got.Write(f.Data())
					ended = f.StreamEnded()
				case *http2.RSTStreamFrame:
					t.Fatalf("%s: RST_STREAM %v (got %q)", c.id, f.ErrCode, got.Bytes())
				}
			}
			checkOrder(t, c, &got)
			if err := <-done; err != nil {
				t.Fatalf("%s: host: %v", c.id, err)
			}
			id += 2
		}
	}
}

// A silent app does not keep a failed WebSocket: the close goes out closeWait
// after the error even though the app never took the messages before it, and
// the app's late send fails.
func TestWebSocketFailureCloseIsBoundedInTime(t *testing.T) {
	h, addr := startServer(t, nil)
	accepted := make(chan *Exchange, 1)
	go func() {
		p := h.next()
		p.ex.AcceptWebSocket("", nil)
		accepted <- p.ex
	}()
	conn, br, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(closeWait + 10*time.Second))
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	ex := <-accepted
	start := time.Now()
	conn.Write(orderCases()[0].in)
	f, err := ws.ReadFrame(r)
	waited := time.Since(start)
	if code, _ := ws.ParseCloseFrameData(f.Payload); err != nil || f.Header.OpCode != ws.OpClose || code != 1002 {
		t.Fatalf("frame %v %q %v, want close 1002", f.Header.OpCode, f.Payload, err)
	}
	if waited < closeWait-time.Second {
		t.Fatalf("close after %v: it did not wait for the app", waited)
	}
	if err := ex.WSSend(WSText, []byte("late")); err != ErrClosed {
		t.Fatalf("send after the close: %v, want ErrClosed", err)
	}
	ex.WSRelease()
}
