package h1

import (
	"strings"
	"testing"
)

const host = "Host: a\r\n"

func TestRequestHeadStatus(t *testing.T) {
	cases := []struct {
		name, in string
		want     int // 0: accepted
	}{
		// Request line.
		{"simple", "GET / HTTP/1.1\r\n" + host + "\r\n", 0},
		{"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n", 0},
		{"leading bare LF", "\nGET / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"leading bare CR", "\rGET / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"method not token", "G@T / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"empty method", " / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"double SP before target", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"double SP before version", "GET /  HTTP/1.1\r\n" + host + "\r\n", 400},
		{"trailing SP", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400},
		{"HTAB separator", "GET\t/ HTTP/1.1\r\n" + host + "\r\n", 400},
		{"no version", "GET /\r\n" + host + "\r\n", 400},
		{"space in target", "GET /a b HTTP/1.1\r\n" + host + "\r\n", 400},
		{"CTL in target", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", 400},
		{"DEL in target", "GET /a\x7f HTTP/1.1\r\n" + host + "\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", 400},
		{"asterisk OPTIONS", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 0},
		{"asterisk GET", "GET * HTTP/1.1\r\n" + host + "\r\n", 400},
		{"CONNECT authority", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0},
		{"CONNECT bad authority", "CONNECT a/b:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400},
		{"absolute form", "GET http://a/b HTTP/1.1\r\n" + host + "\r\n", 0},
		{"absolute form userinfo", "GET http://u@a/b HTTP/1.1\r\n" + host + "\r\n", 400},
		{"absolute form no authority", "GET http:///b HTTP/1.1\r\n" + host + "\r\n", 400},
		// Version.
		{"1.0", "GET / HTTP/1.0\r\n\r\n", 0},
		{"1.9 served", "GET / HTTP/1.9\r\n" + host + "\r\n", 0},
		{"2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
		{"3.0", "GET / HTTP/3.0\r\n" + host + "\r\n", 505},
		{"0.9", "GET / HTTP/0.9\r\n\r\n", 505},
		{"HTTP/1", "GET / HTTP/1\r\n" + host + "\r\n", 400},
		{"lower case", "GET / http/1.1\r\n" + host + "\r\n", 400},
		{"suffix", "GET / HTTP/1.1x\r\n" + host + "\r\n", 400},
		{"multi-digit major", "GET / HTTP/10.1\r\n" + host + "\r\n", 400},
		{"multi-digit minor", "GET / HTTP/1.10\r\n" + host + "\r\n", 400},
		{"letters", "GET / HTTP/a.b\r\n" + host + "\r\n", 400},
		// Line endings.
		{"bare LF everywhere", "GET / HTTP/1.1\n" + "Host: a\n\n", 400},
		{"bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
		{"bare LF at end", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
		{"bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
		// Field lines.
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X: a\r\n b\r\n\r\n", 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\n" + host + "X: a\r\n\tb\r\n\r\n", 400},
		{"space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\n" + host + "X: a\x00b\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\n" + host + "X: a\x7fb\r\n\r\n", 400},
		{"CTL in value", "GET / HTTP/1.1\r\n" + host + "X: a\x1bb\r\n\r\n", 400},
		{"HTAB in value", "GET / HTTP/1.1\r\n" + host + "X: a\tb\r\n\r\n", 0},
		{"obs-text in value", "GET / HTTP/1.1\r\n" + host + "X: caf\xc3\xa9\r\n\r\n", 0},
		{"empty value", "GET / HTTP/1.1\r\n" + host + "X:\r\n\r\n", 0},
		{"empty name", "GET / HTTP/1.1\r\n" + host + ": a\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\n" + host + "Xa\r\n\r\n", 400},
		{"name not token", "GET / HTTP/1.1\r\n" + host + "X(y): a\r\n\r\n", 400},
		// Host.
		{"no Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"no Host on 1.0", "GET / HTTP/1.0\r\n\r\n", 0},
		{"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"two Host 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
		{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"Host with @", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
		{"Host IPv6 and port", "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n", 0},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0},
		{"absolute form needs Host on 1.1", "GET http://a/b HTTP/1.1\r\n\r\n", 400},
		// Content-Length.
		{"CL", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n", 0},
		{"CL same list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\nhello", 0},
		{"CL same fields", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 0},
		{"CL differing list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1, 2\r\n\r\n", 400},
		{"CL differing fields", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		{"CL plus sign", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", 400},
		{"CL minus sign", "POST / HTTP/1.1\r\n" + host + "Content-Length: -5\r\n\r\n", 400},
		{"CL empty", "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", 400},
		{"CL hex", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\n", 400},
		{"CL inner space", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1 2\r\n\r\n", 400},
		{"CL overflow", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999\r\n\r\n", 400},
		{"CL over 2^62", "POST / HTTP/1.1\r\n" + host + "Content-Length: 4611686018427387905\r\n\r\n", 400},
		{"CL trailing comma", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5,\r\n\r\n", 400},
		// Transfer-Encoding.
		{"TE chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0},
		{"TE Chunked case", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n", 0},
		{"TE on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"CL and TE", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE and CL", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked, identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n", 400},
		{"TE chunked twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"TE space before colon", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n", 400},
		{"TE gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE gzip then chunked fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"TE chunked then gzip fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"TE identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", 501},
		{"TE empty", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n\r\n", 400},
		{"TE not a token", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: \"chunked\"\r\n\r\n", 400},
		{"TE chunked with params", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked;a=1\r\n\r\n", 501},
		{"TE empty elements", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: , chunked,\r\n\r\n0\r\n\r\n", 0},
		// Expect, Connection and others are accepted whatever their value.
		{"Expect unknown", "GET / HTTP/1.1\r\n" + host + "Expect: foo\r\n\r\n", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := status(t, Limits{}, tc.in); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	c, ev, _ := feed(t, Limits{}, "GET /p/q?x=1?y HTTP/1.1\r\nHost: example.com:80\r\nX-A:  v  \r\nx-a: w\r\n\r\n")
	if ev != Paused {
		t.Fatal(ev, c.Err())
	}
	r := c.Request()
	check := func(name string, got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	check("Method", r.Method, "GET")
	check("Target", r.Target, "/p/q?x=1?y")
	check("Path", r.Path, "/p/q")
	check("Query", r.Query, "x=1?y")
	check("Authority", r.Authority, "example.com:80")
	if r.Major != 1 || r.Minor != 1 || r.ContentLength != -1 || r.Chunked || !r.KeepAlive || r.Expect100 || r.Upgrade != nil {
		t.Errorf("request %+v", r)
	}
	if len(r.Fields) != 3 || string(r.Fields[1].Name) != "X-A" || string(r.Fields[1].Value) != "v" ||
		string(r.Fields[2].Name) != "x-a" || string(r.Fields[2].Value) != "w" {
		t.Errorf("fields %q", r.Fields)
	}
}

func TestRequestTargets(t *testing.T) {
	cases := []struct{ in, path, query, authority string }{
		{"GET http://h:1/p?q HTTP/1.1\r\nHost: other\r\n\r\n", "/p", "q", "h:1"},
		{"GET HTTPS://h HTTP/1.1\r\nHost: other\r\n\r\n", "/", "", "h"},
		{"GET http://h?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", "/", "q=1", "h"},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "*", "", "h"},
		{"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", "h:443", "", "h:443"},
		{"GET /x HTTP/1.0\r\n\r\n", "/x", "", ""},
		{"GET /? HTTP/1.0\r\n\r\n", "/", "", ""},
	}
	for _, tc := range cases {
		c := ready(t, tc.in)
		r := c.Request()
		if string(r.Path) != tc.path || string(r.Query) != tc.query || string(r.Authority) != tc.authority {
			t.Errorf("%q: path %q query %q authority %q", tc.in, r.Path, r.Query, r.Authority)
		}
	}
}

// TestRequestFieldsAsTheHostSeesThem: a repeated or listed Content-Length
// reaches the host as one line with the one value (RFC 9110 8.6), and an
// absolute-form target's authority replaces Host (RFC 9112 3.2.2).
func TestRequestFieldsAsTheHostSeesThem(t *testing.T) {
	cases := []struct{ in, fields string }{
		{"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX: 1\r\ncontent-length: 5\r\n\r\nhello",
			"Host: h|Content-Length: 5|X: 1"},
		{"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", "Host: h|Content-Length: 5"},
		{"POST /p HTTP/1.1\r\nContent-Length: 5 ,5\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
			"Content-Length: 5|Host: h"},
		{"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 05\r\n\r\nhello", "Host: h|Content-Length: 05"},
		{"GET http://example.test/p?q=1 HTTP/1.1\r\nHost: other\r\nX: 1\r\n\r\n", "Host: example.test|X: 1"},
		{"GET http://example.test:8080/p HTTP/1.0\r\nX: 1\r\n\r\n", "X: 1|Host: example.test:8080"},
		{"GET /p HTTP/1.1\r\nHost: h\r\n\r\n", "Host: h"},
	}
	for _, tc := range cases {
		c, ev, body := feed(t, Limits{}, tc.in)
		if ev != Paused {
			t.Fatalf("%q: %v %v", tc.in, ev, c.Err())
		}
		var got []string
		for _, f := range c.Request().Fields {
			got = append(got, string(f.Name)+": "+string(f.Value))
		}
		if strings.Join(got, "|") != tc.fields {
			t.Errorf("%q: fields %q, want %q", tc.in, strings.Join(got, "|"), tc.fields)
		}
		if want := strings.SplitN(tc.in, "\r\n\r\n", 2)[1]; body != want {
			t.Errorf("%q: body %q", tc.in, body)
		}
	}
	for _, in := range []string{
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!",
	} {
		if st := status(t, Limits{}, in); st != 400 {
			t.Errorf("%q: status %d, want 400", in, st)
		}
	}
}

func TestRequestVersionAndOptions(t *testing.T) {
	cases := []struct {
		in        string
		minor     int
		keepAlive bool
		expect    bool
		upgrade   string
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, true, false, ""},
		{"GET / HTTP/1.7\r\nHost: a\r\n\r\n", 1, true, false, ""},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1, false, false, ""},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: x, CLOSE\r\n\r\n", 1, false, false, ""},
		{"GET / HTTP/1.0\r\n\r\n", 0, false, false, ""},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, true, false, ""},
		{"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, false, false, ""},
		{"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n", 1, true, true, ""},
		{"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", 0, false, false, ""},
		{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", 1, true, false, "websocket"},
		{"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", 1, true, false, ""},
	}
	for _, tc := range cases {
		c := ready(t, tc.in)
		r := c.Request()
		if r.Major != 1 || r.Minor != tc.minor || r.KeepAlive != tc.keepAlive || r.Expect100 != tc.expect || string(r.Upgrade) != tc.upgrade {
			t.Errorf("%q: %d.%d ka=%v expect=%v upgrade=%q", tc.in, r.Major, r.Minor, r.KeepAlive, r.Expect100, r.Upgrade)
		}
		if (tc.upgrade == "") != (r.Upgrade == nil) {
			t.Errorf("%q: Upgrade nil-ness", tc.in)
		}
	}
}

func TestHeadSizeLimit(t *testing.T) {
	lim := Limits{MaxHeadSize: 64}
	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " // 30 bytes
	exact := head + strings.Repeat("v", 64-len(head)-4) + "\r\n\r\n"
	if len(exact) != 64 {
		t.Fatal(len(exact))
	}
	if got := status(t, lim, exact); got != 0 {
		t.Errorf("head of exactly the limit: %d", got)
	}
	if got := status(t, lim, exact+"GET"); got != 0 {
		t.Errorf("head of exactly the limit then more: %d", got)
	}
	over := head + strings.Repeat("v", 64-len(head)-3) + "\r\n\r\n"
	if got := status(t, lim, over); got != 431 {
		t.Errorf("head one over the limit: %d", got)
	}
	if got := status(t, lim, head+strings.Repeat("v", 100)); got != 431 {
		t.Errorf("unterminated head over the limit: %d", got)
	}
	if got := status(t, lim, head+strings.Repeat("v", 10)); got != 0 {
		t.Errorf("unterminated head under the limit: %d", got)
	}
	if got := status(t, Limits{}, "GET / HTTP/1.1\r\nHost: a\r\nX: "+strings.Repeat("v", 70000)+"\r\n\r\n"); got != 431 {
		t.Errorf("default limit: %d", got)
	}
	// The request line alone over the limit: its target is too long (414).
	if got := status(t, lim, "GET /"+strings.Repeat("p", 100)+" HTTP/1.1\r\nHost: a\r\n\r\n"); got != 414 {
		t.Errorf("request line over the limit: %d", got)
	}
	if got := status(t, lim, "GET /"+strings.Repeat("p", 100)); got != 414 {
		t.Errorf("unterminated request line over the limit: %d", got)
	}
}

func TestContentLengthLimit(t *testing.T) {
	lim := Limits{MaxBodySize: 10}
	if got := status(t, lim, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"); got != 0 {
		t.Errorf("at the limit: %d", got)
	}
	if got := status(t, lim, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"); got != 413 {
		t.Errorf("over the limit: %d", got)
	}
}
