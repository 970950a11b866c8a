package h2

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func sendBody(tc *tclient, id uint32, n int, end bool) {
	chunk := strings.Repeat("b", 16384)
	for n > 0 {
		k := min(n, len(chunk))
		n -= k
		tc.data(id, end && n == 0, chunk[:k])
	}
}

func windowUpdates(tc *tclient) map[uint32]uint32 {
	m := map[uint32]uint32{}
	for _, f := range tc.framesOf(http2.FrameWindowUpdate) {
		m[f.id] += f.inc
	}
	return m
}

// The receive window is real backpressure: nothing comes back until the host
// reports the data consumed.
func TestRecvWindowNotReplenishedUntilConsumed(t *testing.T) {
	tc := newClient(t, Limits{InitialWindowSize: 65535})
	tc.headers(1, false, postReq("/")...)
	sendBody(tc, 1, 60000, false)
	tc.flush()
	if wu := windowUpdates(tc); len(wu) != 0 {
		t.Fatalf("WINDOW_UPDATE before Consumed: %v", wu)
	}
	got := 0
	for _, r := range tc.eventsOf(DataEvent) {
		got += len(r.data)
	}
	if got != 60000 {
		t.Fatalf("delivered %d", got)
	}
	// A small read is batched.
	tc.reset()
	tc.c.Consumed(1, 100)
	tc.drain()
	if wu := windowUpdates(tc); len(wu) != 0 {
		t.Fatalf("WINDOW_UPDATE for a small read: %v", wu)
	}
	tc.c.Consumed(1, 59900)
	tc.drain()
	if wu := windowUpdates(tc); wu[1] != 60000 || wu[0] != 60000 {
		t.Fatalf("after Consumed: %v", wu)
	}
	// The window really is back: a full 65535 bytes fit again.
	tc.reset()
	sendBody(tc, 1, 65535, false)
	tc.flush()
	if tc.rst(1) != noFrame || tc.goaway() != noFrame {
		t.Fatalf("%s", tc.summary())
	}
}

func TestRecvFlowControlViolations(t *testing.T) {
	// Stream window (smaller than the connection's 65535).
	tc := newClient(t, Limits{InitialWindowSize: 40000})
	tc.headers(1, false, postReq("/")...)
	sendBody(tc, 1, 40001, false)
	tc.flush()
	if tc.rst(1) != http2.ErrCodeFlowControl || !tc.hasEvent(ResetEvent, 1) || tc.goaway() != noFrame {
		t.Fatalf("stream window: %s", tc.summary())
	}
	// Connection window: two streams within their windows, over the connection's.
	tc = newClient(t, Limits{InitialWindowSize: 65535})
	tc.headers(1, false, postReq("/")...)
	tc.headers(3, false, postReq("/")...)
	sendBody(tc, 1, 40000, false)
	sendBody(tc, 3, 40000, false)
	tc.flush()
	if tc.goaway() != http2.ErrCodeFlowControl {
		t.Fatalf("connection window: %s", tc.summary())
	}
}

func TestPaddingCreditedAtOnce(t *testing.T) {
	tc := newClient(t, Limits{InitialWindowSize: 65535})
	tc.headers(1, false, postReq("/")...)
	pad := make([]byte, 255)
	for i := 0; i < 130; i++ {
		tc.fr.WriteDataPadded(1, false, []byte("x"), pad)
	}
	tc.flush()
	wu := windowUpdates(tc)
	if wu[0] == 0 || wu[1] == 0 {
		t.Fatalf("padding not credited: %v", wu)
	}
	if wu[1] > 130*256 {
		t.Fatalf("credited more than the padding: %v", wu)
	}
}

// Our SETTINGS_INITIAL_WINDOW_SIZE below the default applies only once ACKed.
func TestSmallRecvWindowAfterAck(t *testing.T) {
	tc := newRawClient(t, Limits{InitialWindowSize: 1000})
	tc.wbuf.WriteString(clientPreface)
	tc.fr.WriteSettings()
	tc.headers(1, false, postReq("/")...)
	sendBody(tc, 1, 5000, false) // legal: our SETTINGS not ACKed yet
	tc.flush()
	if tc.rst(1) != noFrame {
		t.Fatalf("before ACK: %s", tc.summary())
	}
	tc.reset()
	tc.ackSettings()
	tc.headers(3, false, postReq("/")...)
	sendBody(tc, 3, 1001, false)
	tc.flush()
	if tc.rst(3) != http2.ErrCodeFlowControl {
		t.Fatalf("after ACK: %s", tc.summary())
	}
}

func TestReleaseOnClose(t *testing.T) {
	tc := newClient(t, Limits{InitialWindowSize: 65535})
	tc.headers(1, false, postReq("/")...)
	sendBody(tc, 1, 40000, false)
	tc.flush()
	tc.reset()
	tc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	tc.flush()
	if wu := windowUpdates(tc); wu[0] != 40000 {
		t.Fatalf("unconsumed data of a reset stream not returned: %v", wu)
	}
	// Consumed for the dead stream adds nothing.
	tc.reset()
	tc.c.Consumed(1, 40000)
	tc.drain()
	if wu := windowUpdates(tc); len(wu) != 0 {
		t.Fatalf("double credit: %v", wu)
	}
}

func TestSendWindows(t *testing.T) {
	tc := newClient(t, Limits{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	tc.c.Respond(1, 200, nil, false)
	if w := tc.c.SendWindow(1); w != 10 {
		t.Fatalf("SendWindow %d", w)
	}
	body := []byte("0123456789abcdefghijklmno")
	n, err := tc.c.SendData(1, body, true)
	if n != 10 || err != nil {
		t.Fatal(n, err)
	}
	tc.drain()
	if d := tc.framesOf(http2.FrameData); len(d) != 1 || d[0].data != "0123456789" || d[0].flags.Has(http2.FlagDataEndStream) {
		t.Fatalf("%s", tc.summary())
	}
	tc.reset()
	tc.fr.WriteWindowUpdate(1, 5)
	tc.flush()
	if !tc.hasEvent(WindowEvent, 1) {
		t.Fatalf("no WindowEvent: %s", tc.summary())
	}
	n, _ = tc.c.SendData(1, body[10:], true)
	if n != 5 {
		t.Fatal(n)
	}
	// SETTINGS raising the initial window wakes the blocked stream.
	tc.reset()
	tc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
	tc.flush()
	if !tc.hasEvent(WindowEvent, 1) {
		t.Fatalf("no WindowEvent after SETTINGS: %s", tc.summary())
	}
	n, _ = tc.c.SendData(1, body[15:], true)
	tc.drain()
	if n != 10 || tc.c.OpenStreams() != 0 {
		t.Fatalf("n=%d open=%d", n, tc.c.OpenStreams())
	}
	if d := tc.framesOf(http2.FrameData); len(d) != 2 || !d[1].flags.Has(http2.FlagDataEndStream) {
		t.Fatalf("%s", tc.summary())
	}
}

// SETTINGS_INITIAL_WINDOW_SIZE may drive a window negative (RFC 9113 6.9.2).
func TestNegativeSendWindow(t *testing.T) {
	tc := newClient(t, Limits{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 3})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	tc.c.Respond(1, 200, nil, false)
	if n, _ := tc.c.SendData(1, []byte("hello"), true); n != 3 {
		t.Fatal(n)
	}
	tc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 2})
	tc.flush()
	if n, _ := tc.c.SendData(1, []byte("lo"), true); n != 0 {
		t.Fatalf("sent %d on a negative window", n)
	}
	tc.reset()
	tc.fr.WriteWindowUpdate(1, 2)
	tc.flush()
	if !tc.hasEvent(WindowEvent, 1) {
		t.Fatalf("%s", tc.summary())
	}
	if n, _ := tc.c.SendData(1, []byte("lo"), true); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
}

func TestConnectionSendWindowAndFrameSize(t *testing.T) {
	tc := newClient(t, Limits{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	tc.headers(1, true, getReq("/")...)
	tc.flush()
	tc.c.Respond(1, 200, nil, false)
	body := make([]byte, 70000)
	n, _ := tc.c.SendData(1, body, true)
	if n != 65535 {
		t.Fatalf("sent %d past the connection window", n)
	}
	tc.drain()
	for _, d := range tc.framesOf(http2.FrameData) {
		if len(d.data) > 16384 {
			t.Fatalf("DATA of %d bytes over MAX_FRAME_SIZE", len(d.data))
		}
	}
	tc.reset()
	tc.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000})
	tc.fr.WriteWindowUpdate(0, 100000)
	tc.flush()
	if !tc.hasEvent(WindowEvent, 0) {
		t.Fatalf("no connection WindowEvent: %s", tc.summary())
	}
	tc.reset()
	n, _ = tc.c.SendData(1, body[65535:], true)
	tc.drain()
	d := tc.framesOf(http2.FrameData)
	if n != 70000-65535 || len(d) != 1 || len(d[0].data) != 70000-65535 {
		t.Fatalf("n=%d %s", n, tc.summary())
	}
}
