package server

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// bothPaths runs f on the inline path and on the goroutine path.
func bothPaths(t *testing.T, f func(t *testing.T, inline bool)) {
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) { f(t, inline) })
	}
}

// TestFramingEdgesReachTheHostAsSeen: a repeated or listed Content-Length
// reaches the host once, with its one value; an absolute-form target's
// authority is the Host; empty lines before the request line are skipped.
func TestFramingEdgesReachTheHostAsSeen(t *testing.T) {
	cases := []struct{ name, in, path, query, fields, body string }{
		{"Content-Length twice", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
			"/p", "", "Host=h Content-Length=5", "hello"},
		{"Content-Length list", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
			"/p", "", "Host=h Content-Length=5", "hello"},
		{"absolute form", "GET http://example.test/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
			"/p", "q=1", "Host=example.test", ""},
		{"empty lines first", "\r\n\r\nGET /e HTTP/1.1\r\nHost: h\r\n\r\n", "/e", "", "Host=h", ""},
	}
	bothPaths(t, func(t *testing.T, inline bool) {
		h, addr := startServer(t, func(o *Options) { o.InlineIO = inline })
		for _, tc := range cases {
			c, r := dial(t, addr)
			fmt.Fprint(c, tc.in)
			p := h.next()
			if p.inline() != inline {
				t.Fatalf("%s: served inline %v", tc.name, p.inline())
			}
			var fs []string
			for i := 9; i+1 < len(p.fields); i += 2 {
				fs = append(fs, p.fields[i]+"="+p.fields[i+1])
			}
			if p.fields[1] != tc.path || p.fields[2] != tc.query || strings.Join(fs, " ") != tc.fields {
				t.Errorf("%s: path %q query %q fields %q", tc.name, p.fields[1], p.fields[2], fs)
			}
			if body := p.readAll(t); string(body) != tc.body {
				t.Errorf("%s: body %q", tc.name, body)
			}
			if err := p.ex.Respond(head("200 OK"), []byte("ok"), true); err != nil {
				t.Fatal(err)
			}
			if resp, b := readResp(t, r); resp.StatusCode != 200 || b != "ok" {
				t.Errorf("%s: %d %q", tc.name, resp.StatusCode, b)
			}
		}
	})
}

// TestFramingEdgesAnsweredAtOnce: what the parser refuses is answered at
// once (never after the header timeout) and the connection closes.
func TestFramingEdgesAnsweredAtOnce(t *testing.T) {
	cases := []struct{ name, in, status string }{
		{"Content-Length differs", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400"},
		{"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", "400"},
		{"no version", "GET /\r\n\r\n", "400"},
		{"HTTP/2.0 on an h1 port", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", "505"},
		{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", "505"},
		{"bare LF", "GET / HTTP/1.1\nHost: h\n\n", "400"},
		{"bare LF, first line only", "GET / HTTP/1.1\n", "400"},
	}
	bothPaths(t, func(t *testing.T, inline bool) {
		_, addr := startServer(t, func(o *Options) { o.InlineIO = inline; o.HeaderTimeout = time.Minute })
		for _, tc := range cases {
			c, r := dial(t, addr)
			start := time.Now()
			fmt.Fprint(c, tc.in)
			resp, _ := readResp(t, r)
			if got := fmt.Sprint(resp.StatusCode); got != tc.status {
				t.Errorf("%s: status %s, want %s", tc.name, got, tc.status)
			}
			if _, err := r.ReadByte(); err != io.EOF {
				t.Errorf("%s: after the answer: %v, want EOF", tc.name, err)
			}
			// Generous for a loaded machine, far below the header timeout.
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("%s: answered after %v", tc.name, d)
			}
		}
	})
}
