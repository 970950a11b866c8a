package conn

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func drain(c *Conn) string {
	var b bytes.Buffer
	buf := make([]byte, 7) // small on purpose: Send drains in pieces
	for c.WantWrite() {
		b.Write(buf[:c.Send(buf)])
	}
	return b.String()
}

func TestJunkFirstLineCloses(t *testing.T) {
	c := New(Config{})
	c.Recv([]byte("SSH-2.0-OpenSSH\r\n"), time.Now())
	if ev := c.Next(); ev.Kind != Closed {
		t.Fatalf("got %v", ev.Kind)
	}
	if ev := c.Next(); ev.Kind != NeedData || c.WantRead() || c.WantWrite() {
		t.Fatalf("after Closed: %v read %v write %v", ev.Kind, c.WantRead(), c.WantWrite())
	}
}

func TestBadRequestAnswered(t *testing.T) {
	c := New(Config{})
	c.Recv([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), time.Now())
	if ev := c.Next(); ev.Kind != Closed {
		t.Fatalf("got %v", ev.Kind)
	}
	if out := drain(c); !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Fatalf("answer %q", out)
	}
}

func TestCommandsCheckStreamAndState(t *testing.T) {
	c := New(Config{})
	c.Recv([]byte("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), time.Now())
	ev := c.Next()
	if ev.Kind != Request || ev.Stream != 1 || string(ev.Req.Path) != "/a" {
		t.Fatalf("got %v %d", ev.Kind, ev.Stream)
	}
	if _, err := c.Respond(2, 200, nil, nil, true); err != ErrStream {
		t.Fatalf("wrong stream: %v", err)
	}
	if _, err := c.Write(1, []byte("x"), false); err != ErrState {
		t.Fatalf("write before respond: %v", err)
	}
	if err := c.WSAccept(1, "", nil); err != ErrState {
		t.Fatalf("accept of a plain request: %v", err)
	}
	if _, err := c.Push(1, []byte("/x"), nil); err != ErrState {
		t.Fatalf("push on HTTP/1.1: %v", err)
	}
	if _, err := c.Respond(1, 200, []Field{{[]byte("Bad Name"), []byte("v")}}, nil, true); err != ErrHeader {
		t.Fatalf("bad field: %v", err)
	}
	if _, err := c.Respond(1, 200, nil, []byte("A"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Respond(1, 200, nil, nil, true); err != ErrStream {
		t.Fatalf("respond twice: %v", err)
	}
	// Answered before its (empty) body was pulled: the rest of request 1 is
	// skipped, and the next event is request 2.
	ev = c.Next()
	if ev.Kind != Request || ev.Stream != 2 {
		t.Fatalf("got %v %d", ev.Kind, ev.Stream)
	}
	c.Next() // End
	c.Respond(2, 204, nil, nil, true)
	if ev := c.Next(); ev.Kind != Closed {
		t.Fatalf("after Connection: close: %v", ev.Kind)
	}
	out := drain(c)
	if strings.Count(out, "HTTP/1.1 ") != 2 || c.WantRead() {
		t.Fatalf("out %q, want read %v", out, c.WantRead())
	}
}

func TestExpectContinueWhenHostReads(t *testing.T) {
	c := New(Config{})
	c.Recv([]byte("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"), time.Now())
	if ev := c.Next(); ev.Kind != Request || !ev.Req.ExpectContinue {
		t.Fatalf("got %v", ev.Kind)
	}
	if drain(c) != "" {
		t.Fatal("100 Continue before the host asked for the body")
	}
	if ev := c.Next(); ev.Kind != NeedData {
		t.Fatalf("got %v", ev.Kind)
	}
	if out := drain(c); out != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatalf("got %q", out)
	}
}

func TestBrokenWebSocketHandshakeAnsweredByEngine(t *testing.T) {
	c := New(Config{})
	c.Recv([]byte("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), time.Now())
	if ev := c.Next(); ev.Kind != Closed {
		t.Fatalf("got %v", ev.Kind)
	}
	if out := drain(c); !strings.HasPrefix(out, "HTTP/1.1 426 ") || !strings.Contains(out, "Sec-WebSocket-Version: 13") {
		t.Fatalf("got %q", out)
	}
}

func TestCloseIsPolite(t *testing.T) {
	c := New(Config{TLS: true, ALPN: "h2"})
	c.Close()
	for c.Next().Kind != NeedData {
	}
	out := drain(c)
	if !strings.Contains(out, "\x00\x00\x08\x07") { // a GOAWAY frame header
		t.Fatalf("no GOAWAY in % x", out)
	}
}

func TestPipelineFloodIsCutOff(t *testing.T) {
	c := New(Config{})
	c.Recv([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), time.Now())
	if ev := c.Next(); ev.Kind != Request {
		t.Fatalf("got %v", ev.Kind)
	}
	c.Next() // End
	more := []byte(strings.Repeat("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1000))
	for i := 0; i < 100; i++ { // 2.7 MB ahead of the first answer
		c.Recv(more, time.Now())
	}
	if ev := c.Next(); ev.Kind != NeedData {
		t.Fatalf("got %v", ev.Kind)
	}
	c.Respond(1, 200, nil, []byte("x"), true)
	for {
		ev := c.Next()
		if ev.Kind == Closed {
			break
		}
		if ev.Kind == NeedData {
			t.Fatal("the connection went on after the flood")
		}
		if ev.Kind == Request {
			c.Respond(ev.Stream, 200, nil, nil, true)
		}
	}
	if c.WantRead() {
		t.Fatal("still reading")
	}
}
