package h2

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzConn feeds raw connection bytes (after the client preface) to a Conn driven
// like a host would drive it, in chunks of varying size. Invariants: no panic, Next
// settles, the output stays bounded and is well-formed HTTP/2 (a Framer and an HPACK
// decoder read it back), stream accounting stays sane, and nothing but ClosedEvent
// follows a connection error.
func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(driveFuzz)
}

// driveFuzz runs connection bytes in (after the preface) through a Conn and
// checks the invariants above.
func driveFuzz(t *testing.T, in []byte) {
	lim := Limits{MaxConcurrentStreams: 8, MaxHeaderListSize: 4096, InitialWindowSize: 65535,
		MaxContinuation: 4, ResetBurst: 50, FloodBudget: 64, MaxBodySize: 1 << 16, EnableConnectProtocol: true}
	c := NewServerConn(lim)
	now := time.Unix(1_800_000_000, 0)
	var out []byte
	c.Recv([]byte(clientPreface), now)
	pending := map[uint32][]byte{}
	body := []byte("fuzz response body")
	sawErr, closed := false, false
	step := func() {
		for i := 0; ; i++ {
			if i > 1_000_000 {
				t.Fatal("Next does not settle")
			}
			ev := c.Next()
			if (sawErr || closed) && ev != ClosedEvent {
				t.Fatalf("%v after the connection ended", ev)
			}
			switch ev {
			case NeedData:
				return
			case RequestEvent:
				r := c.Request()
				if r.StreamID%2 == 0 || len(r.Method) == 0 {
					t.Fatalf("bad request %+v", r)
				}
				if r.StreamID%4 == 1 {
					c.Push(r.StreamID, []byte("GET"), []byte("https"), r.Authority, []byte("/pushed"), nil)
				}
				if r.EndStream {
					c.Informational(r.StreamID, 103, fl("link", "</x>"))
					c.Respond(r.StreamID, 200, fl("content-type", "text/plain"), false)
					if n, err := c.SendData(r.StreamID, body, true); err == nil && n < len(body) {
						pending[r.StreamID] = body[n:]
					}
				}
			case DataEvent:
				c.Consumed(c.StreamID(), len(c.Data()))
			case EndStreamEvent:
				id := c.StreamID()
				if c.Respond(id, 200, nil, false) == nil {
					c.SendTrailers(id, fl("x-done", "1"))
				}
			case WindowEvent:
				for id, rest := range pending {
					n, err := c.SendData(id, rest, true)
					if err != nil || n == len(rest) {
						delete(pending, id)
					} else {
						pending[id] = rest[n:]
					}
				}
			case ResetEvent:
				delete(pending, c.StreamID())
			case ConnErrorEvent:
				if c.Err() == nil {
					t.Fatal("ConnErrorEvent without Err")
				}
				sawErr = true
			case ClosedEvent:
				closed = true
				return
			}
			if n := c.OpenStreams(); n < 0 || n > 2*int(lim.MaxConcurrentStreams)+64 {
				t.Fatalf("OpenStreams %d", n)
			}
		}
	}
	// Chunk sizes come from the input itself, so the fuzzer explores splits.
	rest := in
	for i := 0; len(rest) > 0; i++ {
		n := 1 + int(in[i%len(in)])*7%300
		if n > len(rest) {
			n = len(rest)
		}
		c.Recv(rest[:n], now)
		rest = rest[n:]
		now = now.Add(time.Millisecond)
		step()
		out = c.Output(out)
	}
	c.Recv(nil, now)
	step()
	out = c.Output(out)
	if len(out) > 64*len(in)+8192 {
		t.Fatalf("output %d bytes for %d in", len(out), len(in))
	}
	checkOutput(t, out)
}

// checkOutput parses everything the server wrote.
func checkOutput(t *testing.T, out []byte) {
	fr := http2.NewFramer(nil, bytes.NewReader(out))
	fr.SetMaxReadFrameSize(1 << 24)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	for {
		_, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("server output unreadable: %v", err)
		}
	}
}

type fuzzSeed struct {
	name string
	data []byte
}

// fuzzSeeds builds the seed corpus with a Framer and an HPACK encoder.
func fuzzSeeds() []fuzzSeed {
	var seeds []fuzzSeed
	add := func(name string, build func(fr *http2.Framer, enc func(kv ...string) []byte)) {
		var buf bytes.Buffer
		fr := http2.NewFramer(&buf, nil)
		fr.AllowIllegalWrites = true
		var hb bytes.Buffer
		he := hpack.NewEncoder(&hb)
		enc := func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i+1 < len(kv); i += 2 {
				he.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return append([]byte(nil), hb.Bytes()...)
		}
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
		fr.WriteSettingsAck()
		build(fr, enc)
		seeds = append(seeds, fuzzSeed{name, buf.Bytes()})
	}
	get := getReq("/")
	add("get", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(get...), EndStream: true, EndHeaders: true})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc(get...), EndStream: true, EndHeaders: true})
	})
	add("post_body_trailers", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(postReq("/", "content-length", "8")...), EndHeaders: true})
		fr.WriteData(1, false, []byte("test"))
		fr.WriteDataPadded(1, false, []byte("test"), make([]byte, 10))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc("x-sum", "1"), EndStream: true, EndHeaders: true})
	})
	add("continuation", func(fr *http2.Framer, enc func(...string) []byte) {
		b := enc(append(get, "x-long", strings.Repeat("v", 50))...)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:5], EndStream: true})
		fr.WriteContinuation(1, false, b[5:20])
		fr.WriteContinuation(1, true, b[20:])
	})
	add("continuation_flood", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(get...)[:2]})
		for i := 0; i < 20; i++ {
			fr.WriteContinuation(1, false, nil)
		}
	})
	add("settings_ping", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}, http2.Setting{ID: 0x99, Val: 7})
		fr.WritePing(false, [8]byte{1, 2, 3})
		fr.WritePing(true, [8]byte{})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(get...), EndStream: true, EndHeaders: true})
		fr.WriteWindowUpdate(1, 1000)
		fr.WriteWindowUpdate(0, 1000)
	})
	add("ping_flood", func(fr *http2.Framer, enc func(...string) []byte) {
		for i := 0; i < 100; i++ {
			fr.WritePing(false, [8]byte{byte(i)})
		}
	})
	add("rst_flood", func(fr *http2.Framer, enc func(...string) []byte) {
		for i := uint32(0); i < 60; i++ {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1 + 2*i, BlockFragment: enc(postReq("/")...), EndHeaders: true})
			fr.WriteRSTStream(1+2*i, http2.ErrCodeCancel)
		}
	})
	add("empty_data_flood", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(postReq("/")...), EndHeaders: true})
		for i := 0; i < 80; i++ {
			fr.WriteData(1, false, nil)
		}
	})
	add("malformed_headers", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(append(get, "connection", "x")...), EndStream: true, EndHeaders: true})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc(":method", "GET", ":path", ""), EndStream: true, EndHeaders: true})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: enc(append(get, "Upper", "x")...), EndStream: true, EndHeaders: true})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: enc(get...), EndStream: true, EndHeaders: true})
	})
	add("flow_control", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(postReq("/")...), EndHeaders: true})
		fr.WriteData(1, false, make([]byte, 16384))
		fr.WriteData(1, false, make([]byte, 16384))
		fr.WriteData(1, true, make([]byte, 100))
		fr.WriteWindowUpdate(1, 1<<31-1)
		fr.WriteWindowUpdate(1, 1<<31-1)
	})
	add("priority_goaway", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 10})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(get...), EndHeaders: true, EndStream: true,
			Priority: http2.PriorityParam{StreamDep: 0, Weight: 255, Exclusive: true}})
		fr.WritePriority(5, http2.PriorityParam{StreamDep: 5})
		fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye"))
	})
	add("extended_connect", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
			BlockFragment: enc(":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/ws", ":authority", "x")})
		fr.WriteData(1, false, []byte("\x81\x85abcd"))
		fr.WriteRSTStream(1, http2.ErrCodeCancel)
	})
	add("unknown_and_push_promise", func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteRawFrame(0x16, 0xff, 0, []byte("whatever"))
		fr.WriteRawFrame(0x10, 0, 0, []byte("\x00\x00\x00\x01u=1"))
		fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: enc(get...), EndHeaders: true})
	})
	return seeds
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzConn (H2_WRITE_SEEDS=1).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("H2_WRITE_SEEDS") == "" {
		t.Skip("set H2_WRITE_SEEDS=1 to regenerate the checked-in corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzConn")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fuzzSeeds() {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
