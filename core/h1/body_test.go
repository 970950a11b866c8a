package h1

import (
	"strings"
	"testing"
)

const chunkedHead = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

func TestChunkedBody(t *testing.T) {
	cases := []struct {
		name, body string
		want       int    // error status, 0 if accepted
		data       string // body when accepted
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", 0, "hello"},
		{"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "hello world"},
		{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789"},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 0, "hello"},
		{"extension", "5;name\r\nhello\r\n0;last=yes\r\n\r\n", 0, "hello"},
		{"extension quoted", "5;a=\"x; \\\"y\\\"\";b=c\r\nhello\r\n0\r\n\r\n", 0, "hello"},
		{"extension BWS", "5 ; a = b\r\nhello\r\n0\r\n\r\n", 0, "hello"},
		{"empty body", "0\r\n\r\n", 0, ""},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"trailing space", "5 \r\nhello\r\n0\r\n\r\n", 400, ""},
		{"leading space", " 5\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"negative", "-5\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"plus", "+5\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"overflow", "ffffffffffffffffffff\r\n", 400, ""},
		{"over 2^62", "4000000000000001\r\n", 400, ""},
		{"extension without name", "5;\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"extension bad value", "5;a=\"x\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"extension junk", "5;a b\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", 400, ""},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", 400, ""},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", 400, ""},
		{"bare CR in size line", "5\r;a\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"too much data", "3\r\nhello\r\n0\r\n\r\n", 400, ""},
		{"size line too long", "5;a=" + strings.Repeat("b", 5000) + "\r\n", 400, ""},
		{"trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", 0, "hello"},
		{"trailer obs-fold", "0\r\nX: 1\r\n 2\r\n\r\n", 400, ""},
		{"trailer NUL", "0\r\nX: 1\x00\r\n\r\n", 400, ""},
		{"trailer bare LF", "0\r\nX: 1\n\r\n", 400, ""},
		{"trailer name", "0\r\nX Y: 1\r\n\r\n", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ev, data := feed(t, Limits{}, chunkedHead+tc.body)
			got := 0
			if ev == ErrorEvent {
				got = c.Err().Status
			} else if ev != Paused {
				t.Fatalf("event %v", ev)
			}
			if got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
			if got == 0 && data != tc.data {
				t.Errorf("data %q, want %q", data, tc.data)
			}
		})
	}
}

func TestChunkedTrailers(t *testing.T) {
	c, ev, _ := feed(t, Limits{}, chunkedHead+"1\r\nx\r\n0\r\nX-A: 1 \r\nx-b:2\r\n\r\n")
	if ev != Paused {
		t.Fatal(ev)
	}
	tr := c.Trailers()
	if len(tr) != 2 || string(tr[0].Name) != "X-A" || string(tr[0].Value) != "1" || string(tr[1].Value) != "2" {
		t.Errorf("trailers %q", tr)
	}
	c, _, _ = feed(t, Limits{}, chunkedHead+"0\r\n\r\n")
	if c.Trailers() != nil {
		t.Errorf("trailers %q, want nil", c.Trailers())
	}
	if got := status(t, Limits{MaxHeadSize: 100}, chunkedHead+"0\r\nX: "+strings.Repeat("v", 100)+"\r\n\r\n"); got != 431 {
		t.Errorf("large trailers: %d", got)
	}
}

func TestChunkedBodyLimit(t *testing.T) {
	c := NewConn(Limits{MaxBodySize: 10})
	c.Recv([]byte(chunkedHead + "6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n"))
	var evs []Event
	for ev := c.Next(); ev != NeedData && ev != Closed && len(evs) < 10; ev = c.Next() {
		evs = append(evs, ev)
	}
	want := []Event{RequestEvent, DataEvent, ErrorEvent}
	if len(evs) != 3 || evs[0] != want[0] || evs[1] != want[1] || evs[2] != want[2] {
		t.Fatalf("events %v, want %v", evs, want)
	}
	if c.Err().Status != 413 {
		t.Errorf("status %d", c.Err().Status)
	}
	if got := status(t, Limits{MaxBodySize: 10}, chunkedHead+"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"); got != 0 {
		t.Errorf("at the limit: %d", got)
	}
}

func TestContentLengthData(t *testing.T) {
	// Data never includes bytes of the next request.
	c := NewConn(Limits{})
	c.Recv([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"))
	if ev := c.Next(); ev != RequestEvent {
		t.Fatal(ev)
	}
	if ev := c.Next(); ev != DataEvent || string(c.Data()) != "hel" {
		t.Fatal(ev, string(c.Data()))
	}
	if ev := c.Next(); ev != NeedData {
		t.Fatal(ev)
	}
	if c.BodyDone() {
		t.Fatal("body done too early")
	}
	c.Recv([]byte("loGET / HTTP/1.1\r\n"))
	if ev := c.Next(); ev != DataEvent || string(c.Data()) != "lo" {
		t.Fatal(ev, string(c.Data()))
	}
	if ev := c.Next(); ev != EndOfMessage || !c.BodyDone() {
		t.Fatal(ev)
	}
	if ev := c.Next(); ev != Paused {
		t.Fatal(ev)
	}
	if string(c.Buffered()) != "GET / HTTP/1.1\r\n" {
		t.Errorf("buffered %q", c.Buffered())
	}
}

func TestEOF(t *testing.T) {
	cases := []struct {
		name, in string
		want     Event
		status   int
	}{
		{"idle", "", Closed, 0},
		{"after empty lines", "\r\n", Closed, 0},
		{"mid head", "GET / HTTP/1.1\r\nHo", ErrorEvent, 400},
		{"mid body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe", ErrorEvent, 400},
		{"mid chunk", chunkedHead + "5\r\nhe", ErrorEvent, 400},
		{"mid trailers", chunkedHead + "0\r\nX: 1\r\n", ErrorEvent, 400},
	}
	for _, tc := range cases {
		c := NewConn(Limits{})
		c.Recv([]byte(tc.in))
		c.Recv(nil)
		ev := c.Next()
		for ev == RequestEvent || ev == DataEvent {
			ev = c.Next()
		}
		if ev != tc.want || tc.status != 0 && c.Err().Status != tc.status {
			t.Errorf("%s: %v %v", tc.name, ev, c.Err())
		}
		if ev == ErrorEvent && c.Next() != Closed {
			t.Errorf("%s: not closed after the error", tc.name)
		}
	}
	// EOF after a complete request: it is still answered, then Closed.
	c := NewConn(Limits{})
	c.Recv([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	c.Commit(0)
	for _, want := range []Event{RequestEvent, EndOfMessage, Paused} {
		if ev := c.Next(); ev != want {
			t.Fatalf("%v, want %v", ev, want)
		}
	}
	if _, err := c.WriteResponse(nil, &Response{Status: 200, End: true}); err != nil {
		t.Fatal(err)
	}
	if ev := c.Next(); ev != Closed {
		t.Fatalf("%v, want Closed", ev)
	}
}
