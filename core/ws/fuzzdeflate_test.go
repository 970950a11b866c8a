package ws

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDeflate is FuzzEndpoint with permessage-deflate always negotiated and
// input that is mostly real compressed messages: the program names each
// message's opcode, payload (repeated up to bomb sizes), fragmentation,
// context takeover and a possible corruption, and a real compressor builds
// the frames. Random bytes almost never inflate, so without this the
// inflater's state across messages and fragments goes unexplored.
func FuzzDeflate(f *testing.F) {
	for _, s := range deflateSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		flags, data := buildDeflate(prog)
		checkEndpoint(t, flags, data)
	})
}

// buildDeflate turns a program into endpoint flags (deflate on) and bytes.
// Program: flags byte, then per message: kind, payload length, payload,
// repeat, fragment size.
func buildDeflate(prog []byte) (byte, []byte) {
	r := &progBytes{prog}
	flags := r.byte() | 1
	noTakeover := flags&2 != 0
	ctx := newCtxWriter()
	var out []byte
	// Compressing is the cost of an exec: a budget of 1 MiB of plaintext
	// per program (bombs need only just over the 64 KiB limit) keeps each
	// exec short; without it a program could ask for 300 MB and stall a
	// worker on a busy machine.
	budget := 1 << 20
	for msgs := 0; len(r.b) > 0 && msgs < 64; msgs++ {
		kind := r.byte()
		n := int(r.byte() % 64)
		payload := r.take(n)
		reps := int(r.byte())
		if kind&0x40 != 0 {
			reps *= 300 // towards and past the 64 KiB limit: bombs
		}
		if len(payload) > 0 {
			reps = min(max(reps, 1), budget/len(payload))
			payload = bytes.Repeat(payload, reps)
			budget -= len(payload)
		}
		frag := int(r.byte()) * 16
		op := []Opcode{OpText, OpBinary, OpPing, OpPong, OpClose, OpContinuation}[int(kind&7)%6]
		compress := kind&8 == 0
		if op.IsControl() {
			payload = payload[:min(len(payload), 125)]
			out = append(out, cf(true, (kind&0x10)<<2, op, payload)...) // RSV1 on a control frame is an error
			continue
		}
		if op == OpText && kind&0x20 == 0 {
			payload = bytes.ToValidUTF8(payload, []byte("?"))
		}
		var rsv byte
		if compress {
			rsv = rsv1Bit
			if noTakeover {
				payload = deflateMsg(payload)
			} else {
				payload = ctx.msg(payload)
			}
			if kind&0x80 != 0 && len(payload) > 2 {
				payload[len(payload)/2] ^= 0x5a // corrupt the stream
			}
		}
		out = append(out, fragments(op, rsv, payload, frag)...)
	}
	return flags, out
}

type progBytes struct{ b []byte }

func (r *progBytes) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *progBytes) take(n int) []byte {
	n = min(n, len(r.b))
	p := bytes.Clone(r.b[:n])
	r.b = r.b[n:]
	return p
}

func deflateSeeds() []fuzzSeed {
	p := func(b ...byte) []byte { return b }
	return []fuzzSeed{
		{"text_takeover", 0, p(0, 0, 5, 'h', 'e', 'l', 'l', 'o', 3, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 3, 0)},
		{"no_takeover_binary", 0, p(2, 1, 4, 1, 2, 3, 4, 50, 1)},
		{"fragmented_ping_between", 0, p(0x14, 0, 3, 'a', 'b', 'c', 200, 2, 2, 2, 'p', 'p', 1, 0, 0, 1, 'z', 100, 1)},
		{"bomb", 0, p(0, 0x41, 1, 0, 255, 0)},
		{"bomb_fragmented", 0, p(2, 0x41, 1, 'a', 230, 3)},
		{"corrupt", 0, p(0, 0x80, 8, 1, 2, 3, 4, 5, 6, 7, 8, 20, 0)},
		{"uncompressed_then_compressed", 0, p(0, 0x08, 2, 'o', 'k', 1, 0, 0, 2, 'o', 'k', 1, 0)},
		{"rsv1_on_control", 0, p(0, 0x12, 1, 'x', 1, 0)},
		{"invalid_utf8", 0, p(0, 0x20, 2, 0xce, 0xff, 1, 0)},
		{"close_after", 0, p(0, 0, 2, 'h', 'i', 1, 0, 4, 2, 0x03, 0xe8, 1, 0)},
	}
}

// TestWriteDeflateSeeds regenerates testdata/fuzz/FuzzDeflate (WS_WRITE_SEEDS=1).
func TestWriteDeflateSeeds(t *testing.T) {
	if os.Getenv("WS_WRITE_SEEDS") == "" {
		t.Skip("set WS_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDeflate")
	os.MkdirAll(dir, 0o755)
	for _, s := range deflateSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeflateSeedsReachInflate: the programs produce messages the endpoint
// inflates and echoes (else the corpus would test only the framing).
func TestDeflateSeedsReachInflate(t *testing.T) {
	for _, s := range deflateSeeds()[:3] {
		flags, data := buildDeflate(s.data)
		var neg Negotiated
		neg.Deflate = &DeflateParams{ServerNoContextTakeover: true, ClientNoContextTakeover: flags&2 != 0}
		evs, _ := drive(t, NewEndpoint(Limits{MaxMessageSize: fuzzLimit}, neg), data, 0)
		msgs := 0
		for _, ev := range evs {
			if ev.ev == MessageEvent && len(ev.payload) > 0 {
				msgs++
			}
		}
		if msgs == 0 {
			t.Errorf("%s: no message delivered: %v", s.name, evs)
		}
	}
}
