package h2

import (
	"bytes"
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

func TestEarlyResponseResetsUnreadBody(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, false, postReq("/")...)
	tc.data(1, false, "part")
	tc.flush()
	if err := tc.c.Respond(1, 200, nil, true); err != nil {
		t.Fatal(err)
	}
	tc.drain()
	if tc.rst(1) != http2.ErrCodeNo {
		t.Fatalf("want RST_STREAM NO_ERROR after a complete early response: %s", tc.summary())
	}
	// Late DATA is dropped quietly and its credit (and the unread part) returned.
	tc.reset()
	tc.data(1, true, "rest")
	tc.flush()
	if len(tc.events) != 0 || tc.rst(1) != noFrame || tc.goaway() != noFrame {
		t.Fatalf("late DATA: %s", tc.summary())
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
