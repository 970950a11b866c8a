package h2

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func TestRequestValidation(t *testing.T) {
	base := func(extra ...string) []string { return append(getReq("/"), extra...) }
	cases := []struct {
		name    string
		lim     Limits
		fields  []string
		valid   bool
		connect bool
	}{
		{"plain", Limits{}, base(), true, false},
		{"uppercase name", Limits{}, base("X-Upper", "1"), false, false},
		{"space in name", Limits{}, base("x y", "1"), false, false},
		{"empty name", Limits{}, base("", "1"), false, false},
		{"CR in value", Limits{}, base("x", "a\rb"), false, false},
		{"LF in value", Limits{}, base("x", "a\nb"), false, false},
		{"NUL in value", Limits{}, base("x", "a\x00b"), false, false},
		{"leading space in value", Limits{}, base("x", " a"), false, false},
		{"trailing tab in value", Limits{}, base("x", "a\t"), false, false},
		{"empty value ok", Limits{}, base("x", ""), true, false},
		{"unknown pseudo", Limits{}, base(":foo", "bar"), false, false},
		{"response pseudo", Limits{}, base(":status", "200"), false, false},
		{"pseudo after regular", Limits{}, []string{":method", "GET", ":scheme", "https", "x", "1", ":path", "/"}, false, false},
		{"duplicate :method", Limits{}, base(":method", "GET"), false, false},
		{"duplicate :scheme", Limits{}, []string{":method", "GET", ":scheme", "https", ":scheme", "https", ":path", "/"}, false, false},
		{"duplicate :path", Limits{}, []string{":method", "GET", ":scheme", "https", ":path", "/", ":path", "/"}, false, false},
		{"missing :method", Limits{}, []string{":scheme", "https", ":path", "/"}, false, false},
		{"missing :scheme", Limits{}, []string{":method", "GET", ":path", "/"}, false, false},
		{"missing :path", Limits{}, []string{":method", "GET", ":scheme", "https"}, false, false},
		{"empty :path", Limits{}, []string{":method", "GET", ":scheme", "https", ":path", ""}, false, false},
		{"relative :path", Limits{}, []string{":method", "GET", ":scheme", "https", ":path", "x"}, false, false},
		{"OPTIONS *", Limits{}, []string{":method", "OPTIONS", ":scheme", "https", ":path", "*"}, true, false},
		{"GET *", Limits{}, []string{":method", "GET", ":scheme", "https", ":path", "*"}, false, false},
		{"no :authority ok", Limits{}, []string{":method", "GET", ":scheme", "https", ":path", "/"}, true, false},
		{"connection", Limits{}, base("connection", "keep-alive"), false, false},
		{"keep-alive", Limits{}, base("keep-alive", "5"), false, false},
		{"proxy-connection", Limits{}, base("proxy-connection", "x"), false, false},
		{"transfer-encoding", Limits{}, base("transfer-encoding", "chunked"), false, false},
		{"upgrade", Limits{}, base("upgrade", "websocket"), false, false},
		{"te trailers ok", Limits{}, base("te", "trailers"), true, false},
		{"te gzip", Limits{}, base("te", "trailers, gzip"), false, false},
		{"bad content-length", Limits{}, base("content-length", "1x"), false, false},
		{"conflicting content-length", Limits{}, postReq("/", "content-length", "1", "content-length", "2"), false, false},
		{"content-length without body", Limits{}, base("content-length", "3"), false, false},
		{"content-length 0 ok", Limits{}, base("content-length", "0"), true, false},
		{"CONNECT ok", Limits{}, []string{":method", "CONNECT", ":authority", "example.com:443"}, true, true},
		{"CONNECT with path", Limits{}, []string{":method", "CONNECT", ":authority", "example.com:443", ":path", "/"}, false, true},
		{"CONNECT without authority", Limits{}, []string{":method", "CONNECT"}, false, true},
		{":protocol disabled", Limits{}, []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/chat", ":authority", "x"}, false, true},
		{":protocol ok", Limits{EnableConnectProtocol: true}, []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/chat", ":authority", "x"}, true, true},
		{":protocol without path", Limits{EnableConnectProtocol: true}, []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "x"}, false, true},
		{":protocol on GET", Limits{EnableConnectProtocol: true}, []string{":method", "GET", ":protocol", "websocket", ":scheme", "https", ":path", "/"}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := newClient(t, c.lim)
			tc.headers(1, !c.connect, c.fields...)
			tc.fr.WritePing(false, pingMarker)
			tc.flush()
			got := len(tc.eventsOf(RequestEvent)) == 1
			if got != c.valid {
				t.Fatalf("accepted=%v, want %v: %s", got, c.valid, tc.summary())
			}
			if !c.valid && tc.rst(1) != http2.ErrCodeProtocol {
				t.Fatalf("want RST_STREAM PROTOCOL_ERROR (not a 400): %s", tc.summary())
			}
			if tc.goaway() != noFrame {
				t.Fatalf("connection error: %s", tc.summary())
			}
			if c.valid && c.connect {
				r := tc.eventsOf(RequestEvent)[0].req
				if r.EndStream || string(r.Method) != "CONNECT" {
					t.Fatalf("%+v", r)
				}
				if c.lim.EnableConnectProtocol && string(r.Protocol) != "websocket" {
					t.Fatalf("protocol %q", r.Protocol)
				}
			}
			// The HPACK state survived: another request works.
			tc.reset()
			tc.headers(3, true, getReq("/next")...)
			tc.flush()
			if len(tc.eventsOf(RequestEvent)) != 1 {
				t.Fatalf("next request: %s", tc.summary())
			}
		})
	}
}

func TestContentLength(t *testing.T) {
	for _, c := range []struct {
		name   string
		cl     string
		chunks []string
		ok     bool
	}{
		{"exact", "8", []string{"test", "test"}, true},
		{"short", "8", []string{"test"}, false},
		{"long", "4", []string{"test", "x"}, false},
		{"long in one frame", "3", []string{"test"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newClient(t, Limits{})
			tc.auto = true
			tc.headers(1, false, postReq("/", "content-length", c.cl)...)
			for i, ch := range c.chunks {
				tc.data(1, i == len(c.chunks)-1, ch)
			}
			tc.flush()
			ended := tc.hasEvent(EndStreamEvent, 1)
			if ended != c.ok {
				t.Fatalf("ended=%v: %s", ended, tc.summary())
			}
			if !c.ok && (tc.rst(1) != http2.ErrCodeProtocol || !tc.hasEvent(ResetEvent, 1)) {
				t.Fatalf("want RST PROTOCOL_ERROR and ResetEvent: %s", tc.summary())
			}
			if got := tc.eventsOf(RequestEvent)[0].req.ContentLength; got < 0 {
				t.Fatalf("ContentLength %d", got)
			}
		})
	}
}

func TestTrailerValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		kv   []string
		ok   bool
	}{
		{"ok", []string{"x-sum", "1"}, true},
		{"pseudo", []string{":path", "/"}, false},
		{"uppercase", []string{"X-Sum", "1"}, false},
		{"connection-specific", []string{"transfer-encoding", "chunked"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newClient(t, Limits{})
			tc.headers(1, false, postReq("/")...)
			tc.data(1, false, "test")
			tc.headers(1, true, c.kv...)
			tc.flush()
			if got := tc.hasEvent(EndStreamEvent, 1); got != c.ok {
				t.Fatalf("%s", tc.summary())
			}
			if !c.ok && tc.rst(1) != http2.ErrCodeProtocol {
				t.Fatalf("%s", tc.summary())
			}
		})
	}
}

func TestHeaderListTooLarge(t *testing.T) {
	tc := newClient(t, Limits{MaxHeaderListSize: 1000})
	tc.headers(1, true, append(getReq("/"), "x-big", strings.Repeat("a", 1000))...)
	tc.flush()
	if len(tc.eventsOf(RequestEvent)) != 0 {
		t.Fatal("request delivered")
	}
	h := tc.frameOf(http2.FrameHeaders, 1)
	if h == nil || fieldValue(h.fields, ":status") != "431" || !h.flags.Has(http2.FlagHeadersEndStream) {
		t.Fatalf("want a 431 from the engine: %s", tc.summary())
	}
	// With a body still coming, the client is told to stop.
	tc.reset()
	tc.headers(3, false, append(postReq("/"), "x-big", strings.Repeat("a", 1000))...)
	tc.data(3, true, "late")
	tc.headers(5, true, getReq("/ok")...)
	tc.flush()
	if tc.rst(3) != http2.ErrCodeNo || len(tc.eventsOf(RequestEvent)) != 1 || tc.goaway() != noFrame {
		t.Fatalf("%s", tc.summary())
	}
}

func TestMaxBodySize(t *testing.T) {
	// Declared too large: 413 at head time, the host never sees it.
	tc := newClient(t, Limits{MaxBodySize: 10})
	tc.headers(1, false, postReq("/", "content-length", "11")...)
	tc.flush()
	h := tc.frameOf(http2.FrameHeaders, 1)
	if len(tc.eventsOf(RequestEvent)) != 0 || h == nil || fieldValue(h.fields, ":status") != "413" || tc.rst(1) != http2.ErrCodeNo {
		t.Fatalf("%s", tc.summary())
	}
	// Undeclared, crossing the limit mid-body: 413, reset, ResetEvent to the host.
	tc.reset()
	tc.headers(3, false, postReq("/")...)
	tc.data(3, false, "0123456789")
	tc.data(3, false, "x")
	tc.flush()
	h = tc.frameOf(http2.FrameHeaders, 3)
	if h == nil || fieldValue(h.fields, ":status") != "413" || tc.rst(3) != http2.ErrCodeNo || !tc.hasEvent(ResetEvent, 3) {
		t.Fatalf("%s", tc.summary())
	}
	if err := tc.c.Respond(3, 200, nil, true); err != ErrStreamClosed {
		t.Fatalf("Respond after engine 413: %v", err)
	}
}
