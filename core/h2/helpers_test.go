package h2

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A client-side helper: frames are built with http2.Framer and hpack.Encoder, fed to
// a Conn, and the Conn's output is parsed back with another Framer (which also
// checks that what we write is well-formed).

type rec struct {
	ev       Event
	id       uint32
	code     http2.ErrCode
	data     string
	req      *Request // deep copy
	trailers []Field  // deep copy
	err      *ConnError
}

type sframe struct {
	typ      http2.FrameType
	flags    http2.Flags
	id       uint32
	code     http2.ErrCode // RST_STREAM, GOAWAY
	data     string        // DATA payload, PING data, GOAWAY debug
	fields   []hpack.HeaderField
	inc      uint32 // WINDOW_UPDATE
	promised uint32
	settings []http2.Setting
	last     uint32 // GOAWAY
}

type tclient struct {
	t      testing.TB
	c      *Conn
	wbuf   bytes.Buffer
	fr     *http2.Framer
	henc   *hpack.Encoder
	hbuf   bytes.Buffer
	now    time.Time
	out    []byte
	events []rec
	frames []sframe
	rfr    *http2.Framer
	rin    bytes.Buffer
	auto   bool // Consume data automatically
}

func newRawClient(t testing.TB, lim Limits) *tclient {
	t.Helper()
	tc := &tclient{t: t, c: NewServerConn(lim), now: time.Unix(1_800_000_000, 0)}
	tc.fr = http2.NewFramer(&tc.wbuf, nil)
	tc.fr.AllowIllegalWrites = true
	tc.henc = hpack.NewEncoder(&tc.hbuf)
	tc.rfr = http2.NewFramer(nil, &tc.rin)
	tc.rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	tc.rfr.SetMaxReadFrameSize(1 << 24)
	return tc
}

// newClient sends the preface and SETTINGS, and takes the server's SETTINGS.
func newClient(t testing.TB, lim Limits, settings ...http2.Setting) *tclient {
	t.Helper()
	tc := newRawClient(t, lim)
	tc.wbuf.WriteString(clientPreface)
	tc.fr.WriteSettings(settings...)
	tc.flush()
	tc.ackSettings()
	if f := tc.frameOf(http2.FrameSettings, 0); f == nil || f.flags != 0 {
		t.Fatalf("no server SETTINGS first: %+v", tc.frames)
	}
	tc.reset()
	return tc
}

func (tc *tclient) ackSettings() {
	tc.fr.WriteSettingsAck()
}

func (tc *tclient) reset() { tc.events, tc.frames = nil, nil }

// flush feeds what was written to the Conn, drains events, parses the output.
func (tc *tclient) flush() {
	tc.t.Helper()
	tc.feed(tc.wbuf.Bytes())
	tc.wbuf.Reset()
}

func (tc *tclient) feed(p []byte) {
	tc.t.Helper()
	tc.now = tc.now.Add(time.Millisecond)
	if p != nil {
		tc.c.Recv(p, tc.now)
	} else {
		tc.c.Recv(nil, tc.now)
	}
	tc.drain()
}

func (tc *tclient) drain() {
	tc.t.Helper()
	for i := 0; ; i++ {
		if i > 100000 {
			tc.t.Fatal("Next does not settle")
		}
		ev := tc.c.Next()
		if ev == NeedData {
			break
		}
		r := rec{ev: ev, id: tc.c.StreamID(), code: tc.c.ErrCode()}
		switch ev {
		case RequestEvent:
			r.req = copyRequest(tc.c.Request())
			r.id = r.req.StreamID
		case DataEvent:
			r.data = string(tc.c.Data())
			if tc.auto {
				tc.c.Consumed(r.id, len(r.data))
			}
		case EndStreamEvent:
			r.trailers = copyFields(tc.c.Trailers())
		case ConnErrorEvent:
			r.err = tc.c.Err()
		}
		tc.events = append(tc.events, r)
		if ev == ClosedEvent { // reported forever from now on
			break
		}
	}
	tc.readOutput()
}

func (tc *tclient) readOutput() {
	tc.t.Helper()
	tc.rin.Write(tc.c.Output(nil))
	for tc.rin.Len() > 0 {
		f, err := tc.rfr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			tc.t.Fatalf("server output unreadable: %v", err)
		}
		sf := sframe{typ: f.Header().Type, flags: f.Header().Flags, id: f.Header().StreamID}
		switch f := f.(type) {
		case *http2.DataFrame:
			sf.data = string(f.Data())
		case *http2.MetaHeadersFrame:
			sf.fields = f.Fields
		case *http2.RSTStreamFrame:
			sf.code = f.ErrCode
		case *http2.GoAwayFrame:
			sf.code, sf.last, sf.data = f.ErrCode, f.LastStreamID, string(f.DebugData())
		case *http2.WindowUpdateFrame:
			sf.inc = f.Increment
		case *http2.PingFrame:
			sf.data = string(f.Data[:])
		case *http2.SettingsFrame:
			f.ForeachSetting(func(s http2.Setting) error { sf.settings = append(sf.settings, s); return nil })
		case *http2.PushPromiseFrame:
			sf.promised = f.PromiseID
			d := hpack.NewDecoder(4096, func(hf hpack.HeaderField) { sf.fields = append(sf.fields, hf) })
			if _, err := d.Write(f.HeaderBlockFragment()); err != nil {
				tc.t.Fatalf("push promise block: %v", err)
			}
		}
		tc.frames = append(tc.frames, sf)
	}
}

func copyFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{append([]byte(nil), f.Name...), append([]byte(nil), f.Value...)}
	}
	return out
}

func copyRequest(r *Request) *Request {
	cp := *r
	cp.Method = append([]byte(nil), r.Method...)
	cp.Scheme = append([]byte(nil), r.Scheme...)
	cp.Authority = append([]byte(nil), r.Authority...)
	cp.Path = append([]byte(nil), r.Path...)
	cp.Protocol = append([]byte(nil), r.Protocol...)
	cp.Fields = copyFields(r.Fields)
	return &cp
}

// block encodes header fields given as "name", "value" pairs.
func (tc *tclient) block(kv ...string) []byte {
	tc.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		tc.henc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), tc.hbuf.Bytes()...)
}

func getReq(path string) []string {
	return []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", path}
}

func postReq(path string, extra ...string) []string {
	return append([]string{":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)
}

func (tc *tclient) headers(id uint32, endStream bool, kv ...string) {
	tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: tc.block(kv...), EndStream: endStream, EndHeaders: true})
}

func (tc *tclient) data(id uint32, endStream bool, s string) {
	tc.fr.WriteData(id, endStream, []byte(s))
}

// Queries.

func (tc *tclient) eventsOf(ev Event) []rec {
	var out []rec
	for _, r := range tc.events {
		if r.ev == ev {
			out = append(out, r)
		}
	}
	return out
}

func (tc *tclient) hasEvent(ev Event, id uint32) bool {
	for _, r := range tc.events {
		if r.ev == ev && r.id == id {
			return true
		}
	}
	return false
}

func (tc *tclient) frameOf(typ http2.FrameType, id uint32) *sframe {
	for i := range tc.frames {
		if tc.frames[i].typ == typ && tc.frames[i].id == id {
			return &tc.frames[i]
		}
	}
	return nil
}

func (tc *tclient) framesOf(typ http2.FrameType) []sframe {
	var out []sframe
	for _, f := range tc.frames {
		if f.typ == typ {
			out = append(out, f)
		}
	}
	return out
}

// rst returns the code of the RST_STREAM sent on id, or -1.
func (tc *tclient) rst(id uint32) http2.ErrCode {
	if f := tc.frameOf(http2.FrameRSTStream, id); f != nil {
		return f.code
	}
	return 0xffffffff
}

// goaway returns the code of the GOAWAY sent, or -1.
func (tc *tclient) goaway() http2.ErrCode {
	if f := tc.frameOf(http2.FrameGoAway, 0); f != nil {
		return f.code
	}
	return 0xffffffff
}

const noFrame = http2.ErrCode(0xffffffff)

func fieldValue(fs []hpack.HeaderField, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func fl(kv ...string) []Field {
	var out []Field
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Field{[]byte(kv[i]), []byte(kv[i+1])})
	}
	return out
}

func (tc *tclient) summary() string {
	var b strings.Builder
	for _, r := range tc.events {
		b.WriteString("ev " + r.ev.String() + " ")
	}
	for _, f := range tc.frames {
		b.WriteString("| " + f.typ.String() + " " + f.code.String() + " ")
	}
	return b.String()
}
