package h1

import (
	"strings"
	"testing"
)

var validStreams = []string{
	"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
	"\r\nGET /a?b=c HTTP/1.0\r\nUser-Agent: x\r\n\r\n",
	"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
	chunkedHead + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
	// Pipelined: three requests, then one with a body, then one that closes.
	"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + chunkedHead + "1\r\nx\r\n0\r\n\r\n" +
		"GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n",
	// Ends in an error after a good request.
	"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n" + chunkedHead + "5\r\nhelloXX",
}

func TestByteAtATime(t *testing.T) {
	for _, in := range validStreams {
		whole := trace([]byte(in), 0, Limits{})
		for _, step := range []int{1, 2, 3, 7, 16} {
			if got := trace([]byte(in), step, Limits{}); got != whole {
				t.Errorf("%q in pieces of %d:\n%s\nall at once:\n%s", in, step, got, whole)
			}
		}
	}
	// Sanity of one trace.
	want := "request GET /1 /1 \"\" \"a\" 1.1 cl=-1 ch=false ka=true [Host=a]\nend 0\nresponded\n" +
		"request GET /2 /2 \"\" \"a\" 1.1 cl=-1 ch=false ka=true [Host=a]\nend 0\nresponded\n" +
		"request GET /3 /3 \"\" \"a\" 1.1 cl=-1 ch=false ka=true [Host=a]\nend 0\nresponded\nclosed\n"
	if got := trace([]byte(validStreams[4]), 1, Limits{}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPipelining(t *testing.T) {
	c := NewConn(Limits{})
	c.Recv([]byte(validStreams[4]))
	var out []byte
	for i := 1; i <= 3; i++ {
		if ev := c.Next(); ev != RequestEvent {
			t.Fatalf("request %d: %v", i, ev)
		}
		path := string(c.Request().Path)
		if path != "/"+string(rune('0'+i)) {
			t.Fatalf("request %d: path %s", i, path)
		}
		if ev := c.Next(); ev != EndOfMessage {
			t.Fatal(ev)
		}
		// Paused until the response ends, however often asked.
		for j := 0; j < 3; j++ {
			if ev := c.Next(); ev != Paused {
				t.Fatal(ev)
			}
		}
		out, _ = c.WriteResponse(out, &Response{Status: 200})
		if ev := c.Next(); ev != Paused {
			t.Fatal(ev)
		}
		out, _ = c.WriteBody(out, []byte(path))
		out, _ = c.EndResponse(out, nil)
	}
	if ev := c.Next(); ev != NeedData {
		t.Fatal(ev)
	}
	if !c.Idle() {
		t.Error("not idle")
	}
	// Answers are in order.
	for i := 1; i <= 3; i++ {
		p := parseResponse(t, out, "GET")
		if p.body != "/"+string(rune('0'+i)) {
			t.Errorf("response %d: %q", i, p.body)
		}
		out = []byte(p.rest)
	}
}

func TestIdle(t *testing.T) {
	c := NewConn(Limits{})
	if !c.Idle() {
		t.Error("new conn not idle")
	}
	c.Recv([]byte("G"))
	if c.Next() != NeedData || c.Idle() {
		t.Error("idle with a partial head")
	}
	c.Recv([]byte("ET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	c.Next()
	if c.Idle() {
		t.Error("idle during a request")
	}
	c.Next()
	c.WriteResponse(nil, &Response{Status: 200, End: true})
	if !c.Idle() {
		t.Error("not idle after the response")
	}
}

func TestRecvBufferGrowth(t *testing.T) {
	c := NewConn(Limits{})
	body := strings.Repeat("x", 100000)
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + body
	var got strings.Builder
	pos := 0
	for steps := 0; steps < 10000; steps++ {
		switch ev := c.Next(); ev {
		case NeedData:
			b := c.RecvBuffer(1000)
			if len(b) < 1000 {
				t.Fatal(len(b))
			}
			n := copy(b, in[pos:])
			pos += n
			c.Commit(n)
		case DataEvent:
			got.WriteString(string(c.Data()))
		case EndOfMessage:
			if got.String() != body {
				t.Fatal("body differs")
			}
			if cap(c.buf) > 200000 {
				t.Errorf("buffer grew to %d", cap(c.buf))
			}
			return
		case RequestEvent:
		default:
			t.Fatal(ev)
		}
	}
	t.Fatal("no end")
}
