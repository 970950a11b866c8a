package ws

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"

	"github.com/portico-http/portico/core/internal/needs"
)

// The Endpoint behind a real TCP listener: a test-only driver does the HTTP/1.1
// upgrade with CheckOffer/AcceptKey/Negotiate and pumps bytes; the other side is
// gobwas/ws's own client (and python-websockets when installed).

func startServer(t *testing.T, allowDeflate bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(c, allowDeflate)
		}
	}()
	return ln.Addr().String()
}

func serveConn(c net.Conn, allowDeflate bool) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	fields := func(name string) [][]byte {
		var out [][]byte
		for _, v := range req.Header.Values(name) {
			out = append(out, []byte(v))
		}
		return out
	}
	offer, herr := CheckOffer([]byte(req.Method), fields, false)
	if herr != nil {
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", herr.Status, http.StatusText(herr.Status))
		return
	}
	sub := ""
	if len(offer.Subprotocols) > 0 {
		sub = offer.Subprotocols[0]
	}
	neg, err := Negotiate(offer, sub, allowDeflate)
	if err != nil {
		return
	}
	var resp bytes.Buffer
	resp.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	resp.WriteString("Sec-WebSocket-Accept: " + AcceptKey(offer.Key) + "\r\n")
	if neg.Subprotocol != "" {
		resp.WriteString("Sec-WebSocket-Protocol: " + neg.Subprotocol + "\r\n")
	}
	if neg.ResponseExtensions != "" {
		resp.WriteString("Sec-WebSocket-Extensions: " + neg.ResponseExtensions + "\r\n")
	}
	resp.WriteString("\r\n")
	if _, err := c.Write(resp.Bytes()); err != nil {
		return
	}
	e := NewEndpoint(Limits{}, neg)
	buf := make([]byte, 64<<10)
	var out []byte
	for {
		n, err := br.Read(buf)
		if n > 0 {
			e.Recv(buf[:n])
		} else if err != nil {
			e.Recv(nil)
		}
		done := false
		for ev := e.Next(); ev != NeedData && !done; ev = e.Next() {
			switch ev {
			case MessageEvent:
				op, p := e.Message()
				if op == OpText {
					e.SendText(p)
				} else {
					e.SendBinary(p)
				}
			case ErrorEvent, ClosedEvent:
				done = true
			}
		}
		if out = e.Output(out[:0]); len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if done {
			return
		}
	}
}

func dial(t *testing.T, addr string, d ws.Dialer) (net.Conn, io.Reader, ws.Handshake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+"/echo")
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	return conn, r, hs
}

func TestInteropGobwasClient(t *testing.T) {
	addr := startServer(t, false)
	conn, r, hs := dial(t, addr, ws.Dialer{Protocols: []string{"chat"}})
	if hs.Protocol != "chat" {
		t.Fatalf("subprotocol %q", hs.Protocol)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, m := range []struct {
		op ws.OpCode
		p  []byte
	}{{ws.OpText, []byte("hello, wörld")}, {ws.OpBinary, []byte{0, 1, 2, 0xff}}, {ws.OpText, nil}, {ws.OpBinary, big}, {ws.OpText, big}} {
		if err := wsutil.WriteClientMessage(conn, m.op, m.p); err != nil {
			t.Fatal(err)
		}
		got, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{r, conn})
		if err != nil || op != m.op || !bytes.Equal(got, m.p) {
			t.Fatalf("echo: op %v len %d err %v", op, len(got), err)
		}
	}
	// Ping -> pong with the same payload.
	if err := wsutil.WriteClientMessage(conn, ws.OpPing, []byte("are you there")); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(r)
	if err != nil || f.Header.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
		t.Fatalf("pong: %+v %v", f.Header, err)
	}
	// Close handshake: our close is answered with the same code, then EOF.
	if err := ws.WriteFrame(conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))); err != nil {
		t.Fatal(err)
	}
	f, err = ws.ReadFrame(r)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("close: %+v %v", f.Header, err)
	}
	if code, _ := ws.ParseCloseFrameData(f.Payload); code != ws.StatusNormalClosure {
		t.Fatalf("close code %d", code)
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after close: %v", err)
	}
}

func TestInteropGobwasClientDeflate(t *testing.T) {
	addr := startServer(t, true)
	conn, r, hs := dial(t, addr, ws.Dialer{Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}})
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != "permessage-deflate" {
		t.Fatalf("extensions %v", hs.Extensions)
	}
	big := words(1<<20, 5)
	compressed := 0
	for _, m := range []struct {
		op ws.OpCode
		p  []byte
	}{{ws.OpText, []byte("short")}, {ws.OpText, words(4000, 1)}, {ws.OpBinary, bytes.Repeat([]byte{1, 2, 3}, 5000)}, {ws.OpText, big}} {
		f, err := wsflate.CompressFrame(ws.NewFrame(m.op, true, m.p))
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteFrame(conn, ws.MaskFrameInPlace(f)); err != nil {
			t.Fatal(err)
		}
		f, err = ws.ReadFrame(r)
		if err != nil || f.Header.OpCode != m.op {
			t.Fatalf("echo: %+v %v", f.Header, err)
		}
		if f.Header.Rsv1() {
			compressed++
			if f, err = wsflate.DecompressFrame(f); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(f.Payload, m.p) {
			t.Fatalf("echo of %d bytes: got %d", len(m.p), len(f.Payload))
		}
	}
	if compressed != 3 {
		t.Fatalf("%d compressed replies, want 3", compressed)
	}
	ws.WriteFrame(conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	f, err := ws.ReadFrame(r)
	if code, _ := ws.ParseCloseFrameData(f.Payload); err != nil || code != ws.StatusGoingAway {
		t.Fatalf("close: %v %d", err, code)
	}
}

func TestInteropHandshakeRejected(t *testing.T) {
	addr := startServer(t, false)
	_, _, _, err := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Sec-WebSocket-Version": {"8"}})}.Dial(context.Background(), "ws://"+addr+"/")
	if err == nil {
		t.Fatal("dial succeeded with version 8")
	}
}

const pyEcho = `
import asyncio, sys, websockets
async def main(uri):
    async with websockets.connect(uri, max_size=None) as ws:
        print("ext", ws.response_headers.get("Sec-WebSocket-Extensions"))
        for m in ["hello", "é" * 3000, b"\x00\x01" * 40000, ""]:
            await ws.send(m)
            r = await ws.recv()
            assert r == m, (len(r), len(m))
        await ws.ping(b"x")
        await ws.close(1000, "done")
        assert ws.close_code == 1000, ws.close_code
    print("ok")
asyncio.run(main(sys.argv[1]))
`

func TestInteropPythonWebsockets(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import websockets").Run(); err != nil {
		needs.Missing(t, "python3-websockets is not installed at /usr/bin/python3 (apt-get install python3-websockets)")
	}
	addr := startServer(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", pyEcho, "ws://"+addr+"/")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil || !bytes.Contains(out, []byte("ok")) {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	t.Logf("python-websockets: %s", bytes.TrimSpace(out))
}
