package ws

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
)

// Groups 12 and 13: permessage-deflate, against a client-side compressor
// (compress/flate, as browsers and python-websockets use zlib).

func words(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	ws := []string{"alpha", "beta", "gamma", "δέλτα", "epsilon", "ζήτα", "€", "𝄞", "hello", "world", "\n"}
	var b []byte
	for len(b) < n {
		b = append(b, ws[rng.Intn(len(ws))]...)
		b = append(b, ' ')
	}
	// Cut on a character boundary.
	for n > 0 && n < len(b) && b[n]&0xc0 == 0x80 {
		n--
	}
	return b[:n]
}

// ctxWriter is a client compressor with context takeover: one stream, flushed per message.
type ctxWriter struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newCtxWriter() *ctxWriter {
	c := &ctxWriter{}
	c.w, _ = flate.NewWriter(&c.buf, flate.DefaultCompression)
	return c
}

func (c *ctxWriter) msg(p []byte) []byte {
	c.buf.Reset()
	c.w.Write(p)
	c.w.Flush()
	return append([]byte(nil), bytes.TrimSuffix(c.buf.Bytes(), deflateTail)...)
}

// fragments splits a message into frames of at most size bytes (size 0: one frame).
func fragments(op Opcode, rsv byte, p []byte, size int) []byte {
	if size <= 0 || len(p) <= size {
		return cf(true, rsv, op, p)
	}
	var out []byte
	for i := 0; i < len(p); i += size {
		end := min(i+size, len(p))
		fop, frsv := OpContinuation, byte(0)
		if i == 0 {
			fop, frsv = op, rsv
		}
		out = append(out, cf(end == len(p), frsv, fop, p[i:end])...)
	}
	return out
}

func deflateEndpoint(t testing.TB, offer string, l Limits) *Endpoint {
	n, err := Negotiate(Offer{Extensions: []byte(offer)}, "", true)
	if err != nil || n.Deflate == nil {
		t.Fatalf("negotiate %q: %v", offer, err)
	}
	return NewEndpoint(l, n)
}

// echoed checks the server's frames carry want, decompressing RSV1 frames.
func echoed(t *testing.T, fs []outFrame, want [][]byte) {
	t.Helper()
	if len(fs) != len(want) {
		t.Fatalf("%d frames, want %d: %v", len(fs), len(want), fs)
	}
	for i, f := range fs {
		got := f.data
		if f.rsv == rsv1Bit {
			got = inflateMsg(t, f.data)
		} else if f.rsv != 0 {
			t.Fatalf("rsv %x", f.rsv)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(want[i]))
		}
		if len(want[i]) >= 256 && f.rsv != rsv1Bit {
			t.Fatalf("message %d (%d bytes) sent uncompressed", i, len(want[i]))
		}
	}
}

func TestAutobahn12And13Deflate(t *testing.T) {
	sizes := []int{0, 16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072}
	offers := []string{
		"permessage-deflate",
		"permessage-deflate; client_no_context_takeover",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; client_max_window_bits",
	}
	for oi, offer := range offers {
		for _, frag := range []int{0, 1300, 4096} { // 13.x also auto-fragments (10.1.1 style)
			for _, takeover := range []bool{false, true} {
				if takeover && strings.Contains(offer, "client_no_context_takeover") {
					continue
				}
				t.Run(fmt.Sprintf("offer%d/frag%d/takeover=%v", oi, frag, takeover), func(t *testing.T) {
					chunks := []int{0}
					if frag == 1300 {
						chunks = append(chunks, 997)
					}
					for _, chunk := range chunks {
						e := deflateEndpoint(t, offer, Limits{})
						cw := newCtxWriter()
						var in []byte
						var want [][]byte
						for i, n := range sizes {
							for j, op := range []Opcode{OpText, OpBinary} {
								p := words(n, int64(i*2+j))
								var z []byte
								if takeover {
									z = cw.msg(p)
								} else {
									z = deflateMsg(p)
								}
								in = append(in, fragments(op, rsv1Bit, z, frag)...)
								want = append(want, p)
							}
						}
						in = append(in, closeFrame(1000, "")...)
						evs, out := drive(t, e, in, chunk)
						fs := parseOut(t, out)
						if fs[len(fs)-1].op != OpClose || evs[len(evs)-1].ev != ClosedEvent {
							t.Fatalf("no clean close: %v", evs[len(evs)-1])
						}
						echoed(t, fs[:len(fs)-1], want)
					}
				})
			}
		}
	}
}

// A message may go uncompressed even when deflate is negotiated.
func TestDeflateUncompressedMessage(t *testing.T) {
	e := deflateEndpoint(t, "permessage-deflate", Limits{})
	_, out := drive(t, e, cat(text("plain"), cf(true, rsv1Bit, OpText, deflateMsg([]byte("packed")))), 0)
	echoed(t, parseOut(t, out), [][]byte{[]byte("plain"), []byte("packed")})
}

func TestDeflateErrors(t *testing.T) {
	bad := deflateMsg([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"))
	z := deflateMsg([]byte("fragment1fragment2"))
	cases := []abCase{
		{id: "rsv1-on-continuation", in: cat(cf(false, rsv1Bit, OpText, z[:3]), cf(true, rsv1Bit, OpContinuation, z[3:])), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "rsv1-on-ping", in: cf(true, rsv1Bit, OpPing, nil), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "rsv2", in: cf(true, 0x20, OpText, z), want: []outFrame{oClose(1002)}, final: ErrorEvent},
		{id: "invalid-utf8-inflated", in: cf(true, rsv1Bit, OpText, bad), want: []outFrame{oClose(1007)}, final: ErrorEvent},
		{id: "corrupt", in: cf(true, rsv1Bit, OpBinary, []byte{0xff, 0xff, 0xff, 0xff}), want: []outFrame{oClose(1007)}, final: ErrorEvent},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			for _, chunk := range []int{0, 1} {
				e := deflateEndpoint(t, "permessage-deflate", Limits{})
				evs, out := drive(t, e, c.in, chunk)
				got := parseOut(t, out)
				if !sameFrames(got, c.want) || evs[len(evs)-1].ev != c.final {
					t.Fatalf("got %v %v", got, evs)
				}
			}
		})
	}
}

// A compression bomb is stopped at the limit, not inflated in full.
func TestDeflateBomb(t *testing.T) {
	z := deflateMsg(make([]byte, 32<<20)) // 32 MiB of zeros: ~32 KiB on the wire
	e := deflateEndpoint(t, "permessage-deflate", Limits{MaxMessageSize: 1 << 20})
	e.Recv(cf(true, rsv1Bit, OpBinary, z))
	if ev := e.Next(); ev != ErrorEvent || e.CloseCode() != 1009 {
		t.Fatalf("%v %d", ev, e.CloseCode())
	}
	if cap(e.msg) > 2<<20 {
		t.Fatalf("inflated %d bytes for a 1 MiB limit", cap(e.msg))
	}
	// Exactly at the limit is fine.
	e = deflateEndpoint(t, "permessage-deflate", Limits{MaxMessageSize: 1 << 20})
	e.Recv(cf(true, rsv1Bit, OpBinary, deflateMsg(make([]byte, 1<<20))))
	if ev := e.Next(); ev != MessageEvent {
		t.Fatalf("at the limit: %v %d", ev, e.CloseCode())
	}
}

// The server's own compression: RSV1 set, decodable by a client without
// context, and window bits honoured by leaving long messages uncompressed.
func TestDeflateSend(t *testing.T) {
	e := deflateEndpoint(t, "permessage-deflate", Limits{})
	for i := 0; i < 3; i++ {
		p := words(5000, 9)
		if err := e.SendText(p); err != nil {
			t.Fatal(err)
		}
		fs := parseOut(t, e.Output(nil))
		if len(fs) != 1 || fs[0].rsv != rsv1Bit || len(fs[0].data) >= len(p) {
			t.Fatalf("not compressed: %v", fs)
		}
		if !bytes.Equal(inflateMsg(t, fs[0].data), p) {
			t.Fatal("round trip")
		}
	}
	// Short messages stay plain.
	e.SendText([]byte("hi"))
	if fs := parseOut(t, e.Output(nil)); fs[0].rsv != 0 {
		t.Fatal("short message compressed")
	}
	// server_max_window_bits=9: only messages up to 512 bytes are compressed.
	e = deflateEndpoint(t, "permessage-deflate; server_max_window_bits=9", Limits{})
	e.SendBinary(words(512, 1))
	e.SendBinary(words(513, 1))
	fs := parseOut(t, e.Output(nil))
	if fs[0].rsv != rsv1Bit || fs[1].rsv != 0 {
		t.Fatalf("window bits: %v", fs)
	}
}

// An endpoint built with server context takeover keeps one compression stream.
func TestDeflateServerTakeover(t *testing.T) {
	e := NewEndpoint(Limits{}, Negotiated{Deflate: &DeflateParams{}})
	var stream bytes.Buffer
	var msgs [][]byte
	rng := rand.New(rand.NewSource(3))
	same := make([]byte, 3000)
	rng.Read(same) // incompressible alone; repeated, it shrinks to back-references
	for i := 0; i < 5; i++ {
		p := same
		msgs = append(msgs, p)
		e.SendBinary(p)
	}
	fs := parseOut(t, e.Output(nil))
	for _, f := range fs {
		stream.Write(f.data)
		stream.Write(deflateTail)
	}
	if len(fs[4].data) > len(fs[0].data)/4 {
		t.Fatalf("no context kept: %d vs %d bytes", len(fs[4].data), len(fs[0].data))
	}
	r := flate.NewReader(&stream)
	for i, p := range msgs {
		got := make([]byte, len(p))
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}
