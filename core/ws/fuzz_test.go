package ws

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzEndpoint feeds arbitrary client bytes to an echoing endpoint.
// flags: bit 0 deflate negotiated, bit 1 client_no_context_takeover,
// bits 2-4 the chunk size for a second, chopped run.
// Invariants: no panic; no message over the limit; text messages are UTF-8;
// output is bounded by what the input asked for (echoes, pongs, one close);
// chopped feeding gives the same events and bytes as all at once.
func FuzzEndpoint(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.flags, s.data)
	}
	f.Fuzz(checkEndpoint)
}

const fuzzLimit = 64 << 10

// checkEndpoint runs client bytes through echoing endpoints (whole, then
// chopped) and checks the invariants of FuzzEndpoint.
func checkEndpoint(t *testing.T, flags byte, data []byte) {
	const limit = fuzzLimit
	mk := func() *Endpoint {
		var neg Negotiated
		if flags&1 != 0 {
			neg.Deflate = &DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: flags&2 != 0}
		}
		return NewEndpoint(Limits{MaxMessageSize: limit}, neg)
	}
	evs, out := drive(t, mk(), data, 0)
	bound := 0
	for _, ev := range evs {
		switch ev.ev {
		case MessageEvent:
			if len(ev.payload) > limit {
				t.Fatalf("message of %d bytes over the limit", len(ev.payload))
			}
			if ev.op == OpText && !bytes.Equal(bytes.ToValidUTF8(ev.payload, nil), ev.payload) {
				t.Fatalf("invalid UTF-8 delivered")
			}
			bound += len(ev.payload) + len(ev.payload)/100 + 32
		case PingEvent:
			bound += 2 + len(ev.payload)
		}
	}
	bound += 2 + 125 // one close frame
	if len(out) > bound {
		t.Fatalf("output %d bytes, bound %d", len(out), bound)
	}
	parseOut(t, out) // well-formed, unmasked frames
	chunk := []int{1, 2, 3, 5, 8, 13, 100, 1000}[flags>>2&7]
	evs2, out2 := drive(t, mk(), data, chunk)
	if !reflect.DeepEqual(evs, evs2) || !bytes.Equal(out, out2) {
		t.Fatalf("chunk %d differs:\n%v\n%v", chunk, evs, evs2)
	}
}

type fuzzSeed struct {
	name  string
	flags byte
	data  []byte
}

func fuzzSeeds() []fuzzSeed {
	z := deflateMsg([]byte("compressed hello, compressed hello"))
	return []fuzzSeed{
		{"masked_text", 0, text("Hello, world!")},
		{"binary_126", 0x04, bin(pat(126, 0xab))},
		{"fragmented_with_ping", 0x08, cat(cf(false, 0, OpText, []byte("frag1")), ping([]byte("p")), cont(true, "frag2"))},
		{"ping_pong", 0x0c, cat(ping([]byte("ping")), pong([]byte("pong")))},
		{"close_1000", 0, closeFrame(1000, "bye")},
		{"close_1_byte", 0x10, cf(true, 0, OpClose, []byte{3})},
		{"bad_opcode", 0, cat(text("ok"), cf(true, 0, 0xb, []byte("x")))},
		{"huge_length", 0, []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}},
		{"over_limit", 0, bin(pat(70000, 1))[:20]},
		{"unmasked", 0, []byte{0x81, 0x02, 'h', 'i'}},
		{"invalid_utf8_split", 0x14, cat(cf(false, 0, OpText, []byte("\xce")), cont(true, "\xff"))},
		{"rsv_no_ext", 0, cf(true, 0x40, OpText, []byte("x"))},
		{"deflate_text", 0x01, cat(cf(true, rsv1Bit, OpText, z), closeFrame(1001, ""))},
		{"deflate_fragmented", 0x07, cat(cf(false, rsv1Bit, OpBinary, z[:5]), ping(nil), cf(true, 0, OpContinuation, z[5:]))},
		{"deflate_takeover_twice", 0x09, cat(cf(true, rsv1Bit, OpText, z), cf(true, rsv1Bit, OpText, deflateMsg([]byte("second"))))},
		{"deflate_bomb", 0x01, cf(true, rsv1Bit, OpBinary, deflateMsg(make([]byte, 200<<10)))},
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzEndpoint (WS_WRITE_SEEDS=1).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("WS_WRITE_SEEDS") == "" {
		t.Skip("set WS_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzEndpoint")
	os.MkdirAll(dir, 0o755)
	for _, s := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", s.flags, s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
