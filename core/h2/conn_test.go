package h2

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func TestServerPreface(t *testing.T) {
	tc := newRawClient(t, Limits{MaxConcurrentStreams: 50, InitialWindowSize: 1 << 20, EnableConnectProtocol: true, MaxFrameSize: 32768})
	tc.readOutput()
	if len(tc.frames) < 2 || tc.frames[0].typ != http2.FrameSettings || tc.frames[0].flags != 0 {
		t.Fatalf("first frame not SETTINGS: %s", tc.summary())
	}
	want := map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: 50,
		http2.SettingInitialWindowSize:    1 << 20,
		http2.SettingMaxFrameSize:         32768,
		http2.SettingMaxHeaderListSize:    65536,
		settingEnableConnectProtocol:      1,
	}
	got := map[http2.SettingID]uint32{}
	for _, s := range tc.frames[0].settings {
		got[s.ID] = s.Val
	}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("setting %v = %d, want %d", id, got[id], v)
		}
	}
	if _, ok := got[http2.SettingEnablePush]; ok {
		t.Error("a server must not send SETTINGS_ENABLE_PUSH")
	}
	if wu := tc.frameOf(http2.FrameWindowUpdate, 0); wu == nil || wu.inc != 1<<20-65535 {
		t.Errorf("connection window not opened: %s", tc.summary())
	}
	// Preface byte by byte, then SETTINGS: ACK.
	tc.reset()
	for i := 0; i < len(clientPreface); i++ {
		tc.feed([]byte{clientPreface[i]})
	}
	tc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	raw := tc.wbuf.Bytes()
	for i := range raw {
		tc.feed(raw[i : i+1])
	}
	tc.wbuf.Reset()
	if f := tc.frameOf(http2.FrameSettings, 0); f == nil || f.flags != http2.FlagSettingsAck {
		t.Fatalf("no SETTINGS ACK: %s", tc.summary())
	}
}

func TestInvalidPreface(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"} {
		tc := newRawClient(t, Limits{})
		tc.readOutput()
		tc.reset()
		tc.feed([]byte(in))
		if tc.goaway() != http2.ErrCodeProtocol || len(tc.eventsOf(ConnErrorEvent)) != 1 || len(tc.eventsOf(ClosedEvent)) != 1 {
			t.Errorf("%q: %s", in, tc.summary())
		}
	}
	// First frame after the preface must be SETTINGS.
	tc := newRawClient(t, Limits{})
	tc.wbuf.WriteString(clientPreface)
	tc.fr.WritePing(false, [8]byte{})
	tc.flush()
	if tc.goaway() != http2.ErrCodeProtocol {
		t.Errorf("PING first: %s", tc.summary())
	}
}

func TestSimpleGET(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, append(getReq("/a?b=c"), "user-agent", "test", "cookie", "a=1", "cookie", "b=2")...)
	tc.flush()
	reqs := tc.eventsOf(RequestEvent)
	if len(reqs) != 1 {
		t.Fatalf("events: %s", tc.summary())
	}
	r := reqs[0].req
	if r.StreamID != 1 || string(r.Method) != "GET" || string(r.Scheme) != "https" || string(r.Authority) != "example.com" ||
		string(r.Path) != "/a?b=c" || !r.EndStream || r.ContentLength != -1 || len(r.Protocol) != 0 {
		t.Fatalf("request: %+v", r)
	}
	if len(r.Fields) != 3 || string(r.Fields[1].Value) != "a=1" || string(r.Fields[2].Value) != "b=2" {
		t.Fatalf("fields (cookie crumbs must stay separate): %q", r.Fields)
	}
	if tc.hasEvent(EndStreamEvent, 1) {
		t.Error("EndStreamEvent after a request with EndStream")
	}
	if tc.c.OpenStreams() != 1 {
		t.Fatalf("open streams %d", tc.c.OpenStreams())
	}
	err := tc.c.Respond(1, 200, fl("Content-Type", "text/plain", "Connection", "close", "X-Custom", " v "), false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tc.c.SendData(1, []byte("hello"), true); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	tc.drain()
	h := tc.frameOf(http2.FrameHeaders, 1)
	if h == nil || h.flags.Has(http2.FlagHeadersEndStream) {
		t.Fatalf("frames: %s", tc.summary())
	}
	if fieldValue(h.fields, ":status") != "200" || fieldValue(h.fields, "content-type") != "text/plain" ||
		fieldValue(h.fields, "connection") != "" || fieldValue(h.fields, "x-custom") != "v" {
		t.Errorf("response fields: %v", h.fields)
	}
	d := tc.frameOf(http2.FrameData, 1)
	if d == nil || d.data != "hello" || !d.flags.Has(http2.FlagDataEndStream) {
		t.Fatalf("data: %s", tc.summary())
	}
	if tc.c.OpenStreams() != 0 {
		t.Errorf("stream not closed")
	}
	// Commands on a finished stream fail cleanly.
	if err := tc.c.Respond(1, 200, nil, true); err != ErrStreamClosed {
		t.Error(err)
	}
	if _, err := tc.c.SendData(1, []byte("x"), true); err != ErrStreamClosed {
		t.Error(err)
	}
	if err := tc.c.Reset(1, http2.ErrCodeCancel); err != ErrStreamClosed {
		t.Error(err)
	}
	if err := tc.c.Respond(99, 200, nil, true); err != ErrStreamClosed {
		t.Error(err)
	}
}

func TestRespondValidation(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	for _, c := range []struct {
		status int
		fields []Field
	}{
		{99, nil}, {1000, nil}, {101, nil}, {150, nil},
		{200, fl("bad name", "x")}, {200, fl("", "x")}, {200, fl(":status", "200")},
		{200, fl("x", "a\r\nb")}, {200, fl("x", "a\x00")}, {200, fl("x", "a\n")},
	} {
		if err := tc.c.Respond(1, c.status, c.fields, true); err != ErrHeader {
			t.Errorf("Respond(%d, %q) = %v, want ErrHeader", c.status, c.fields, err)
		}
	}
	if _, err := tc.c.SendData(1, []byte("x"), false); err != ErrState {
		t.Errorf("SendData before Respond: %v", err)
	}
	if err := tc.c.SendTrailers(1, nil); err != ErrState {
		t.Errorf("SendTrailers before Respond: %v", err)
	}
	if err := tc.c.Informational(1, 103, fl("link", "</s.css>; rel=preload")); err != nil {
		t.Fatal(err)
	}
	if err := tc.c.Informational(1, 200, nil); err != ErrHeader {
		t.Error(err)
	}
	if err := tc.c.Respond(1, 418, fl("X-A", "1"), false); err != nil {
		t.Fatal(err)
	}
	if err := tc.c.Respond(1, 200, nil, false); err != ErrState {
		t.Errorf("second Respond: %v", err)
	}
	if err := tc.c.Informational(1, 103, nil); err != ErrState {
		t.Errorf("Informational after Respond: %v", err)
	}
	tc.drain()
	hs := tc.framesOf(http2.FrameHeaders)
	if len(hs) != 2 || fieldValue(hs[0].fields, ":status") != "103" || fieldValue(hs[0].fields, "link") == "" ||
		fieldValue(hs[1].fields, ":status") != "418" || fieldValue(hs[1].fields, "x-a") != "1" {
		t.Fatalf("headers: %+v", hs)
	}
}

func TestLargeResponseHeadersUseContinuation(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	big := bytes.Repeat([]byte("v"), 40000)
	if err := tc.c.Respond(1, 200, []Field{{[]byte("x-big"), big}}, true); err != nil {
		t.Fatal(err)
	}
	tc.drain()
	h := tc.frameOf(http2.FrameHeaders, 1)
	if h == nil || fieldValue(h.fields, "x-big") != string(big) {
		t.Fatalf("big header lost: %s", tc.summary())
	}
}

func TestPingAndUnknownFrames(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.fr.WriteRawFrame(0x16, 0, 0, []byte("ignored!"))
	tc.fr.WriteRawFrame(0x10, 0, 1, []byte("x")) // PRIORITY_UPDATE, ignored
	tc.fr.WritePing(true, [8]byte{9})
	tc.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	tc.flush()
	pings := tc.framesOf(http2.FramePing)
	if len(pings) != 1 || pings[0].flags != http2.FlagPingAck || pings[0].data != "\x01\x02\x03\x04\x05\x06\x07\x08" {
		t.Fatalf("%s", tc.summary())
	}
}

func TestTrailersBothWays(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, false, postReq("/up", "te", "trailers")...)
	tc.data(1, false, "body")
	tc.headers(1, true, "x-checksum", "abc")
	tc.flush()
	ends := tc.eventsOf(EndStreamEvent)
	if len(ends) != 1 || len(ends[0].trailers) != 1 || string(ends[0].trailers[0].Name) != "x-checksum" {
		t.Fatalf("%s", tc.summary())
	}
	tc.c.Consumed(1, 4)
	if err := tc.c.Respond(1, 200, nil, false); err != nil {
		t.Fatal(err)
	}
	tc.c.SendData(1, []byte("ok"), false)
	if err := tc.c.SendTrailers(1, fl("Grpc-Status", "0")); err != nil {
		t.Fatal(err)
	}
	tc.drain()
	hs := tc.framesOf(http2.FrameHeaders)
	if len(hs) != 2 || !hs[1].flags.Has(http2.FlagHeadersEndStream) || fieldValue(hs[1].fields, "grpc-status") != "0" {
		t.Fatalf("%s", tc.summary())
	}
	if tc.c.OpenStreams() != 0 {
		t.Error("stream still open")
	}
}

// earlyAnswered opens a POST on stream 1 whose body is still coming (one part sent)
// and answers it completely at once, as an app that does not read the body does.
func earlyAnswered(t *testing.T, lim Limits) *tclient {
	t.Helper()
	tc := newClient(t, lim)
	tc.headers(1, false, postReq("/", "content-length", "8")...)
	tc.data(1, false, "part")
	tc.flush()
	if err := tc.c.Respond(1, 200, nil, true); err != nil {
		t.Fatal(err)
	}
	tc.drain()
	if tc.rst(1) != noFrame {
		t.Fatalf("a stream whose client still has window is not reset at the answer: %s", tc.summary())
	}
	if tc.c.OpenStreams() != 0 {
		t.Fatalf("a draining stream counts as open for the host: %d", tc.c.OpenStreams())
	}
	tc.reset()
	return tc
}

// After a complete early answer the rest of the request is still checked, whatever
// the timing between the client's frames and the answer (h2spec's 8.1/1,
// 8.1.2.6, 6.9.1/3 and 8.1.2.1 cases raced an early answer before).
func TestEarlyResponseStillChecksTheRequest(t *testing.T) {
	cases := []struct {
		name string
		send func(tc *tclient)
		code http2.ErrCode
	}{
		{"trailers without END_STREAM", func(tc *tclient) {
			tc.headers(1, false, "x-test", "ok")
		}, http2.ErrCodeProtocol},
		{"pseudo-header in trailers", func(tc *tclient) {
			tc.headers(1, true, ":method", "POST")
		}, http2.ErrCodeProtocol},
		{"more DATA than content-length", func(tc *tclient) {
			tc.data(1, true, "toolongtoo")
		}, http2.ErrCodeProtocol},
		{"END_STREAM short of content-length", func(tc *tclient) {
			tc.data(1, true, "ab")
		}, http2.ErrCodeProtocol},
		{"stream window over 2^31-1", func(tc *tclient) {
			tc.fr.WriteWindowUpdate(1, 1<<31-1)
			tc.fr.WriteWindowUpdate(1, 1<<31-1)
		}, http2.ErrCodeFlowControl},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			tc := earlyAnswered(t, Limits{})
			cs.send(tc)
			tc.flush()
			if tc.rst(1) != cs.code || len(tc.events) != 0 || tc.goaway() != noFrame {
				t.Fatalf("want RST_STREAM %v and no event: %s", cs.code, tc.summary())
			}
			if tc.c.clientOpen != 0 || tc.c.drainOpen != 0 {
				t.Fatalf("stream not closed: open %d draining %d", tc.c.clientOpen, tc.c.drainOpen)
			}
		})
	}
}

// A well-formed rest of the body is dropped: no event, connection credit back at
// once (the unread part too), no stream credit; its END_STREAM closes the stream
// without any RST_STREAM.
func TestEarlyResponseDropsTheRestOfTheBody(t *testing.T) {
	tc := earlyAnswered(t, Limits{InitialWindowSize: 65535})
	before := tc.c.recvWindow + tc.c.recvUnacked
	tc.data(1, true, "rest")
	tc.flush()
	if len(tc.events) != 0 || tc.rst(1) != noFrame || tc.goaway() != noFrame || tc.frameOf(http2.FrameWindowUpdate, 1) != nil {
		t.Fatalf("late DATA: %s", tc.summary())
	}
	if got := tc.c.recvWindow + tc.c.recvUnacked; got != before {
		t.Fatalf("connection credit of dropped DATA not returned: %d, want %d", got, before)
	}
	if tc.c.clientOpen != 0 || tc.c.drainOpen != 0 {
		t.Fatalf("stream not closed by END_STREAM: open %d draining %d", tc.c.clientOpen, tc.c.drainOpen)
	}
	// Closed by both ends: more DATA is a STREAM_CLOSED error.
	tc.reset()
	tc.data(1, false, "x")
	tc.flush()
	if tc.rst(1) != http2.ErrCodeStreamClosed {
		t.Fatalf("DATA after END_STREAM: %s", tc.summary())
	}
}

// Once the client has used the stream window it had at the answer, RST_STREAM
// NO_ERROR asks it to stop (RFC 9113 8.1); frames in flight after that are ignored.
func TestEarlyResponseResetsAtTheWindow(t *testing.T) {
	tc := earlyAnswered(t, Limits{InitialWindowSize: 65535})
	tc.headers(3, false, postReq("/")...)
	tc.flush()
	if err := tc.c.Respond(3, 200, nil, true); err != nil {
		t.Fatal(err)
	}
	tc.drain()
	tc.reset()
	chunk := strings.Repeat("x", 16384)
	for i := 0; i < 3; i++ {
		tc.data(3, false, chunk)
	}
	tc.flush()
	if tc.rst(3) != noFrame {
		t.Fatalf("reset before the window was used: %s", tc.summary())
	}
	tc.data(3, false, chunk[:65535-3*16384])
	tc.flush()
	if tc.rst(3) != http2.ErrCodeNo || len(tc.events) != 0 {
		t.Fatalf("want RST_STREAM NO_ERROR once the window is used: %s", tc.summary())
	}
	tc.reset()
	tc.data(3, true, "late")
	tc.headers(3, false, "x-late", "1")
	tc.flush()
	if len(tc.events) != 0 || len(tc.frames) != 0 {
		t.Fatalf("frames after our RST_STREAM are ignored: %s", tc.summary())
	}
}

// A GOAWAY either way ends draining streams with RST_STREAM NO_ERROR, so a graceful
// close never waits on a body nobody reads.
func TestEarlyResponseGoAwayEndsDraining(t *testing.T) {
	tc := earlyAnswered(t, Limits{})
	tc.c.GoAway(http2.ErrCodeNo, nil)
	tc.drain()
	if tc.rst(1) != http2.ErrCodeNo || !tc.hasEvent(ClosedEvent, 0) {
		t.Fatalf("graceful GOAWAY with a draining stream: %s", tc.summary())
	}
	tc = earlyAnswered(t, Limits{})
	tc.fr.WriteGoAway(1, http2.ErrCodeNo, nil)
	tc.flush()
	if tc.rst(1) != http2.ErrCodeNo || !tc.hasEvent(ClosedEvent, 0) {
		t.Fatalf("client GOAWAY with a draining stream: %s", tc.summary())
	}
}

// An answer that ends after the whole unread window was sent resets at once.
func TestEarlyResponseWithNoWindowLeftResetsAtOnce(t *testing.T) {
	tc := newClient(t, Limits{InitialWindowSize: 65535})
	tc.headers(1, false, postReq("/")...)
	tc.data(1, false, strings.Repeat("x", 16384))
	tc.data(1, false, strings.Repeat("x", 16384))
	tc.data(1, false, strings.Repeat("x", 16384))
	tc.data(1, false, strings.Repeat("x", 65535-3*16384))
	tc.flush()
	tc.reset()
	if err := tc.c.Respond(1, 200, nil, true); err != nil {
		t.Fatal(err)
	}
	tc.drain()
	if tc.rst(1) != http2.ErrCodeNo || tc.c.OpenStreams() != 0 {
		t.Fatalf("%s", tc.summary())
	}
}

func TestGracefulGoAway(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.headers(3, true, getReq("/")...)
	tc.flush()
	tc.c.GoAway(http2.ErrCodeNo, nil)
	tc.drain()
	g := tc.frameOf(http2.FrameGoAway, 0)
	if g == nil || g.last != 3 || g.code != http2.ErrCodeNo {
		t.Fatalf("%s", tc.summary())
	}
	// New streams after our GOAWAY are ignored (still HPACK-decoded).
	tc.reset()
	tc.headers(5, false, getReq("/new")...)
	tc.data(5, true, "x")
	tc.flush()
	if len(tc.eventsOf(RequestEvent)) != 0 || tc.rst(5) != noFrame || tc.goaway() != noFrame {
		t.Fatalf("stream after GOAWAY: %s", tc.summary())
	}
	tc.c.Respond(1, 200, nil, true)
	tc.drain()
	if tc.hasEvent(ClosedEvent, 0) {
		t.Fatal("closed with a stream open")
	}
	tc.c.Respond(3, 204, nil, true)
	tc.drain()
	if !tc.hasEvent(ClosedEvent, 0) {
		t.Fatalf("no ClosedEvent after drain: %s", tc.summary())
	}
	if err := tc.c.Respond(1, 200, nil, true); err != ErrConnClosed {
		t.Error(err)
	}
}

func TestClientGoAway(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
	tc.flush()
	ga := tc.eventsOf(GoAwayEvent)
	if len(ga) != 1 || ga[0].code != http2.ErrCodeNo {
		t.Fatalf("%s", tc.summary())
	}
	if tc.hasEvent(ClosedEvent, 0) {
		t.Fatal("closed before the open stream finished")
	}
	tc.c.Respond(1, 200, nil, true)
	tc.drain()
	if !tc.hasEvent(ClosedEvent, 0) || tc.goaway() != http2.ErrCodeNo {
		t.Fatalf("%s", tc.summary())
	}
}

func TestGoAwayWithError(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	tc.c.GoAway(http2.ErrCodeInternal, []byte("shutting down"))
	tc.drain()
	if tc.goaway() != http2.ErrCodeInternal || !tc.hasEvent(ClosedEvent, 0) {
		t.Fatalf("%s", tc.summary())
	}
}

func TestEOF(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, false, postReq("/")...)
	tc.flush()
	tc.feed(nil)
	if !tc.hasEvent(ClosedEvent, 0) {
		t.Fatalf("%s", tc.summary())
	}
}

func TestRecvBufferCommit(t *testing.T) {
	tc := newRawClient(t, Limits{})
	tc.wbuf.WriteString(clientPreface)
	tc.fr.WriteSettings()
	tc.headers(1, true, getReq("/")...)
	raw := tc.wbuf.Bytes()
	for len(raw) > 0 {
		buf := tc.c.RecvBuffer(3)
		n := copy(buf[:3], raw)
		raw = raw[n:]
		tc.c.Commit(n, tc.now)
		tc.drain()
	}
	if len(tc.eventsOf(RequestEvent)) != 1 {
		t.Fatalf("%s", tc.summary())
	}
}

// Slices of earlier events stay valid until Recv, even with several events queued.
func TestSlicesValidUntilRecv(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, false, postReq("/one")...)
	tc.data(1, false, "first")
	tc.headers(3, true, getReq("/two")...)
	tc.c.Recv(tc.wbuf.Bytes(), tc.now)
	tc.wbuf.Reset()
	var reqs []*Request
	var datas [][]byte
	for ev := tc.c.Next(); ev != NeedData; ev = tc.c.Next() {
		switch ev {
		case RequestEvent:
			reqs = append(reqs, tc.c.Request())
		case DataEvent:
			datas = append(datas, tc.c.Data())
		}
	}
	if len(reqs) != 2 || string(reqs[0].Path) != "/one" || string(reqs[1].Path) != "/two" || string(datas[0]) != "first" {
		t.Fatalf("reqs %v datas %q", reqs, datas)
	}
}
