package h2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzFrames is FuzzConn one level up: the input is a program that builds a
// sequence of well-framed HTTP/2 frames (valid HPACK blocks, plausible
// stream ids, real settings), so the fuzzer spends its time in the state
// machine (stream states, flow control, CONTINUATION, floods, GOAWAY)
// instead of in the frame parser's first length check. Same invariants.
func FuzzFrames(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		driveFuzz(t, buildFrames(prog))
	})
}

// Frame kinds of the program language (one byte each, modulo fkCount).
const (
	fkHeaders = iota
	fkHeadersBad
	fkData
	fkRst
	fkSettings
	fkPing
	fkWindow
	fkPriority
	fkContinuation
	fkGoAway
	fkPushPromise
	fkUnknown
	fkRepeat // the previous frame again, n times: floods
	fkChurn  // n streams opened and reset at once: rapid reset
	fkCount
)

// Header fields a program can pick: pseudo-headers, ordinary, forbidden,
// malformed, and a large one for HPACK table and size limits.
var fuzzFields = [][2]string{
	{":method", "GET"}, {":method", "POST"}, {":method", "CONNECT"}, {":scheme", "https"},
	{":authority", "example.com"}, {":path", "/"}, {":path", ""}, {":protocol", "websocket"},
	{"content-length", "4"}, {"content-length", "x"}, {"te", "trailers"}, {"te", "gzip"},
	{"connection", "close"}, {"Upper", "x"}, {"x-big", string(bytes.Repeat([]byte("b"), 3000))},
	{"cookie", "a=1"}, {":status", "200"}, {"x-nul", "a\x00b"},
}

type progReader struct{ b []byte }

func (r *progReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *progReader) u32() uint32 {
	var b [4]byte
	n := copy(b[:], r.b)
	r.b = r.b[n:]
	return binary.BigEndian.Uint32(b[:])
}

func (r *progReader) stream() uint32 {
	b := r.byte()
	if b >= 0xf0 {
		return uint32(b&0x0f) * 2 // 0 (connection) and even ids
	}
	return uint32(b%32)*2 + 1
}

// buildFrames turns a program into connection bytes.
func buildFrames(prog []byte) []byte {
	r := &progReader{prog}
	var out, last bytes.Buffer
	fr := http2.NewFramer(&last, nil)
	fr.AllowIllegalWrites = true
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	block := func() []byte {
		hb.Reset()
		n := int(r.byte() % 12)
		for i := 0; i < n; i++ {
			kv := fuzzFields[int(r.byte())%len(fuzzFields)]
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1], Sensitive: i == 3})
		}
		return bytes.Clone(hb.Bytes())
	}
	churnID := uint32(101) // above the ids stream() picks
	// 2 MiB of frames at most: floods need thousands of small frames, not
	// megabytes, and big programs would stall a worker on a busy machine.
	const maxOut = 2 << 20
	for frames := 0; len(r.b) > 0 && frames < 512 && out.Len() < maxOut; frames++ {
		kind := int(r.byte()) % fkCount
		if kind == fkRepeat {
			n := int(r.byte())
			frame := bytes.Clone(last.Bytes())
			for i := 0; i < n && out.Len() < maxOut; i++ {
				out.Write(frame)
			}
			continue
		}
		if kind == fkChurn {
			n := int(r.byte()) * 4
			var hb2 bytes.Buffer
			e2 := hpack.NewEncoder(&hb2)
			for _, kv := range fuzzFields[1:6] {
				e2.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
			}
			cf := http2.NewFramer(&out, nil)
			for i := 0; i < n; i++ {
				cf.WriteHeaders(http2.HeadersFrameParam{StreamID: churnID, BlockFragment: hb2.Bytes(), EndHeaders: true})
				cf.WriteRSTStream(churnID, http2.ErrCodeCancel)
				churnID += 2
			}
			continue
		}
		last.Reset()
		flags := r.byte()
		id := r.stream()
		switch kind {
		case fkHeaders:
			b := block()
			p := http2.HeadersFrameParam{StreamID: id, BlockFragment: b, EndStream: flags&1 != 0, EndHeaders: flags&4 == 0}
			if flags&0x20 != 0 {
				p.Priority = http2.PriorityParam{StreamDep: r.stream(), Weight: r.byte(), Exclusive: flags&0x40 != 0}
			}
			if flags&8 != 0 {
				p.PadLength = r.byte()
			}
			if !p.EndHeaders && len(b) > 1 { // the rest follows in CONTINUATION frames
				cut := int(r.byte()) % len(b)
				p.BlockFragment = b[:cut]
				fr.WriteHeaders(p)
				fr.WriteContinuation(id, flags&0x10 == 0, b[cut:])
				break
			}
			fr.WriteHeaders(p)
		case fkHeadersBad: // a fragment of raw bytes: HPACK decoding errors
			n := int(r.byte() % 32)
			raw := make([]byte, min(n, len(r.b)))
			copy(raw, r.b)
			r.b = r.b[len(raw):]
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: raw, EndStream: flags&1 != 0, EndHeaders: true})
		case fkData:
			n := int(r.byte()) * 97 % 20000
			if flags&8 != 0 {
				fr.WriteDataPadded(id, flags&1 != 0, make([]byte, n), make([]byte, r.byte()))
			} else {
				fr.WriteData(id, flags&1 != 0, make([]byte, n))
			}
		case fkRst:
			fr.WriteRSTStream(id, http2.ErrCode(r.byte()%14))
		case fkSettings:
			if flags&1 != 0 {
				fr.WriteSettingsAck()
				break
			}
			var ss []http2.Setting
			n := int(r.byte() % 5)
			for i := 0; i < n; i++ {
				ss = append(ss, http2.Setting{ID: http2.SettingID(r.byte() % 10), Val: r.u32()})
			}
			fr.WriteSettings(ss...)
		case fkPing:
			fr.WritePing(flags&1 != 0, [8]byte{r.byte()})
		case fkWindow:
			inc := r.u32() & 0x7fffffff
			if flags&1 != 0 {
				inc %= 70000
			}
			fr.WriteWindowUpdate(id, inc)
		case fkPriority:
			fr.WritePriority(id, http2.PriorityParam{StreamDep: r.stream(), Weight: r.byte(), Exclusive: flags&1 != 0})
		case fkContinuation:
			fr.WriteContinuation(id, flags&4 != 0, block())
		case fkGoAway:
			fr.WriteGoAway(r.stream(), http2.ErrCode(r.byte()%14), []byte("fuzz"))
		case fkPushPromise:
			fr.WritePushPromise(http2.PushPromiseParam{StreamID: id, PromiseID: r.stream(), BlockFragment: block(), EndHeaders: true})
		case fkUnknown:
			fr.WriteRawFrame(http2.FrameType(0x0a+r.byte()%8), http2.Flags(flags), id, []byte("ext"))
		}
		out.Write(last.Bytes())
	}
	return out.Bytes()
}

// frameSeeds: programs for the attacks of protect.go and the common paths.
func frameSeeds() []fuzzSeed {
	p := func(b ...byte) []byte { return b }
	get := []byte{fkHeaders, 1, 0, 4, 0, 3, 4, 5} // GET / https example.com, END_STREAM
	return []fuzzSeed{
		{"get", append(append([]byte{}, get...), fkHeaders, 1, 1, 4, 0, 3, 4, 5)},
		{"post_data_trailers", p(fkHeaders, 0, 0, 5, 1, 3, 4, 5, 8, fkData, 0, 0, 1, fkData, 8, 0, 2, 9, fkHeaders, 1, 0, 1, 15)},
		{"rapid_reset", p(fkHeaders, 0, 0, 4, 1, 3, 4, 5, fkRst, 0, 0, 8, fkChurn, 200)},
		{"continuation_flood", p(fkHeaders, 0x14, 0, 4, 0, 3, 4, 5, 1, fkContinuation, 0, 0, 0, fkRepeat, 40)},
		{"settings_flood", p(fkSettings, 0, 0, 2, 4, 0, 0, 0, 1, 3, 0, 0, 0, 1, fkRepeat, 255, fkRepeat, 255)},
		{"ping_flood", p(fkPing, 0, 0, 7, fkRepeat, 255, fkRepeat, 255)},
		{"hpack_big", p(fkHeaders, 1, 0, 11, 0, 3, 4, 5, 14, 14, 14, 14, 14, 14, 14)},
		{"zero_window", p(fkSettings, 0, 0, 1, 4, 0, 0, 0, 0, fkHeaders, 1, 0, 4, 0, 3, 4, 5, fkWindow, 1, 1, 0, 0, 0, 0, fkWindow, 0, 0xf0, 0x7f, 0xff, 0xff, 0xff)},
		{"connect_ws", p(fkHeaders, 0, 0, 5, 2, 7, 3, 5, 4, fkData, 0, 0, 3, fkRst, 0, 0, 8)},
		{"bad_hpack_goaway", p(fkHeadersBad, 1, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff, fkGoAway, 0, 0, 0, 0)},
		{"priority_push_unknown", p(fkPriority, 0, 1, 1, 9, fkPushPromise, 0, 0, 2, 4, 0, 3, 4, 5, fkUnknown, 0xff, 0)},
		{"window_overflow", p(fkHeaders, 0, 0, 4, 1, 3, 4, 5, fkWindow, 0, 0, 0x7f, 0xff, 0xff, 0xff, fkRepeat, 2)},
	}
}

// TestWriteFrameSeeds regenerates testdata/fuzz/FuzzFrames (H2_WRITE_SEEDS=1).
func TestWriteFrameSeeds(t *testing.T) {
	if os.Getenv("H2_WRITE_SEEDS") == "" {
		t.Skip("set H2_WRITE_SEEDS=1 to regenerate the checked-in corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFrames")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range frameSeeds() {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFrameSeedsReachTheirTarget checks that the seed programs build what
// their names say (a program language bug would silently gut the corpus).
func TestFrameSeedsReachTheirTarget(t *testing.T) {
	for _, s := range frameSeeds() {
		b := buildFrames(s.data)
		fr := http2.NewFramer(nil, bytes.NewReader(b))
		fr.SetMaxReadFrameSize(1 << 24)
		counts := map[http2.FrameType]int{}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				break
			}
			counts[f.Header().Type]++
		}
		want := map[string]struct {
			typ http2.FrameType
			min int
		}{
			"rapid_reset":        {http2.FrameRSTStream, 500},
			"continuation_flood": {http2.FrameContinuation, 40},
			"settings_flood":     {http2.FrameSettings, 500},
			"ping_flood":         {http2.FramePing, 500},
			"get":                {http2.FrameHeaders, 2},
		}[s.name]
		if want.min > 0 && counts[want.typ] < want.min {
			t.Errorf("%s: %d %v frames, want >= %d (%v)", s.name, counts[want.typ], want.typ, want.min, counts)
		}
	}
}
