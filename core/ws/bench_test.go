package ws

import "testing"

// Echo of a 16-byte masked text message: Recv -> Next -> SendText -> Output.
func BenchmarkEcho16(b *testing.B) {
	benchEcho(b, text("0123456789abcdef"), Negotiated{})
}

func BenchmarkEcho16Deflate(b *testing.B) {
	benchEcho(b, text("0123456789abcdef"), Negotiated{Deflate: &DeflateParams{ServerNoContextTakeover: true}})
}

func BenchmarkEcho4KDeflate(b *testing.B) {
	benchEcho(b, cf(true, rsv1Bit, OpText, deflateMsg(words(4096, 1))), Negotiated{Deflate: &DeflateParams{ServerNoContextTakeover: true}})
}

func BenchmarkEcho64KBinary(b *testing.B) {
	benchEcho(b, bin(pat(64<<10, 3)), Negotiated{})
}

func benchEcho(b *testing.B, frame []byte, neg Negotiated) {
	e := NewEndpoint(Limits{}, neg)
	in := make([]byte, len(frame))
	out := make([]byte, 0, 2*len(frame)+64)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(in, frame) // the endpoint unmasks in place; a socket read would refill it
		e.Recv(in)
		if e.Next() != MessageEvent {
			b.Fatal("no message")
		}
		op, p := e.Message()
		if op == OpText {
			e.SendText(p)
		} else {
			e.SendBinary(p)
		}
		if e.Next() != NeedData {
			b.Fatal("extra event")
		}
		out = e.Output(out[:0])
	}
}
