package conn

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A raw HTTP/2 client over a Conn, in memory: frames in, frames out.
type h2peer struct {
	t   *testing.T
	c   *Conn
	buf bytes.Buffer
	fr  *http2.Framer
	in  bytes.Buffer // what the server sent, not yet parsed
	rd  *http2.Framer
}

func newH2Peer(t *testing.T, c *Conn, settings ...http2.Setting) *h2peer {
	p := &h2peer{t: t, c: c}
	p.fr = http2.NewFramer(&p.buf, nil)
	p.rd = http2.NewFramer(nil, &p.in)
	p.rd.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	p.buf.WriteString(http2.ClientPreface)
	p.fr.WriteSettings(settings...)
	p.flush()
	return p
}

// flush hands what the client wrote to the Conn.
func (p *h2peer) flush() {
	if p.buf.Len() > 0 {
		p.c.Recv(p.buf.Bytes(), time.Now())
		p.buf.Reset()
	}
}

// events pulls every pending event.
func (p *h2peer) events() []Event {
	var evs []Event
	for {
		ev := p.c.Next()
		if ev.Kind == NeedData {
			return evs
		}
		e := *ev
		e.Data = bytes.Clone(ev.Data)
		evs = append(evs, e)
	}
}

// frame is what a test needs of a received frame (the Framer's own frames
// die at the next ReadFrame).
type frame struct {
	typ      http2.FrameType
	id       uint32
	end      bool
	data     []byte
	status   string
	fields   map[string]string
	promised uint32
}

// frames parses what the server sent; SETTINGS get their ACK.
func (p *h2peer) frames() []frame {
	out := make([]byte, 1<<20)
	for p.c.WantWrite() {
		p.in.Write(out[:p.c.Send(out)])
	}
	var fs []frame
	for p.in.Len() > 0 {
		f, err := p.rd.ReadFrame()
		if err != nil {
			p.t.Fatal(err)
		}
		h := f.Header()
		fr := frame{typ: h.Type, id: h.StreamID}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				p.fr.WriteSettingsAck()
			}
			continue
		case *http2.DataFrame:
			fr.end, fr.data = f.StreamEnded(), bytes.Clone(f.Data())
		case *http2.MetaHeadersFrame:
			fr.end, fr.status, fr.fields = f.StreamEnded(), f.PseudoValue("status"), map[string]string{}
			for _, hf := range f.RegularFields() {
				fr.fields[hf.Name] = hf.Value
			}
		case *http2.PushPromiseFrame:
			fr.promised = f.PromiseID
		}
		fs = append(fs, fr)
	}
	p.flush()
	return fs
}

func (p *h2peer) headers(id uint32, end bool, kv ...string) {
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hpackBlock(kv...), EndHeaders: true, EndStream: end})
	p.flush()
}

func kinds(evs []Event) []Kind {
	var ks []Kind
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestH2WebSocketCloseEndsStream(t *testing.T) {
	c := New(Config{TLS: true, ALPN: "h2"})
	p := newH2Peer(t, c)
	p.headers(1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/ws",
		":authority", "a", "sec-websocket-version", "13", "sec-websocket-protocol", "chat, other")
	evs := p.events()
	if len(evs) != 1 || evs[0].Kind != Request || !evs[0].Req.WebSocket || string(evs[0].Req.Method) != "GET" {
		t.Fatalf("events %v", kinds(evs))
	}
	if err := c.WSAccept(1, "nope", nil); err != ErrHeader {
		t.Fatalf("subprotocol not offered: %v", err)
	}
	if err := c.WSAccept(1, "chat", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Respond(1, 200, nil, nil, true); err != ErrState {
		t.Fatalf("respond on an accepted WebSocket: %v", err)
	}
	fs := p.frames()
	if h := fs[len(fs)-1]; h.status != "200" || h.fields["sec-websocket-protocol"] != "chat" {
		t.Fatalf("answer %v", fs)
	}
	// A masked close 1000 from the client: WSClose, then the reply and the
	// end of the stream.
	p.fr.WriteData(1, false, []byte{0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2})
	p.flush()
	evs = p.events()
	if len(evs) != 1 || evs[0].Kind != WSClose || evs[0].Code != 1000 {
		t.Fatalf("events %v %+v", kinds(evs), evs)
	}
	var ended bool
	for _, f := range p.frames() {
		if f.typ == http2.FrameData {
			if !bytes.Equal(f.data, []byte{0x88, 0x02, 0x03, 0xe8}) && len(f.data) > 0 {
				t.Fatalf("close reply % x", f.data)
			}
			ended = ended || f.end
		}
	}
	if !ended {
		t.Fatal("stream not ended after the close handshake")
	}
	if err := c.WSSend(1, true, []byte("late")); err != ErrStream {
		t.Fatalf("send after close: %v", err)
	}
}

func TestH2ResetPushHintsAndWindow(t *testing.T) {
	c := New(Config{TLS: true, ALPN: "h2"})
	p := newH2Peer(t, c, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	p.headers(1, true, ":method", "GET", ":scheme", "https", ":path", "/page?x=1", ":authority", "a")
	evs := p.events()
	if len(evs) != 2 || evs[0].Kind != Request || evs[1].Kind != End || string(evs[0].Req.Query) != "x=1" || !evs[0].Req.Push {
		t.Fatalf("events %v", kinds(evs))
	}
	if err := c.EarlyHints(1, []Field{{[]byte("link"), []byte("</s.css>; rel=preload")}}); err != nil {
		t.Fatal(err)
	}
	pid, err := c.Push(1, []byte("/s.css"), nil)
	if err != nil || pid != 2 {
		t.Fatalf("push: %d %v", pid, err)
	}
	if err := c.SetTrailers(1, []Field{{[]byte("X-Done"), []byte("yes")}}); err != nil {
		t.Fatal(err)
	}
	n, err := c.Respond(1, 200, nil, []byte("0123456789abcdef"), true)
	if err != nil || n != 10 {
		t.Fatalf("respond took %d (window 10): %v", n, err)
	}
	fs := p.frames()
	var hints, promise bool
	for _, f := range fs {
		hints = hints || f.status == "103"
		promise = promise || f.promised == 2
	}
	if !hints || !promise {
		t.Fatalf("hints %v promise %v in %v", hints, promise, fs)
	}
	p.fr.WriteWindowUpdate(1, 100)
	p.flush()
	evs = p.events()
	if len(evs) != 1 || evs[0].Kind != Writable || evs[0].Stream != 1 {
		t.Fatalf("events %v", kinds(evs))
	}
	if n, err := c.Write(1, []byte("abcdef"), true); err != nil || n != 6 {
		t.Fatalf("write %d %v", n, err)
	}
	fs = p.frames()
	if last := fs[len(fs)-1]; last.typ != http2.FrameHeaders || !last.end || last.fields["x-done"] != "yes" {
		t.Fatalf("trailers %v", fs)
	}
	// The client resets a stream the host is still answering.
	p.headers(3, false, ":method", "POST", ":scheme", "https", ":path", "/up", ":authority", "a")
	p.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	p.flush()
	evs = p.events()
	if len(evs) != 2 || evs[1].Kind != Reset || evs[1].Stream != 3 || evs[1].Code != int(http2.ErrCodeCancel) {
		t.Fatalf("events %v", kinds(evs))
	}
	if _, err := c.Respond(3, 200, nil, nil, true); err != ErrStream {
		t.Fatalf("respond after reset: %v", err)
	}
	// GOAWAY from the client, then the end.
	p.fr.WriteGoAway(3, http2.ErrCodeNo, nil)
	p.flush()
	evs = p.events()
	if len(evs) < 1 || evs[0].Kind != GoAway || evs[0].Stream != 3 {
		t.Fatalf("events %v", kinds(evs))
	}
}

func TestH2BodyLimit(t *testing.T) {
	c := New(Config{TLS: true, ALPN: "h2", MaxBodySize: 4})
	p := newH2Peer(t, c)
	p.headers(1, false, ":method", "POST", ":scheme", "https", ":path", "/echo", ":authority", "a")
	p.fr.WriteData(1, true, []byte("too long"))
	p.flush()
	evs := p.events()
	if len(evs) != 2 || evs[1].Kind != Reset {
		t.Fatalf("events %v", kinds(evs))
	}
	status := ""
	for _, f := range p.frames() {
		if f.status != "" {
			status = f.status
		}
	}
	if status != "413" {
		t.Fatalf("status %q", status)
	}
}

func TestH1WebSocketFramesWithHandshake(t *testing.T) {
	// The client's first frame arrives in the same read as the handshake.
	c := New(Config{})
	frame := []byte{0x81, 0x82, 0, 0, 0, 0, 'h', 'i'}
	c.Recv(append([]byte("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), frame...), time.Now())
	ev := c.Next()
	if ev.Kind != Request || !ev.Req.WebSocket {
		t.Fatalf("got %v", ev.Kind)
	}
	if err := c.WSAccept(ev.Stream, "", []Field{{[]byte("X-Extra"), []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	ev = c.Next()
	if ev.Kind != WSMessage || !ev.Text || string(ev.Data) != "hi" {
		t.Fatalf("got %v %q", ev.Kind, ev.Data)
	}
	out := drain(c)
	if !bytes.Contains([]byte(out), []byte("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")) ||
		!bytes.Contains([]byte(out), []byte("X-Extra: 1\r\n")) {
		t.Fatalf("101: %q", out)
	}
	if err := c.WSSend(1, true, []byte{0xff}); err != ErrHeader {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	// EOF without a close: 1006, then the end of the connection.
	c.Recv(nil, time.Now())
	if ev := c.Next(); ev.Kind != WSClose || ev.Code != 1006 {
		t.Fatalf("got %v %d", ev.Kind, ev.Code)
	}
	if ev := c.Next(); ev.Kind != Closed {
		t.Fatalf("got %v", ev.Kind)
	}
	if c.WantRead() {
		t.Fatal("still reading after the end")
	}
}

// TestH2ResponseLengthMismatch: connection mode never sends more than the
// declared Content-Length, and resets (INTERNAL_ERROR) a response whose
// body runs over or ends short, instead of ending it.
func TestH2ResponseLengthMismatch(t *testing.T) {
	for i, tc := range []struct {
		cl, body, more, wire string
	}{
		{"3", "this is nineteen b\n", "", "thi"},
		{"30", "short\n", "", "short\n"},
		{"10", "01234", "5678901234", "0123456789"},
		{"0", "", "x", ""},
	} {
		c := New(Config{TLS: true, ALPN: "h2"})
		p := newH2Peer(t, c)
		p.headers(1, true, ":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a")
		p.events()
		fs := []Field{{[]byte("Content-Length"), []byte(tc.cl)}}
		var err error
		if tc.more == "" {
			_, err = c.Respond(1, 200, fs, []byte(tc.body), true)
		} else if _, err = c.Respond(1, 200, fs, []byte(tc.body), false); err == nil {
			_, err = c.Write(1, []byte(tc.more), true)
		}
		if err != ErrLength {
			t.Errorf("%d: %v, want ErrLength", i, err)
		}
		var body []byte
		var ended, reset bool
		for _, f := range p.frames() {
			if f.id != 1 {
				continue
			}
			body = append(body, f.data...)
			ended = ended || f.end
			reset = reset || f.typ == http2.FrameRSTStream
		}
		if string(body) != tc.wire || ended || !reset {
			t.Errorf("%d: body %q, END_STREAM %v, RST_STREAM %v", i, body, ended, reset)
		}
	}
}
