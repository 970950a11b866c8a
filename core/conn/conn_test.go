package conn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/net/http2"
)

func TestHTTP1HelloEchoKeepAlive(t *testing.T) {
	addr := listen(t, Config{})
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	t.Cleanup(cl.CloseIdleConnections)
	for i := 0; i < 3; i++ {
		resp, err := cl.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello\n" || resp.Proto != "HTTP/1.1" {
			t.Fatalf("got %q over %s", b, resp.Proto)
		}
	}
	body := strings.Repeat("echo me ", 50000)
	resp, err := cl.Post("http://"+addr+"/echo", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != body {
		t.Fatalf("echo: %d bytes back, want %d", len(b), len(body))
	}
}

func h2Client(addr string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		},
	}}
}

func TestH2PriorKnowledge(t *testing.T) {
	addr := listen(t, Config{})
	cl := h2Client(addr)
	t.Cleanup(cl.CloseIdleConnections)
	body := strings.Repeat("x", 3<<20) // beyond every initial window: flow control both ways
	resp, err := cl.Post("http://"+addr+"/echo", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != body {
		t.Fatalf("%s: %d bytes back, want %d", resp.Proto, len(b), len(body))
	}
	resp, err = cl.Get("http://" + addr + "/trailers")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("trailers %v", resp.Trailer)
	}
}

func TestTLSALPN(t *testing.T) {
	// The container terminated TLS and chose h2: no preface sniffing happens,
	// so the engine must expect the client preface at once.
	c := New(Config{TLS: true, ALPN: "h2"})
	c.Recv([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"), time.Now())
	for ev := c.Next(); ev.Kind != NeedData; ev = c.Next() {
		t.Fatalf("unexpected %v", ev.Kind)
	}
	out := make([]byte, 4096)
	n := c.Send(out)
	if n < 9 || out[3] != 0x4 { // our SETTINGS first
		t.Fatalf("first frame % x", out[:n])
	}
	// http/1.1 by ALPN: HTTP/1.1, and Upgrade: h2c is not honoured over TLS.
	c = New(Config{TLS: true, ALPN: "http/1.1"})
	c.Recv([]byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"), time.Now())
	ev := c.Next()
	if ev.Kind != Request || ev.Req.Proto != "HTTP/1.1" || string(ev.Req.Scheme) != "https" {
		t.Fatalf("got %v %+v", ev.Kind, ev.Req)
	}
}

func TestH2CUpgrade(t *testing.T) {
	addr := listen(t, Config{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(nc, http2.ClientPreface)
	fr := http2.NewFramer(nc, br)
	fr.WriteSettings()
	got := ""
	for got != "hello\n" {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.DataFrame:
			if f.StreamID != 1 {
				t.Fatalf("data on stream %d", f.StreamID)
			}
			got += string(f.Data())
		}
	}
}

func TestWebSocketH1(t *testing.T) {
	addr := listen(t, Config{})
	nc, br, _, err := ws.Dialer{Timeout: 5 * time.Second, Protocols: []string{"chat"}}.Dial(context.Background(), "ws://"+addr+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if br != nil {
		t.Fatal("unexpected bytes after the handshake")
	}
	for _, m := range []struct {
		op ws.OpCode
		p  []byte
	}{{ws.OpText, []byte("hello, wörld")}, {ws.OpBinary, bytes.Repeat([]byte{0, 1, 2}, 70000)}} {
		if err := wsutil.WriteClientMessage(nc, m.op, m.p); err != nil {
			t.Fatal(err)
		}
		p, op, err := wsutil.ReadServerData(nc)
		if err != nil || op != m.op || !bytes.Equal(p, m.p) {
			t.Fatalf("echo: op %v, %d bytes, %v", op, len(p), err)
		}
	}
	ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))))
	f, err := ws.ReadFrame(nc)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("close reply: %v %v", f.Header, err)
	}
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection not closed after the handshake: %v", err)
	}
}

func TestWebSocketH2(t *testing.T) {
	addr := listen(t, Config{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, http2.ClientPreface)
	fr := http2.NewFramer(nc, nc)
	fr.WriteSettings()
	fr.ReadMetaHeaders = nil
	connectProto := false
	for !connectProto {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			v, _ := sf.Value(0x8)
			connectProto = v == 1
			fr.WriteSettingsAck()
			if !connectProto {
				t.Fatal("SETTINGS_ENABLE_CONNECT_PROTOCOL not advertised")
			}
		}
	}
	block := hpackBlock(":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", "/ws",
		":authority", addr, "sec-websocket-version", "13")
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true})
	var msg bytes.Buffer
	wsutil.WriteClientMessage(&msg, ws.OpText, []byte("over h2"))
	fr.WriteData(1, false, msg.Bytes())
	var got bytes.Buffer
	status := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			status = bytes.Contains(f.HeaderBlockFragment(), []byte{0x88}) // :status 200, indexed
		case *http2.DataFrame:
			got.Write(f.Data())
		case *http2.RSTStreamFrame:
			t.Fatalf("reset %v", f.ErrCode)
		}
		if got.Len() > 0 {
			if f, err := ws.ReadFrame(bytes.NewReader(got.Bytes())); err == nil {
				if !status || f.Header.OpCode != ws.OpText || string(f.Payload) != "over h2" {
					t.Fatalf("status %v, op %v, %q", status, f.Header.OpCode, f.Payload)
				}
				return
			}
		}
	}
}
