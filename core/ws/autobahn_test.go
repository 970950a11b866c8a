package ws

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Cases modelled on the Autobahn|Testsuite fuzzingclient case list (groups 1-7,
// 9, 10; 12/13 are in deflate_test.go). The endpoint runs as Autobahn's echo
// server; each case checks the frames the client gets back and the last event,
// fed all at once, one byte at a time and in 7-byte chops (Autobahn's "chopped"
// variants), which must all agree.

type abCase struct {
	id    string
	in    []byte
	want  []outFrame // frames the client receives
	final Event      // last event: NeedData, ClosedEvent (after a close handshake) or ErrorEvent
	limit Limits
}

func o(op Opcode, p []byte) outFrame { return outFrame{fin: true, op: op, data: p} }
func oText(s string) outFrame        { return o(OpText, []byte(s)) }
func oClose(code int) outFrame {
	return outFrame{fin: true, op: OpClose, data: []byte{byte(code >> 8), byte(code)}}
}

var oCloseEmpty = outFrame{fin: true, op: OpClose}

func pat(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }

func runCase(t *testing.T, c abCase, chunk int) {
	t.Helper()
	e := NewEndpoint(c.limit, Negotiated{})
	evs, out := drive(t, e, c.in, chunk)
	got := parseOut(t, out)
	if !sameFrames(got, c.want) {
		t.Fatalf("chunk %d: frames\n got  %v\n want %v\n events %v", chunk, got, c.want, evs)
	}
	last := NeedData
	if len(evs) > 0 {
		last = evs[len(evs)-1].ev
	}
	if last == PingEvent || last == PongEvent || last == MessageEvent {
		last = NeedData
	}
	if last != c.final {
		t.Fatalf("chunk %d: last event %v, want %v (events %v)", chunk, last, c.final, evs)
	}
}

func sameFrames(got, want []outFrame) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.op != w.op || g.fin != w.fin || g.rsv != w.rsv {
			return false
		}
		if g.op == OpClose {
			gc, _ := closeOf(g.data)
			wc, _ := closeOf(w.data)
			if gc != wc {
				return false
			}
			continue
		}
		if !bytes.Equal(g.data, w.data) {
			return false
		}
	}
	return true
}

func runCases(t *testing.T, cases []abCase) {
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 7} {
				if chunk == 1 && len(c.in) > 1<<18 {
					chunk = 4093
				}
				runCase(t, c, chunk)
			}
			if c.final == ErrorEvent {
				runLateHost(t, c)
			}
		})
	}
}

// runLateHost plays a host that answers later than the endpoint parses, as the
// server's app threads and event loops do: every message of the input is parsed
// before the host echoes any. The echoes of the messages that came before the
// protocol error must still all go out, and before the close (Autobahn marks the
// case NON-STRICT otherwise).
func runLateHost(t *testing.T, c abCase) {
	t.Helper()
	e := NewEndpoint(c.limit, Negotiated{})
	e.Recv(c.in)
	type msg struct {
		op Opcode
		p  []byte
	}
	var got []msg
	for ev := e.Next(); ev != ErrorEvent; ev = e.Next() {
		switch ev {
		case NeedData, ClosedEvent:
			t.Fatalf("late host: input ended with %v, want ErrorEvent", ev)
		case MessageEvent:
			op, p := e.Message()
			got = append(got, msg{op, append([]byte(nil), p...)})
		}
	}
	if e.State() != Failing || e.HasOutput() && len(got) > 0 && closeLast(t, e) {
		t.Fatalf("late host: the close went out before the host answered (state %v)", e.State())
	}
	for _, m := range got {
		var err error
		if m.op == OpText {
			err = e.SendText(m.p)
		} else {
			err = e.SendBinary(m.p)
		}
		if err != nil {
			t.Fatalf("late host: echo after the error: %v", err)
		}
	}
	e.FinishFailure()
	if frames := parseOut(t, e.Output(nil)); !sameFrames(frames, c.want) {
		t.Fatalf("late host: frames\n got  %v\n want %v", frames, c.want)
	}
	if e.SendText([]byte("more")) != ErrClosed {
		t.Fatal("late host: a message after the close was accepted")
	}
}

// closeLast reports whether the endpoint's pending output ends in a close frame
// (it leaves the output in place).
func closeLast(t *testing.T, e *Endpoint) bool {
	t.Helper()
	out := e.Output(nil)
	frames := parseOut(t, out)
	e.out = append(e.out[:0], out...)
	return len(frames) > 0 && frames[len(frames)-1].op == OpClose
}

// Group 1: framing, text and binary of many sizes.
func TestAutobahn1Framing(t *testing.T) {
	var cs []abCase
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 65537, 1 << 17} {
		s := strings.Repeat("*", n)
		cs = append(cs,
			abCase{id: fmt.Sprintf("1.1.%d", i+1), in: cat(text(s), closeFrame(1000, "")), want: []outFrame{oText(s), oClose(1000)}, final: ClosedEvent},
			abCase{id: fmt.Sprintf("1.2.%d", i+1), in: cat(bin(pat(n, 0xfe)), closeFrame(1000, "")), want: []outFrame{o(OpBinary, pat(n, 0xfe)), oClose(1000)}, final: ClosedEvent})
	}
	runCases(t, cs)
}

// Group 2: pings and pongs.
func TestAutobahn2Pings(t *testing.T) {
	bin125 := pat(125, 0xfe)
	var tenPings []byte
	var tenPongs []outFrame
	for i := 0; i < 10; i++ {
		p := []byte(fmt.Sprintf("payload-%d", i))
		tenPings = append(tenPings, ping(p)...)
		tenPongs = append(tenPongs, o(OpPong, p))
	}
	runCases(t, []abCase{
		{id: "2.1", in: ping(nil), want: []outFrame{o(OpPong, nil)}},
		{id: "2.2", in: ping([]byte("Hello, world!")), want: []outFrame{o(OpPong, []byte("Hello, world!"))}},
		{id: "2.3", in: ping([]byte{0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff}), want: []outFrame{o(OpPong, []byte{0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff})}},
		{id: "2.4", in: ping(bin125), want: []outFrame{o(OpPong, bin125)}},
		{id: "2.5", in: cat(ping(pat(126, 0xfe)), text("never")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "2.6", in: ping(bin125), want: []outFrame{o(OpPong, bin125)}}, // chopped: covered by chunk 1/7
		{id: "2.7", in: pong(nil), want: nil},
		{id: "2.8", in: pong([]byte("unsolicited pong payload")), want: nil},
		{id: "2.9", in: cat(pong([]byte("unsolicited")), ping([]byte("my ping"))), want: []outFrame{o(OpPong, []byte("my ping"))}},
		{id: "2.10", in: tenPings, want: tenPongs},
		{id: "2.11", in: cat(tenPings, closeFrame(1000, "")), want: append(append([]outFrame{}, tenPongs...), oClose(1000)), final: ClosedEvent},
	})
}

// Group 3: reserved bits.
func TestAutobahn3ReservedBits(t *testing.T) {
	cs := []abCase{
		{id: "3.1", in: cf(true, 0x20, OpText, []byte("Hello, world!")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "3.2", in: cat(text("Hello, world!"), cf(true, 0x40, OpText, []byte("Hello, world!")), ping([]byte("x"))), want: []outFrame{oText("Hello, world!"), oClose(1002)}, final: ErrorEvent},
		{id: "3.3", in: cat(text("Hello, world!"), cf(true, 0x60, OpText, []byte("Hello, world!")), ping([]byte("x"))), want: []outFrame{oText("Hello, world!"), oClose(1002)}, final: ErrorEvent},
		{id: "3.4", in: cat(text("Hello, world!"), cf(true, 0x10, OpText, []byte("Hello, world!")), ping([]byte("x"))), want: []outFrame{oText("Hello, world!"), oClose(1002)}, final: ErrorEvent},
		{id: "3.5", in: cf(true, 0x50, OpBinary, pat(8, 0xff)), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "3.6", in: cf(true, 0x30, OpPing, []byte("Hello")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "3.7", in: cf(true, 0x70, OpClose, []byte{3, 0xe8}), want: []outFrame{oClose(1002)}, final: ErrorEvent},
	}
	runCases(t, cs)
}

// Group 4: reserved opcodes.
func TestAutobahn4Opcodes(t *testing.T) {
	var cs []abCase
	for i, op := range []Opcode{3, 4, 5, 6, 7} {
		cs = append(cs,
			abCase{id: fmt.Sprintf("4.1.%d", i+1), in: cat(text("ok"), cf(true, 0, op, []byte("reserved")), ping([]byte("x"))), want: []outFrame{oText("ok"), oClose(1002)}, final: ErrorEvent},
			abCase{id: fmt.Sprintf("4.1.%d-empty", i+1), in: cf(true, 0, op, nil), want: []outFrame{oClose(1002)}, final: ErrorEvent})
	}
	for i, op := range []Opcode{0xb, 0xc, 0xd, 0xe, 0xf} {
		cs = append(cs,
			abCase{id: fmt.Sprintf("4.2.%d", i+1), in: cat(text("ok"), cf(true, 0, op, []byte("reserved")), ping([]byte("x"))), want: []outFrame{oText("ok"), oClose(1002)}, final: ErrorEvent},
			abCase{id: fmt.Sprintf("4.2.%d-empty", i+1), in: cf(true, 0, op, nil), want: []outFrame{oClose(1002)}, final: ErrorEvent})
	}
	runCases(t, cs)
}

// Group 5: fragmentation.
func TestAutobahn5Fragmentation(t *testing.T) {
	frag := oText("fragment1fragment2")
	runCases(t, []abCase{
		{id: "5.1", in: cat(cf(false, 0, OpPing, []byte("frag1")), cf(true, 0, OpContinuation, []byte("frag2"))), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "5.2", in: cat(cf(false, 0, OpPong, []byte("frag1")), cf(true, 0, OpContinuation, []byte("frag2"))), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "5.3", in: cat(cf(false, 0, OpText, []byte("fragment1")), cont(true, "fragment2")), want: []outFrame{frag}},
		{id: "5.5", in: cat(cf(false, 0, OpText, []byte("fragment1")), cont(true, "fragment2")), want: []outFrame{frag}},
		{id: "5.6", in: cat(cf(false, 0, OpText, []byte("fragment1")), ping([]byte("pongme!")), cont(true, "fragment2")), want: []outFrame{o(OpPong, []byte("pongme!")), frag}},
		{id: "5.8", in: cat(cf(false, 0, OpText, []byte("fragment1")), pong([]byte("unsolicited")), cont(true, "fragment2")), want: []outFrame{frag}},
		{id: "5.9", in: cat(cont(true, "non-continuation payload"), text("Hello, world!")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "5.12", in: cat(cont(false, "non-continuation payload"), text("Hello, world!")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "5.15", in: cat(cf(false, 0, OpText, []byte("fragment1")), cont(true, "fragment2"), cont(false, "fragment3"), cont(true, "fragment4")), want: []outFrame{frag, oClose(1002)}, final: ErrorEvent},
		{id: "5.16", in: cat(cont(false, "fragment1"), cf(false, 0, OpText, []byte("fragment2")), cont(true, "fragment3")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "5.18", in: cat(cf(false, 0, OpText, []byte("fragment1")), text("fragment2")), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "5.19", in: cat(cf(false, 0, OpText, []byte("f1")), cont(false, "f2"), ping([]byte("p1")), cont(false, "f3"), cont(false, "f4"), ping([]byte("p2")), cont(true, "f5")),
			want: []outFrame{o(OpPong, []byte("p1")), o(OpPong, []byte("p2")), oText("f1f2f3f4f5")}},
		{id: "5.binary", in: cat(cf(false, 0, OpBinary, []byte{1}), cont(false, ""), cont(true, "\x02")), want: []outFrame{o(OpBinary, []byte{1, 2})}},
		{id: "5.empty-frags", in: cat(cf(false, 0, OpText, nil), cont(false, ""), cont(true, "")), want: []outFrame{oText("")}},
	})
}

// Group 6: UTF-8 handling.
var validUTF8 = []string{
	"Hello-µ@ßöäüàá-UTF-8!!",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", // κόσμε
	"\x00", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xef\xbf\xbe", // U+D7FF, U+E000, U+FFFD, U+FFFE (noncharacters are valid)
}

var invalidUTF8 = []string{
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // 6.3.1: surrogate inside
	"\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", // beyond U+10FFFF, 5/6-byte forms
	"\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80\xbf", // lone continuations
	"\xc0 ", "\xe0 ", "\xf0 ", "\xf8 ", "\xfc ", // lonely starts
	"\xc2", "\xe0\xa0", "\xf0\x90\x80", // incomplete at the end
	"\xfe", "\xff", "\xfe\xfe\xff\xff",
	"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", // overlong
	"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", // surrogates
}

func TestAutobahn6UTF8(t *testing.T) {
	var cs []abCase
	cs = append(cs, abCase{id: "6.1.1", in: text(""), want: []outFrame{oText("")}},
		abCase{id: "6.1.2", in: cat(cf(false, 0, OpText, nil), cont(false, ""), cont(true, "")), want: []outFrame{oText("")}},
		abCase{id: "6.1.3", in: cat(cf(false, 0, OpText, nil), cont(false, "middle frame payload"), cont(true, "")), want: []outFrame{oText("middle frame payload")}})
	for i, s := range validUTF8 {
		cs = append(cs, abCase{id: fmt.Sprintf("6.valid.%d", i), in: text(s), want: []outFrame{oText(s)}})
		// 6.2.x: the same message split into fragments at every byte position.
		for cut := 1; cut < len(s); cut++ {
			cs = append(cs, abCase{id: fmt.Sprintf("6.valid.%d.split%d", i, cut),
				in: cat(cf(false, 0, OpText, []byte(s[:cut])), cont(true, s[cut:])), want: []outFrame{oText(s)}})
		}
	}
	for i, s := range invalidUTF8 {
		cs = append(cs, abCase{id: fmt.Sprintf("6.invalid.%d", i), in: text(s), want: []outFrame{oClose(1007)}, final: ErrorEvent})
		for cut := 1; cut < len(s); cut++ {
			cs = append(cs, abCase{id: fmt.Sprintf("6.invalid.%d.split%d", i, cut),
				in: cat(cf(false, 0, OpText, []byte(s[:cut])), cont(true, s[cut:])), want: []outFrame{oClose(1007)}, final: ErrorEvent})
		}
	}
	runCases(t, cs)
}

// 6.4.x: fail fast. The endpoint must close as soon as the bytes cannot be
// UTF-8, before the rest of the frame or message arrives.
func TestAutobahn6FailFast(t *testing.T) {
	good := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	for _, c := range []struct {
		id      string
		first   []byte // fed first: must not yet fail
		bad     []byte // fed next: must fail now
		rest    []byte
		chopped bool
	}{
		// 6.4.1: three fragments; the second makes it invalid (U+110000 start).
		{id: "6.4.1", first: cf(false, 0, OpText, []byte(good)), bad: cont(false, "\xf4\x90\x80\x80"), rest: cont(true, "edited")},
		// 6.4.2: invalid at the start of the 2nd fragment (a 4-byte prefix that exceeds U+10FFFF).
		{id: "6.4.2", first: cf(false, 0, OpText, []byte(good+"\xf4")), bad: cont(false, "\x90"), rest: cont(true, "\x80\x80edited")},
	} {
		t.Run(c.id, func(t *testing.T) {
			e := NewEndpoint(Limits{}, Negotiated{})
			e.Recv(c.first)
			if ev := e.Next(); ev != NeedData {
				t.Fatalf("after first fragment: %v", ev)
			}
			e.Recv(c.bad)
			if ev := e.Next(); ev != ErrorEvent || e.CloseCode() != 1007 {
				t.Fatalf("after invalid fragment: %v %d", ev, e.CloseCode())
			}
		})
	}
	// 6.4.3/6.4.4: one frame, delivered in chops: fail inside the frame.
	payload := []byte(good + "\xf4\x90\x80\x80" + "edited")
	f := text(string(payload))
	hdr := len(f) - len(payload)
	e := NewEndpoint(Limits{}, Negotiated{})
	e.Recv(f[:hdr+len(good)])
	if ev := e.Next(); ev != NeedData {
		t.Fatalf("6.4.3 valid part: %v", ev)
	}
	e.Recv(f[hdr+len(good) : hdr+len(good)+2]) // f4 90: certainly invalid
	if ev := e.Next(); ev != ErrorEvent || e.CloseCode() != 1007 {
		t.Fatalf("6.4.3 invalid chop: %v %d", ev, e.CloseCode())
	}
}

// Group 7: close handling.
func TestAutobahn7Close(t *testing.T) {
	cs := []abCase{
		{id: "7.1.1", in: cat(text("Hello World!"), closeFrame(1000, "")), want: []outFrame{oText("Hello World!"), oClose(1000)}, final: ClosedEvent},
		{id: "7.1.2", in: cat(closeFrame(1000, ""), closeFrame(1000, "")), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.1.3", in: cat(closeFrame(1000, ""), ping([]byte("x"))), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.1.4", in: cat(closeFrame(1000, ""), text("after close")), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.1.5", in: cat(cf(false, 0, OpText, []byte("fragment1")), closeFrame(1000, ""), cont(true, "fragment2")), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.1.6", in: cat(text(strings.Repeat("BAsd7&jh23", 25600)), text("Hello World!"), closeFrame(1000, ""), ping([]byte("x"))),
			want: []outFrame{oText(strings.Repeat("BAsd7&jh23", 25600)), oText("Hello World!"), oClose(1000)}, final: ClosedEvent},
		{id: "7.3.1", in: closeFrame(0, ""), want: []outFrame{oCloseEmpty}, final: ClosedEvent},
		{id: "7.3.2", in: cf(true, 0, OpClose, []byte{0x03}), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "7.3.3", in: closeFrame(1000, ""), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.3.4", in: closeFrame(1000, "Hello World!"), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.3.5", in: closeFrame(1000, strings.Repeat("*", 123)), want: []outFrame{oClose(1000)}, final: ClosedEvent},
		{id: "7.3.6", in: closeFrame(1000, strings.Repeat("*", 124)), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "7.5.1", in: closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), want: []outFrame{oClose(1007)}, final: ErrorEvent},
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cs = append(cs, abCase{id: fmt.Sprintf("7.7.%d", i+1), in: closeFrame(code, ""), want: []outFrame{oClose(code)}, final: ClosedEvent})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		raw := cf(true, 0, OpClose, []byte{byte(code >> 8), byte(code)}) // closeFrame(0) would be empty
		cs = append(cs, abCase{id: fmt.Sprintf("7.9.%d", i+1), in: raw, want: []outFrame{oClose(1002)}, final: ErrorEvent})
	}
	runCases(t, cs)
}

// Closing events and server-initiated close.
func TestCloseEvents(t *testing.T) {
	e := NewEndpoint(Limits{}, Negotiated{})
	e.Recv(closeFrame(4001, "bye"))
	if ev := e.Next(); ev != CloseEvent || e.CloseCode() != 4001 || e.CloseReason() != "bye" {
		t.Fatalf("got %v %d %q", ev, e.CloseCode(), e.CloseReason())
	}
	if e.State() != Closed {
		t.Fatalf("state %v", e.State())
	}
	if ev := e.Next(); ev != ClosedEvent {
		t.Fatalf("got %v", ev)
	}
	if ev := e.Next(); ev != NeedData {
		t.Fatalf("after closed: %v", ev)
	}
	if err := e.SendText([]byte("x")); err != ErrClosed {
		t.Fatalf("send after close: %v", err)
	}

	// Server-initiated: data after our close is dropped, the peer's close completes it.
	e = NewEndpoint(Limits{}, Negotiated{})
	if err := e.Close(1001, "going away"); err != nil {
		t.Fatal(err)
	}
	if e.State() != Closing {
		t.Fatalf("state %v", e.State())
	}
	fs := parseOut(t, e.Output(nil))
	if len(fs) != 1 || fs[0].op != OpClose {
		t.Fatalf("close frame: %v", fs)
	}
	if c, r := closeOf(fs[0].data); c != 1001 || r != "going away" {
		t.Fatalf("close payload %d %q", c, r)
	}
	if err := e.Close(1000, ""); err != ErrClosed {
		t.Fatalf("second close: %v", err)
	}
	if err := e.SendBinary([]byte("x")); err != ErrClosed {
		t.Fatalf("send while closing: %v", err)
	}
	e.Recv(cat(text("ignored"), cf(false, 0, OpBinary, []byte("ig")), ping([]byte("p")), cont(true, "nored"), pong([]byte("po")), closeFrame(1001, "")))
	var evs []Event
	for ev := e.Next(); ev != NeedData; ev = e.Next() {
		evs = append(evs, ev)
	}
	if fmt.Sprint(evs) != "[Pong Close Closed]" {
		t.Fatalf("events %v", evs)
	}
	if e.HasOutput() {
		t.Fatalf("unexpected output %v", parseOut(t, e.Output(nil)))
	}

	// Close API: codes and reasons.
	e = NewEndpoint(Limits{}, Negotiated{})
	for _, bad := range []int{1005, 1006, 1015, 999, 5000} {
		if bad == 1005 {
			continue // 1005 means "no code" for Close
		}
		if err := e.Close(bad, ""); err != ErrCloseCode {
			t.Fatalf("Close(%d): %v", bad, err)
		}
	}
	long := strings.Repeat("é", 100) // 200 bytes
	if err := e.Close(1000, long); err != nil {
		t.Fatal(err)
	}
	fs = parseOut(t, e.Output(nil))
	if _, r := closeOf(fs[0].data); len(r) != 122 || r != long[:122] {
		t.Fatalf("truncated reason %d bytes", len(r))
	}
	e = NewEndpoint(Limits{}, Negotiated{})
	if err := e.Close(0, ""); err != nil {
		t.Fatal(err)
	}
	if fs = parseOut(t, e.Output(nil)); len(fs[0].data) != 0 {
		t.Fatalf("empty close carries %x", fs[0].data)
	}
}

// Abnormal closure: EOF without a close, also in the middle of a frame.
func TestEOF(t *testing.T) {
	for _, in := range [][]byte{nil, text("hi"), text("hi")[:3], cat(text("x"), ping(nil)[:1])} {
		e := NewEndpoint(Limits{}, Negotiated{})
		e.Recv(in)
		e.Recv(nil)
		var last Event
		for ev := e.Next(); ev != NeedData; ev = e.Next() {
			last = ev
		}
		if last != ClosedEvent || e.CloseCode() != 1006 || e.State() != Closed {
			t.Fatalf("%x: last %v code %d", in, last, e.CloseCode())
		}
	}
}

// Framing rules outside Autobahn's list: masking and the 64-bit length.
func TestFramingErrors(t *testing.T) {
	unmasked := []byte{0x81, 0x02, 'h', 'i'}
	top := []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	huge := []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}
	runCases(t, []abCase{
		{id: "unmasked", in: unmasked, want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "unmasked-ping", in: []byte{0x89, 0x00}, want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "len-top-bit", in: top, want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "len-2^63-1", in: huge, want: []outFrame{oClose(1009)}, final: ErrorEvent},
		{id: "ping-126-ext", in: cf(true, 0, OpPing, pat(126, 1))[:8], want: []outFrame{oClose(1002)}, final: ErrorEvent},
	})
}
