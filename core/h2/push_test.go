package h2

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/net/http2"
)

func TestPush(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	if !tc.c.PushEnabled() {
		t.Fatal("push should be enabled by default")
	}
	id, err := tc.c.Push(1, []byte("GET"), []byte("https"), []byte("example.com"), []byte("/style.css"), fl("Accept", "text/css"))
	if err != nil || id != 2 {
		t.Fatal(id, err)
	}
	id2, err := tc.c.Push(1, []byte("GET"), []byte("https"), []byte("example.com"), []byte("/app.js"), nil)
	if err != nil || id2 != 4 {
		t.Fatal(id2, err)
	}
	if tc.c.OpenStreams() != 3 {
		t.Fatalf("open %d", tc.c.OpenStreams())
	}
	tc.c.Respond(1, 200, nil, false)
	tc.c.SendData(1, []byte("<html>"), true)
	if err := tc.c.Respond(2, 200, fl("content-type", "text/css"), false); err != nil {
		t.Fatal(err)
	}
	tc.c.SendData(2, []byte("body{}"), true)
	tc.drain()
	pp := tc.framesOf(http2.FramePushPromise)
	if len(pp) != 2 || pp[0].id != 1 || pp[0].promised != 2 || fieldValue(pp[0].fields, ":path") != "/style.css" ||
		fieldValue(pp[0].fields, ":method") != "GET" || fieldValue(pp[0].fields, ":authority") != "example.com" ||
		fieldValue(pp[0].fields, "accept") != "text/css" {
		t.Fatalf("%s %+v", tc.summary(), pp)
	}
	if d := tc.frameOf(http2.FrameData, 2); d == nil || d.data != "body{}" {
		t.Fatalf("%s", tc.summary())
	}
	// Push on a pushed stream, or on a finished one, fails.
	if _, err := tc.c.Push(4, []byte("GET"), []byte("https"), nil, []byte("/x"), nil); err != ErrState {
		t.Errorf("push on pushed stream: %v", err)
	}
	if _, err := tc.c.Push(1, []byte("GET"), []byte("https"), nil, []byte("/x"), nil); err != ErrStreamClosed {
		t.Errorf("push on closed stream: %v", err)
	}
	// The client cancels a push: ResetEvent for the host.
	tc.reset()
	tc.fr.WriteRSTStream(4, http2.ErrCodeCancel)
	tc.flush()
	if !tc.hasEvent(ResetEvent, 4) || tc.c.OpenStreams() != 0 {
		t.Fatalf("%s", tc.summary())
	}
	// DATA from the client on a pushed stream is a stream error.
	tc.reset()
	tc.data(2, true, "x")
	tc.flush()
	if tc.rst(2) != http2.ErrCodeStreamClosed || tc.goaway() != noFrame {
		t.Fatalf("%s", tc.summary())
	}
}

func TestPushValidation(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	for _, c := range []struct{ method, scheme, path string }{
		{"POST", "https", "/x"}, {"GET", "", "/x"}, {"GET", "https", ""}, {"GET", "https", "x"}, {"GET", "https", "/a\nb"},
	} {
		if _, err := tc.c.Push(1, []byte(c.method), []byte(c.scheme), nil, []byte(c.path), nil); err != ErrHeader {
			t.Errorf("Push(%q) = %v", c, err)
		}
	}
}

func TestPushDisabled(t *testing.T) {
	tc := newClient(t, Limits{}, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	if tc.c.PushEnabled() {
		t.Fatal("PushEnabled with ENABLE_PUSH=0")
	}
	if _, err := tc.c.Push(1, []byte("GET"), []byte("https"), nil, []byte("/x"), nil); err != ErrPushDisabled {
		t.Fatal(err)
	}
	// MAX_CONCURRENT_STREAMS 0 from the client also forbids push.
	tc = newClient(t, Limits{}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
	if tc.c.PushEnabled() {
		t.Fatal("PushEnabled with MAX_CONCURRENT_STREAMS=0")
	}
}

func TestClientGoAwayCancelsPushes(t *testing.T) {
	tc := newClient(t, Limits{})
	tc.headers(1, false, postReq("/")...)
	tc.flush()
	tc.c.Push(1, []byte("GET"), []byte("https"), nil, []byte("/a"), nil)
	tc.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	tc.flush()
	if !tc.hasEvent(ResetEvent, 2) || !tc.hasEvent(GoAwayEvent, 0) {
		t.Fatalf("%s", tc.summary())
	}
	if tc.c.PushEnabled() {
		t.Fatal("push after GOAWAY")
	}
}

func settingsPayload(ss ...http2.Setting) []byte {
	var b bytes.Buffer
	for _, s := range ss {
		binary.Write(&b, binary.BigEndian, uint16(s.ID))
		binary.Write(&b, binary.BigEndian, s.Val)
	}
	return b.Bytes()
}

func TestUpgrade(t *testing.T) {
	tc := newRawClient(t, Limits{})
	req := &Request{Method: []byte("GET"), Path: []byte("/")}
	if err := tc.c.Upgrade(settingsPayload(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 5}), req); err != nil {
		t.Fatal(err)
	}
	if req.StreamID != 1 || tc.c.OpenStreams() != 1 {
		t.Fatal("stream 1 not opened")
	}
	if err := tc.c.Upgrade(nil, req); err != ErrState {
		t.Fatalf("second Upgrade: %v", err)
	}
	// The 101 acknowledges HTTP2-Settings: no SETTINGS ACK; our SETTINGS come first.
	tc.readOutput()
	if tc.frames[0].typ != http2.FrameSettings || tc.frames[0].flags != 0 {
		t.Fatalf("%s", tc.summary())
	}
	for _, f := range tc.frames {
		if f.typ == http2.FrameSettings && f.flags == http2.FlagSettingsAck {
			t.Fatal("ACK for HTTP2-Settings")
		}
	}
	tc.reset()
	tc.wbuf.WriteString(clientPreface)
	tc.fr.WriteSettings()
	tc.flush()
	if len(tc.eventsOf(RequestEvent)) != 0 {
		t.Fatal("RequestEvent for the upgraded stream")
	}
	// Stream 1 is half-closed (remote): the response uses the upgraded settings.
	if err := tc.c.Respond(1, 200, nil, false); err != nil {
		t.Fatal(err)
	}
	if n, _ := tc.c.SendData(1, []byte("hello world"), true); n != 5 {
		t.Fatalf("sent %d, want 5 (window from HTTP2-Settings)", n)
	}
	// Client DATA on stream 1 is STREAM_CLOSED; new streams start at 3.
	tc.data(1, true, "x")
	tc.headers(3, true, getReq("/b")...)
	tc.flush()
	if tc.rst(1) != http2.ErrCodeStreamClosed || len(tc.eventsOf(RequestEvent)) != 1 {
		t.Fatalf("%s", tc.summary())
	}

	// A bad HTTP2-Settings is refused.
	tc = newRawClient(t, Limits{})
	if err := tc.c.Upgrade([]byte{0, 2, 0, 0, 0, 7}, req); err != ErrSettings {
		t.Fatal(err)
	}
	if err := tc.c.Upgrade([]byte{0, 2, 0}, req); err != ErrSettings {
		t.Fatal(err)
	}
}
