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
	for _, junk := range []string{"SSH-2.0-OpenSSH\r\n", "INVALID CONNECTION PREFACE\r\n\r\n", "\x16\x03\x01\x02\x00"} {
		c := New(Config{})
		c.Recv([]byte(junk), time.Now())
		if ev := c.Next(); ev.Kind != Closed {
			t.Fatalf("%q: got %v", junk, ev.Kind)
		}
		if ev := c.Next(); ev.Kind != NeedData || c.WantRead() || c.WantWrite() {
			t.Fatalf("%q: after Closed: %v read %v write %v", junk, ev.Kind, c.WantRead(), c.WantWrite())
		}
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

// TestFramingEdges: the HTTP/1.1 framing edges of issue 17 in connection
// mode. A head the parser can take reaches the host as it should be seen;
// the rest is answered at once, never left waiting for more input.
func TestFramingEdges(t *testing.T) {
	accepted := []struct{ name, in, authority, path, query, fields string }{
		{"Content-Length twice", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
			"h", "/p", "", "Host: h|Content-Length: 5"},
		{"Content-Length list", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
			"h", "/p", "", "Host: h|Content-Length: 5"},
		{"absolute form", "GET http://example.test/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
			"example.test", "/p", "q=1", "Host: example.test"},
		{"empty lines first", "\r\n\r\nGET /e HTTP/1.1\r\nHost: h\r\n\r\n", "h", "/e", "", "Host: h"},
	}
	for _, tc := range accepted {
		c := New(Config{})
		c.Recv([]byte(tc.in), time.Now())
		ev := c.Next()
		if ev.Kind != Request {
			t.Fatalf("%s: got %v, answer %q", tc.name, ev.Kind, drain(c))
		}
		r := ev.Req
		var fs []string
		for _, f := range r.Fields {
			fs = append(fs, string(f.Name)+": "+string(f.Value))
		}
		if string(r.Authority) != tc.authority || string(r.Path) != tc.path || string(r.Query) != tc.query ||
			strings.Join(fs, "|") != tc.fields {
			t.Errorf("%s: authority %q path %q query %q fields %q", tc.name, r.Authority, r.Path, r.Query, fs)
		}
		if body := strings.SplitN(tc.in, "\r\n\r\n", 2)[1]; !strings.HasSuffix(tc.in, "\r\n\r\n") {
			if ev := c.Next(); ev.Kind != Data || string(ev.Data) != body {
				t.Errorf("%s: body event %v %q", tc.name, ev.Kind, ev.Data)
			}
		}
	}
	refused := []struct{ name, in, status string }{
		{"Content-Length differs", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400"},
		{"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", "400"},
		{"no version", "GET /\r\n\r\n", "400"},
		{"HTTP/2.0 on an h1 port", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", "505"},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", "505"},
		{"bare LF", "GET / HTTP/1.1\nHost: h\n\n", "400"},
		{"bare LF first line only", "GET / HTTP/1.1\n", "400"},
		{"bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", "400"},
	}
	for _, tc := range refused {
		c := New(Config{})
		c.Recv([]byte(tc.in), time.Now()) // no EOF: the answer may not wait for more
		if ev := c.Next(); ev.Kind != Closed {
			t.Errorf("%s: got %v", tc.name, ev.Kind)
			continue
		}
		if out := drain(c); !strings.HasPrefix(out, "HTTP/1.1 "+tc.status+" ") {
			t.Errorf("%s: answer %q, want %s", tc.name, out, tc.status)
		}
	}
}

// TestResponseLengthMismatchCut: HTTP/1.1 in connection mode sends no byte
// past the declared Content-Length, and closes after a body that ends short.
func TestResponseLengthMismatchCut(t *testing.T) {
	for _, tc := range []struct{ cl, body, wire string }{
		{"3", "this is nineteen b\n", "thi"},
		{"30", "short\n", "short\n"},
	} {
		c := New(Config{})
		c.Recv([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), time.Now())
		if ev := c.Next(); ev.Kind != Request {
			t.Fatal(ev.Kind)
		}
		if _, err := c.Respond(1, 200, []Field{{[]byte("Content-Length"), []byte(tc.cl)}}, []byte(tc.body), true); err != ErrLength {
			t.Errorf("%s: %v, want ErrLength", tc.cl, err)
		}
		out := drain(c)
		if _, body, _ := strings.Cut(out, "\r\n\r\n"); body != tc.wire {
			t.Errorf("%s: sent %q", tc.cl, out)
		}
		if ev := c.Next(); ev.Kind != Closed || c.WantRead() {
			t.Errorf("%s: after the cut: %v, want Closed", tc.cl, ev.Kind)
		}
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
