package h1

import (
	"errors"
	"strings"
	"testing"
)

const (
	get11     = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	get10     = "GET / HTTP/1.0\r\n\r\n"
	get10ka   = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	head11    = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
	connect11 = "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"
)

func f(name, value string) Field { return Field{[]byte(name), []byte(value)} }

func TestResponseExact(t *testing.T) {
	cases := []struct {
		name, req string
		resp      Response
		want      string
		keepAlive bool
	}{
		{"End adds Content-Length", get11, Response{Status: 200, Body: []byte("hello"), End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true},
		{"Date and Server", get11, Response{Status: 404, Date: []byte("Thu, 01 Jan 2026 00:00:00 GMT"), Server: []byte("portico"), End: true},
			"HTTP/1.1 404 Not Found\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nServer: portico\r\nContent-Length: 0\r\n\r\n", true},
		{"app Date and Server win", get11, Response{Status: 200, Fields: []Field{f("date", "x"), f("SERVER", "y")}, Date: []byte("d"), Server: []byte("s"), End: true},
			"HTTP/1.1 200 OK\r\ndate: x\r\nSERVER: y\r\nContent-Length: 0\r\n\r\n", true},
		{"custom reason, names as given", get11, Response{Status: 299, Reason: []byte("Fine Thanks"), Fields: []Field{f("X-MiXeD", "v")}, End: true},
			"HTTP/1.1 299 Fine Thanks\r\nX-MiXeD: v\r\nContent-Length: 0\r\n\r\n", true},
		{"unknown status", get11, Response{Status: 599, End: true},
			"HTTP/1.1 599 Unknown\r\nContent-Length: 0\r\n\r\n", true},
		{"app Content-Length", get11, Response{Status: 200, Fields: []Field{f("Content-Length", "5")}, Body: []byte("hello"), End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true},
		{"1.1 streaming is chunked", get11, Response{Status: 200, Body: []byte("hi")},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n", true},
		{"app chunked drops its Content-Length", get11, Response{Status: 200, Fields: []Field{f("Content-Length", "5"), f("Transfer-Encoding", "Chunked")}, Body: []byte("hello"), End: true},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true},
		{"1.0 streaming closes", get10, Response{Status: 200, Body: []byte("hi")},
			"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhi", false},
		{"1.0 keep-alive streaming closes", get10ka, Response{Status: 200, Body: []byte("hi")},
			"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhi", false},
		{"1.0 with length", get10, Response{Status: 200, Body: []byte("hi"), End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", false},
		{"1.0 keep-alive with length", get10ka, Response{Status: 200, Body: []byte("hi"), End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi", true},
		{"1.0 app chunked becomes close-delimited", get10ka, Response{Status: 200, Fields: []Field{f("Transfer-Encoding", "chunked")}, Body: []byte("hi")},
			"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhi", false},
		{"app Connection: close", get11, Response{Status: 200, Fields: []Field{f("Connection", "Close")}, End: true},
			"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", false},
		{"request Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", Response{Status: 200, End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false},
		{"HEAD with End", head11, Response{Status: 200, Body: []byte("hello"), End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true},
		{"HEAD keeps app length", head11, Response{Status: 200, Fields: []Field{f("Content-Length", "42")}, End: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", true},
		{"HEAD streaming", head11, Response{Status: 200, Body: []byte("hello")},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"204 has no length", get11, Response{Status: 204, Fields: []Field{f("Content-Length", "0")}, Body: []byte("x"), End: true},
			"HTTP/1.1 204 No Content\r\n\r\n", true},
		{"304 keeps app length, no body", get11, Response{Status: 304, Fields: []Field{f("Content-Length", "10")}, Body: []byte("x"), End: true},
			"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", true},
		{"304 without length", get11, Response{Status: 304, End: true},
			"HTTP/1.1 304 Not Modified\r\n\r\n", true},
		{"101 switches", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
			Response{Status: 101, Fields: []Field{f("Connection", "Upgrade"), f("Upgrade", "websocket")}, End: true},
			"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false},
		{"2xx to CONNECT", connect11, Response{Status: 200, End: true},
			"HTTP/1.1 200 OK\r\n\r\n", false},
		{"4xx to CONNECT", connect11, Response{Status: 403, End: true},
			"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ready(t, tc.req)
			out, err := c.WriteResponse(nil, &tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.resp.End {
				if out, err = c.EndResponse(out, nil); err != nil {
					t.Fatal(err)
				}
				want := tc.want
				if len(want) > 0 && c.framing == fChunked {
					want += "0\r\n\r\n"
				}
				tc.want = want
			}
			if string(out) != tc.want {
				t.Errorf("got  %q\nwant %q", out, tc.want)
			}
			if c.KeepAlive() != tc.keepAlive {
				t.Errorf("KeepAlive %v", c.KeepAlive())
			}
			method := "GET"
			if tc.req == head11 {
				method = "HEAD"
			}
			p := parseResponse(t, out, method)
			if p.rest != "" {
				t.Errorf("bytes after the response: %q", p.rest)
			}
		})
	}
}

func TestResponseStreaming(t *testing.T) {
	c := ready(t, get11)
	out, _ := c.WriteResponse(nil, &Response{Status: 200, Fields: []Field{f("Trailer", "X-Sum")}})
	out, _ = c.WriteBody(out, []byte("hello "))
	out, _ = c.WriteBody(out, nil)
	out, _ = c.WriteBody(out, []byte("world"))
	out, err := c.EndResponse(out, []Field{f("X-Sum", "42")})
	if err != nil {
		t.Fatal(err)
	}
	p := parseResponse(t, out, "GET")
	if !p.chunked || p.body != "hello world" || p.rest != "" {
		t.Errorf("%+v", p)
	}
	if v, _ := p.get("X-Sum"); v != "42" {
		t.Errorf("trailer missing: %q", out)
	}
	if !c.KeepAlive() {
		t.Error("not keep-alive")
	}

	// Content-Length given: writes are checked against it.
	c = ready(t, get11)
	out, _ = c.WriteResponse(nil, &Response{Status: 200, Fields: []Field{f("Content-Length", "10")}, Body: []byte("01234")})
	out, err = c.WriteBody(out, []byte("567"))
	if err != nil {
		t.Fatal(err)
	}
	// An overlong write: the bytes up to the length go out, the rest is
	// dropped, the response is over and the connection closes.
	if out, err = c.WriteBody(out, []byte("89012")); !errors.Is(err, ErrBodyTooLong) {
		t.Fatalf("overlong write: %v", err)
	}
	if p := parseResponse(t, out, "GET"); p.body != "0123456789" || p.rest != "" {
		t.Errorf("%+v", p)
	}
	if _, err = c.EndResponse(out, nil); err != ErrState {
		t.Errorf("end after an overlong write: %v", err)
	}
	if c.KeepAlive() || c.Next() != Closed {
		t.Error("keep-alive after an overlong write")
	}

	// Too much in the head's Body: the same.
	c = ready(t, get11)
	out, err = c.WriteResponse(nil, &Response{Status: 200, Fields: []Field{f("Content-Length", "1")}, Body: []byte("ab")})
	if p := parseResponse(t, out, "GET"); !errors.Is(err, ErrBodyTooLong) || p.body != "a" || p.rest != "" || c.KeepAlive() {
		t.Errorf("%v %q", err, out)
	}

	// Short body: said, and the connection must close.
	c = ready(t, get11)
	out, err = c.WriteResponse(nil, &Response{Status: 200, Fields: []Field{f("Content-Length", "10")}, Body: []byte("01234"), End: true})
	if !errors.Is(err, ErrBodyTooShort) || !strings.HasSuffix(string(out), "\r\n\r\n01234") {
		t.Errorf("short body: %v %q", err, out)
	}
	if c.KeepAlive() {
		t.Error("keep-alive after a short body")
	}
	if c.Next() != Closed {
		t.Error("not closed")
	}

	// HEAD: WriteBody appends nothing.
	c = ready(t, head11)
	out, _ = c.WriteResponse(nil, &Response{Status: 200, Fields: []Field{f("Content-Length", "5")}})
	n := len(out)
	out, err = c.WriteBody(out, []byte("hello"))
	if err != nil || len(out) != n {
		t.Errorf("HEAD body written: %v %q", err, out)
	}
	out, _ = c.EndResponse(out, nil)
	if len(out) != n || !c.KeepAlive() {
		t.Errorf("HEAD end: %q %v", out, c.KeepAlive())
	}

	// 204: no body bytes.
	c = ready(t, get11)
	out, _ = c.WriteResponse(nil, &Response{Status: 204})
	n = len(out)
	out, _ = c.WriteBody(out, []byte("x"))
	out, _ = c.EndResponse(out, nil)
	if len(out) != n {
		t.Errorf("204 body written: %q", out)
	}
}

func TestResponseValidation(t *testing.T) {
	bad := []Response{
		{Status: 99},
		{Status: 1000},
		{Status: 0},
		{Status: 103}, // interim: WriteInformational
		{Status: 200, Reason: []byte("O\r\nK")},
		{Status: 200, Reason: []byte("O\x00K")},
		{Status: 200, Fields: []Field{f("X Y", "v")}},
		{Status: 200, Fields: []Field{f("", "v")}},
		{Status: 200, Fields: []Field{f("X:", "v")}},
		{Status: 200, Fields: []Field{f("X", "a\r\nInjected: 1")}},
		{Status: 200, Fields: []Field{f("X", "a\nb")}},
		{Status: 200, Fields: []Field{f("X", "a\x00b")}},
		{Status: 200, Fields: []Field{f("X", "a\x7fb")}},
		{Status: 200, Fields: []Field{f("Content-Length", "+5")}},
		{Status: 200, Fields: []Field{f("Content-Length", "5"), f("Content-Length", "6")}},
		{Status: 200, Fields: []Field{f("Transfer-Encoding", "gzip")}},
		{Status: 200, Fields: []Field{f("Transfer-Encoding", "gzip, chunked")}},
	}
	for _, r := range bad {
		c := ready(t, get11)
		out, err := c.WriteResponse([]byte("x"), &r)
		if !errors.Is(err, ErrHeader) || string(out) != "x" {
			t.Errorf("%+v: %v %q", r, err, out)
		}
		if c.ResponseStarted() {
			t.Errorf("%+v: response started", r)
		}
	}
	c := ready(t, get11)
	if _, err := c.WriteResponse(nil, &Response{Status: 200, Fields: []Field{f("X", "a\tb c")}, End: true}); err != nil {
		t.Errorf("HTAB and SP in value: %v", err)
	}
	c = ready(t, get11)
	out, _ := c.WriteResponse(nil, &Response{Status: 200})
	if out, err := c.EndResponse(out, []Field{f("X", "a\r\nb")}); !errors.Is(err, ErrHeader) {
		t.Errorf("bad trailer: %v %q", err, out)
	}
}

func TestResponseState(t *testing.T) {
	c := NewConn(Limits{})
	if _, err := c.WriteResponse(nil, &Response{Status: 200}); !errors.Is(err, ErrState) {
		t.Errorf("respond without request: %v", err)
	}
	c = ready(t, get11)
	if _, err := c.WriteBody(nil, []byte("x")); !errors.Is(err, ErrState) {
		t.Errorf("body before head: %v", err)
	}
	if _, err := c.EndResponse(nil, nil); !errors.Is(err, ErrState) {
		t.Errorf("end before head: %v", err)
	}
	if c.ResponseStarted() {
		t.Error("started")
	}
	if _, err := c.WriteResponse(nil, &Response{Status: 200}); err != nil {
		t.Fatal(err)
	}
	if !c.ResponseStarted() {
		t.Error("not started")
	}
	if _, err := c.WriteResponse(nil, &Response{Status: 200}); !errors.Is(err, ErrState) {
		t.Errorf("second head: %v", err)
	}
	if _, err := c.WriteInformational(nil, 103, nil); !errors.Is(err, ErrState) {
		t.Errorf("informational after head: %v", err)
	}
	if _, err := c.EndResponse(nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteBody(nil, []byte("x")); !errors.Is(err, ErrState) {
		t.Errorf("body after end: %v", err)
	}
	if _, err := c.EndResponse(nil, nil); !errors.Is(err, ErrState) {
		t.Errorf("end after end: %v", err)
	}
	if _, err := c.WriteResponse(nil, &Response{Status: 200}); !errors.Is(err, ErrState) {
		t.Errorf("head after end: %v", err)
	}
}

func TestContinueAndInformational(t *testing.T) {
	const expect = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
	c := ready(t, expect)
	out := c.WriteContinue(nil)
	if string(out) != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Errorf("%q", out)
	}
	if out = c.WriteContinue(out[:0]); len(out) != 0 {
		t.Errorf("second continue %q", out)
	}

	// Not once body bytes arrived, nor after a response started, nor without Expect.
	c = ready(t, expect+"he")
	if out := c.WriteContinue(nil); len(out) != 0 {
		t.Errorf("continue after data %q", out)
	}
	c = ready(t, expect)
	c.WriteResponse(nil, &Response{Status: 417})
	if out := c.WriteContinue(nil); len(out) != 0 {
		t.Errorf("continue after response %q", out)
	}
	c = ready(t, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
	if out := c.WriteContinue(nil); len(out) != 0 {
		t.Errorf("continue without expect %q", out)
	}
	c = ready(t, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	if out := c.WriteContinue(nil); len(out) != 0 {
		t.Errorf("continue on 1.0 %q", out)
	}

	// Answering without reading a body the client holds back: close.
	c = ready(t, expect)
	out, _ = c.WriteResponse(nil, &Response{Status: 413, End: true})
	if c.KeepAlive() {
		t.Errorf("keep-alive with a withheld body: %q", out)
	}

	// 103 Early Hints.
	c = ready(t, get11)
	out, err := c.WriteInformational(nil, 103, []Field{f("Link", "</s.css>; rel=preload")})
	if err != nil || string(out) != "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" {
		t.Errorf("%v %q", err, out)
	}
	if _, err := c.WriteInformational(nil, 200, nil); !errors.Is(err, ErrHeader) {
		t.Errorf("informational 200: %v", err)
	}
	if _, err := c.WriteInformational(nil, 103, []Field{f("X", "\n")}); !errors.Is(err, ErrHeader) {
		t.Errorf("informational bad field: %v", err)
	}
	if out, err = c.WriteResponse(nil, &Response{Status: 200, End: true}); err != nil {
		t.Errorf("final after informational: %v", err)
	}
	c = ready(t, get10)
	if out, err := c.WriteInformational([]byte("x"), 103, nil); err != nil || string(out) != "x" {
		t.Errorf("informational on 1.0: %v %q", err, out)
	}
}

func TestWriteError(t *testing.T) {
	c, ev, _ := feed(t, Limits{}, "GET / HTTP/2.0\r\n\r\n")
	if ev != ErrorEvent {
		t.Fatal(ev)
	}
	out := c.WriteError(nil)
	want := "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nHTTP version not supported\n"
	if string(out) != want {
		t.Errorf("got  %q\nwant %q", out, want)
	}
	if p := parseResponse(t, out, "GET"); p.body != "HTTP version not supported\n" || p.rest != "" {
		t.Errorf("%+v", p)
	}
	if c.Next() != Closed || c.KeepAlive() {
		t.Error("not closed")
	}
	if len(c.WriteError(nil)) != 0 {
		t.Error("second error response")
	}
	// No error: nothing. Response already started: nothing.
	c = ready(t, get11)
	if len(c.WriteError(nil)) != 0 {
		t.Error("error response without error")
	}
	c = NewConn(Limits{MaxBodySize: 3})
	c.Recv([]byte(chunkedHead + "2\r\nab\r\n"))
	c.Next()
	c.WriteResponse(nil, &Response{Status: 200})
	c.Recv([]byte("2\r\ncd\r\n"))
	for ev := c.Next(); ev != ErrorEvent; ev = c.Next() {
		if ev == NeedData || ev == Closed {
			t.Fatal(ev)
		}
	}
	if len(c.WriteError(nil)) != 0 {
		t.Error("error response after a response started")
	}
	if c.Err().Error() != "h1: 413 request body too large" {
		t.Error(c.Err().Error())
	}
}

func TestUnreadBody(t *testing.T) {
	// A short unread body is skipped; the next request follows.
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n01234"
	c := NewConn(Limits{MaxDiscard: 10})
	c.Recv([]byte(in))
	if c.Next() != RequestEvent {
		t.Fatal()
	}
	out, _ := c.WriteResponse(nil, &Response{Status: 200, End: true})
	if !c.KeepAlive() || string(out) != "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
		t.Fatalf("%q", out)
	}
	if ev := c.Next(); ev != NeedData {
		t.Fatal(ev)
	}
	if c.Idle() {
		t.Error("idle while skipping a body")
	}
	c.Recv([]byte("56789GET /next HTTP/1.1\r\nHost: a\r\n\r\n"))
	if ev := c.Next(); ev != RequestEvent || string(c.Request().Path) != "/next" {
		t.Fatal(ev)
	}

	// A long one closes.
	c = NewConn(Limits{MaxDiscard: 9})
	c.Recv([]byte(in))
	c.Next()
	out, _ = c.WriteResponse(nil, &Response{Status: 200, End: true})
	if c.KeepAlive() || string(out) != "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" {
		t.Fatalf("%q", out)
	}
	if c.Next() != Closed {
		t.Error("not closed")
	}

	// So does an unread chunked body.
	c = NewConn(Limits{})
	c.Recv([]byte(chunkedHead + "5\r\nhello\r\n"))
	c.Next()
	out, _ = c.WriteResponse(nil, &Response{Status: 200, End: true})
	if c.KeepAlive() {
		t.Fatalf("%q", out)
	}
	// But a chunked body fully read is fine.
	c = ready(t, chunkedHead+"5\r\nhello\r\n0\r\n\r\n")
	c.WriteResponse(nil, &Response{Status: 200, End: true})
	if !c.KeepAlive() {
		t.Fatal("not keep-alive")
	}
}

func TestSwitchBuffered(t *testing.T) {
	c := NewConn(Limits{})
	c.Recv([]byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0"))
	for ev := c.Next(); ev != Paused; ev = c.Next() {
	}
	if string(c.Request().Upgrade) != "h2c" {
		t.Fatal(string(c.Request().Upgrade))
	}
	c.WriteResponse(nil, &Response{Status: 101, Fields: []Field{f("Connection", "upgrade"), f("Upgrade", "h2c")}, End: true})
	if c.KeepAlive() || c.Next() != Closed || string(c.Buffered()) != "PRI * HTTP/2.0" {
		t.Errorf("%v %q", c.KeepAlive(), c.Buffered())
	}
}
