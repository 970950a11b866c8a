package ws

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// Group 9 (large messages, bounded here to a few MiB) and the size limits.
func TestAutobahn9Large(t *testing.T) {
	var cs []abCase
	for i, n := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		p := pat(n, 'x')
		cs = append(cs, abCase{id: fmt.Sprintf("9.1.%d", i+1), in: cat(text(string(p)), closeFrame(1000, "")), want: []outFrame{oText(string(p)), oClose(1000)}, final: ClosedEvent})
	}
	// 9.3/9.4: a 1 MiB message in fragments of 64 B .. 64 KiB.
	p := pat(1<<20, 0x31)
	for i, fs := range []int{64, 256, 4096, 65536} {
		cs = append(cs, abCase{id: fmt.Sprintf("9.3.%d", i+1), in: fragments(OpText, 0, p, fs), want: []outFrame{oText(string(p))}})
	}
	runCases(t, cs)
}

// 10.1.1: a 64 KiB text message auto-fragmented into 1300-byte frames.
func TestAutobahn10AutoFragment(t *testing.T) {
	p := words(65536, 10)
	runCases(t, []abCase{{id: "10.1.1", in: fragments(OpText, 0, p, 1300), want: []outFrame{oText(string(p))}}})
}

func TestMessageLimits(t *testing.T) {
	l := Limits{MaxMessageSize: 1000}
	runCasesLimit := func(cs []abCase) {
		for i := range cs {
			cs[i].limit = l
		}
		runCases(t, cs)
	}
	runCasesLimit([]abCase{
		{id: "at-limit", in: bin(pat(1000, 1)), want: []outFrame{o(OpBinary, pat(1000, 1))}},
		{id: "over-limit", in: bin(pat(1001, 1)), want: []outFrame{oClose(1009)}, final: ErrorEvent},
		{id: "fragments-over", in: fragments(OpBinary, 0, pat(1001, 1), 100), want: []outFrame{oClose(1009)}, final: ErrorEvent},
		{id: "fragments-at", in: fragments(OpText, 0, pat(1000, 'a'), 100), want: []outFrame{oText(string(pat(1000, 'a')))}},
	})
	// The limit applies from the header: nothing of the payload needs to arrive.
	e := NewEndpoint(l, Negotiated{})
	e.Recv(bin(pat(5000, 1))[:14])
	if ev := e.Next(); ev != ErrorEvent || e.CloseCode() != 1009 {
		t.Fatalf("%v %d", ev, e.CloseCode())
	}
	// MaxFrameSize alone.
	e = NewEndpoint(Limits{MaxFrameSize: 10}, Negotiated{})
	e.Recv(cat(fragments(OpBinary, 0, pat(30, 1), 10), bin(pat(11, 1))))
	if ev := e.Next(); ev != MessageEvent {
		t.Fatalf("%v", ev)
	}
	if ev := e.Next(); ev != ErrorEvent || e.CloseCode() != 1009 {
		t.Fatalf("%v %d", ev, e.CloseCode())
	}
}

// Feeding a byte at a time gives the same events and output as all at once.
func TestByteAtATime(t *testing.T) {
	stream := cat(
		text("hello"), bin(pat(300, 7)), ping([]byte("p")),
		cf(false, 0, OpText, []byte("a\xce")), ping(nil), cont(false, "\xba"), pong([]byte("q")), cont(true, "z"),
		bin(pat(70000, 9)), text(""), closeFrame(1001, "bye"), text("after"))
	for _, deflate := range []bool{false, true} {
		in := stream
		if deflate {
			in = cat(stream[:len(stream)-len(closeFrame(1001, "bye"))-len(text("after"))],
				cf(true, rsv1Bit, OpText, deflateMsg(words(5000, 2))), closeFrame(1001, "bye"))
		}
		newE := func() *Endpoint {
			if deflate {
				return deflateEndpoint(t, "permessage-deflate", Limits{})
			}
			return NewEndpoint(Limits{}, Negotiated{})
		}
		ev1, out1 := drive(t, newE(), in, 0)
		for _, chunk := range []int{1, 2, 3, 13, 125, 4096} {
			ev2, out2 := drive(t, newE(), in, chunk)
			if !reflect.DeepEqual(ev1, ev2) || !bytes.Equal(out1, out2) {
				t.Fatalf("deflate=%v chunk %d:\n%v\n%v", deflate, chunk, ev1, ev2)
			}
		}
		if n := len(ev1); n < 9 || ev1[n-2].ev != CloseEvent || ev1[n-1].ev != ClosedEvent {
			t.Fatalf("events %v", ev1)
		}
	}
}

func TestSendAPI(t *testing.T) {
	e := NewEndpoint(Limits{}, Negotiated{})
	if err := e.SendText([]byte("\xff")); err != ErrInvalidUTF8 {
		t.Fatal(err)
	}
	if err := e.Ping(pat(126, 0)); err != ErrControlSize {
		t.Fatal(err)
	}
	if e.HasOutput() {
		t.Fatal("output after rejected sends")
	}
	e.Ping(pat(125, 0))
	e.SendBinary(pat(70000, 2))
	e.SendText([]byte("€"))
	fs := parseOut(t, e.Output(nil))
	if len(fs) != 3 || fs[0].op != OpPing || len(fs[1].data) != 70000 || string(fs[2].data) != "€" || !fs[2].fin {
		t.Fatalf("%v", fs)
	}
	if e.HasOutput() || len(e.Output(nil)) != 0 {
		t.Fatal("Output did not clear")
	}
}

// MaxQueued: pongs for a peer that does not read stop at the limit, then the
// endpoint drops the session (1008) and releases its output.
func TestQueuedLimit(t *testing.T) {
	e := NewEndpoint(Limits{MaxQueued: 1000}, Negotiated{})
	e.Recv(bytes.Repeat(ping(pat(125, 'p')), 20))
	pongs := 0
	for {
		ev := e.Next()
		if ev == PingEvent {
			pongs++
			if e.Queued() > 1000 {
				t.Fatalf("queued %d over the limit after %d pongs", e.Queued(), pongs)
			}
			continue
		}
		if ev != ErrorEvent || e.CloseCode() != ClosePolicyViolation || !e.Dropped() {
			t.Fatalf("after %d pongs: %v %d dropped=%v", pongs, ev, e.CloseCode(), e.Dropped())
		}
		break
	}
	if pongs != 7 || e.Queued() != 0 || e.HasOutput() {
		t.Fatalf("pongs %d, queued %d after the drop", pongs, e.Queued())
	}
	if e.SendText([]byte("x")) != ErrClosed || e.Next() != NeedData {
		t.Fatal("the dropped endpoint still works")
	}

	// Output handed to the transport counts until Sent confirms it.
	e = NewEndpoint(Limits{MaxQueued: 1000}, Negotiated{})
	e.Recv(bytes.Repeat(ping(pat(125, 'p')), 5))
	for e.Next() == PingEvent {
	}
	out := e.Output(nil)
	if e.Queued() != int64(len(out)) || len(out) != 5*127 {
		t.Fatalf("queued %d, output %d", e.Queued(), len(out))
	}
	e.Sent(len(out))
	e.Recv(bytes.Repeat(ping(pat(125, 'p')), 7))
	for i := 0; i < 7; i++ {
		if ev := e.Next(); ev != PingEvent {
			t.Fatalf("ping %d after Sent: %v", i, ev)
		}
	}

	// A big message of the app's own does not count against the peer while
	// it waits to go out; sending on while over the limit drops the session.
	e = NewEndpoint(Limits{MaxQueued: 1000}, Negotiated{})
	if err := e.SendBinary(pat(5000, 1)); err != nil {
		t.Fatal(err)
	}
	e.Output(nil)
	e.Recv(ping(pat(125, 'p')))
	if ev := e.Next(); ev != PingEvent {
		t.Fatalf("a ping while the app's message waits: %v", ev)
	}
	if err := e.SendBinary(pat(100, 1)); err != nil {
		t.Fatal(err)
	}
	e.Sent(5004)
	e.Sent(len(e.Output(nil))) // all out: the credit ends
	sends := 0
	for ; sends < 10; sends++ {
		if err := e.SendBinary(pat(900, 1)); err != nil {
			if err != ErrQueueFull || !e.Dropped() || e.CloseCode() != ClosePolicyViolation {
				t.Fatalf("send over the limit: %v dropped=%v", err, e.Dropped())
			}
			break
		}
	}
	if sends != 3 { // 2712 queued > 1000 + 904
		t.Fatalf("%d sends before the drop", sends)
	}
	if err := e.Ping(nil); err != ErrClosed {
		t.Fatalf("ping after the drop: %v", err)
	}
}
