package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzBoundary drives the C exports with call sequences decoded from the
// input: real handles and ids (live, freed, finished), forged ones, NULL and
// zero-length buffers, small buffers, every option name, and real clients
// so that requests and WebSockets exist to misuse. Invariants: nothing
// panics out of an export, no call returns PORTICO_ERR_INTERNAL (a caught
// panic is still a bug), every code is one portico.h names, and a stale or
// forged id never reaches a live object (checked by the final cleanup
// finding every live id still valid).
func FuzzBoundary(f *testing.F) {
	for _, s := range boundarySeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h := newHarness(t, in)
		defer h.cleanup()
		for i := 0; i < 48 && h.more(); i++ {
			h.step()
		}
	})
}

// The op codes of the sequence; the seeds spell programs with them.
const (
	opOptionsNew = iota
	opOptionsSet
	opOptionsFree
	opServerNew
	opListen
	opAddress
	opLastError
	opNext
	opFD
	opShutdown
	opServerFree
	opClient
	opRead
	opRespond
	opWrite
	opAbort
	opEarlyHints
	opSetTrailers
	opTrailers
	opPush
	opWSAccept
	opWSRecv
	opWSNextSize
	opWSSend
	opWSClose
	opWSFree
	opRespondBatch // pco_respond_batch, the Python binding's answer queue
	opCount
)

type harness struct {
	t       *testing.T
	in      []byte
	opts    []uintptr // every options handle made (freed ones stay: stale use)
	servers []uintptr // every server handle made
	live    map[uintptr]bool
	addrs   map[uintptr]string
	ids     []uint64 // every request id seen
	conns   []net.Conn
}

func newHarness(t *testing.T, in []byte) *harness {
	return &harness{t: t, in: in, live: map[uintptr]bool{}, addrs: map[uintptr]string{}}
}

func (h *harness) more() bool { return len(h.in) > 0 }

func (h *harness) byte() byte {
	if len(h.in) == 0 {
		return 0
	}
	b := h.in[0]
	h.in = h.in[1:]
	return b
}

func (h *harness) u64() uint64 {
	var b [8]byte
	n := copy(b[:], h.in)
	h.in = h.in[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// bytes takes a length byte and that many input bytes; 0xff means nil.
func (h *harness) bytes() []byte {
	n := h.byte()
	if n == 0xff {
		return nil
	}
	n = min(n, byte(len(h.in)))
	b := append([]byte{}, h.in[:n]...)
	h.in = h.in[n:]
	return b
}

func (h *harness) buf() []byte {
	switch b := h.byte(); {
	case b < 0x20:
		return nil
	case b < 0x40:
		return []byte{}
	default:
		return make([]byte, int(b)*int(b)/8) // 512 .. 8 KiB; small ones too
	}
}

// handle picks a handle: mostly a real one (perhaps freed), else forged.
func (h *harness) handle(pool []uintptr) uintptr {
	b := h.byte()
	if b < 0xc0 && len(pool) > 0 {
		return pool[int(b)%len(pool)]
	}
	switch b & 3 {
	case 0:
		return 0
	case 1:
		return ^uintptr(0)
	case 2:
		if len(pool) > 0 {
			return pool[0] + 1
		}
		return 1
	}
	return uintptr(h.u64())
}

func (h *harness) id() uint64 {
	b := h.byte()
	if b < 0xc0 && len(h.ids) > 0 {
		return h.ids[len(h.ids)-1-int(b)%len(h.ids)] // recent ones mostly
	}
	switch b & 3 {
	case 0:
		return 0
	case 1:
		return ^uint64(0)
	case 2:
		if len(h.ids) > 0 {
			return h.ids[len(h.ids)-1] + 1000
		}
	}
	return h.u64()
}

func (h *harness) str(choices ...string) *string {
	b := h.byte()
	if int(b) >= len(choices) {
		if b == 0xff {
			return nil
		}
		s := string(h.bytes())
		return &s
	}
	return &choices[b]
}

// timeout keeps waits short: a negative one means "the body timeout" or
// "forever", which a fuzz run cannot afford.
func (h *harness) timeout() int { return int(h.byte() % 15) }

// check enforces the invariants on a return code.
func (h *harness) check(op string, rc int64) {
	h.t.Helper()
	if rc == errInternal {
		h.t.Fatalf("%s: PORTICO_ERR_INTERNAL (a panic caught at the boundary)", op)
	}
	if rc < errLength {
		h.t.Fatalf("%s: undocumented code %d", op, rc)
	}
}

var optionNames = []string{"max_head_size", "max_body_size", "header_timeout_ms", "keepalive_timeout_ms",
	"body_timeout_ms", "queue_size", "prefetch_size", "server_header", "certfile", "keyfile",
	"ws_max_message_size", "ws_max_queued", "ws_ping_interval_ms", "ws_ping_timeout_ms", "h2c_upgrade", "nonsense", ""}

var optionValues = []string{"0", "1", "-1", "65536", "99999999999999999999", "abc", "", "on", "/nonexistent.pem", "100"}

var heads = []string{"200 OK\x00content-type\x00text/plain", "204 No Content", "20 bad", "999 X\x00a\x00b",
	"200 OK\x00bad name\x00v", "200 OK\x00x\x00a\r\nb", "101 Switching", "200 OK\x00content-length\x003", ""}

var clientRequests = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
	"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n" +
		"\x81\x85abcd\x09\x04\x0f\x08\x0e", // then a masked "hello"
	"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
}

func (h *harness) step() {
	switch op := int(h.byte()) % opCount; op {
	case opOptionsNew:
		o := hkOptionsNew()
		if o == 0 {
			h.t.Fatal("options_new returned NULL")
		}
		h.opts = append(h.opts, o)
		// Shutdown waits graceful_timeout_ms for requests in flight: keep it short.
		hkOptionsSet(o, ptr("graceful_timeout_ms"), ptr("50"))
	case opOptionsSet:
		o := h.handle(h.opts)
		h.check("options_set", int64(hkOptionsSet(o, h.str(optionNames...), h.str(optionValues...))))
	case opOptionsFree:
		h.check("options_free", int64(hkOptionsFree(h.handle(h.opts))))
	case opServerNew:
		o := h.handle(h.opts)
		if o == 0 {
			return // defaults mean a 30 s graceful period; 0 is covered by TestBoundaryBasics
		}
		if s := hkServerNew(o); s != 0 {
			h.servers = append(h.servers, s)
			h.live[s] = true
		}
	case opListen:
		s := h.handle(h.servers)
		rc := hkServerListen(s, h.str("127.0.0.1:0", "http://127.0.0.1:0", "https://127.0.0.1:0", "unix:", "fd://-1", "nonsense:1", "256.0.0.1:0"))
		h.check("listen", int64(rc))
		if rc >= 0 && h.addrs[s] == "" {
			buf := make([]byte, 128)
			if n := hkServerAddress(s, rc, buf); n > 0 && !strings.HasPrefix(string(buf[:n]), "https") {
				h.addrs[s] = string(buf[:n])
			}
		}
	case opAddress:
		h.check("address", int64(hkServerAddress(h.handle(h.servers), int(int8(h.byte())), h.buf())))
	case opLastError:
		h.check("last_error", int64(hkServerLastError(h.handle(h.servers), h.buf())))
	case opNext:
		buf := h.buf()
		rc := hkServerNext(h.handle(h.servers), h.timeout(), buf)
		h.check("next", rc)
		if rc >= 16 {
			h.ids = append(h.ids, binary.LittleEndian.Uint64(buf))
		}
	case opFD:
		h.check("fd", int64(hkServerFD(h.handle(h.servers))))
	case opShutdown, opServerFree:
		s := h.handle(h.servers)
		h.finishAll() // a request in flight would hold shutdown for graceful_timeout_ms
		var rc int
		if op == opShutdown {
			rc = hkServerShutdown(s)
		} else {
			rc = hkServerFree(s)
			if rc == errOK {
				delete(h.live, s)
			}
		}
		h.check("shutdown/free", int64(rc))
	case opClient:
		s := h.handle(h.servers)
		req := clientRequests[int(h.byte())%len(clientRequests)]
		if addr := h.addrs[s]; addr != "" && h.live[s] && len(h.conns) < 4 {
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "http://"), time.Second)
			if err != nil {
				return
			}
			h.conns = append(h.conns, c)
			c.Write([]byte(req))
			go io.Copy(io.Discard, c) // never let the server block on us
			// Let the request reach the queue before the next op.
			buf := make([]byte, 1<<17)
			if rc := hkServerNext(s, 200, buf); rc >= 16 {
				h.ids = append(h.ids, binary.LittleEndian.Uint64(buf))
			}
		}
	case opRead:
		h.check("read", hkRead(h.id(), h.buf(), h.timeout()))
	case opRespond:
		id := h.id()
		head := h.str(heads...)
		var hb []byte
		if head != nil {
			hb = []byte(*head)
		}
		h.check("respond", int64(hkRespond(id, hb, h.bytes(), int(h.byte()))))
	case opWrite:
		h.check("write", int64(hkWrite(h.id(), h.bytes(), int(h.byte()))))
	case opAbort:
		h.check("abort", int64(hkAbort(h.id(), int(int16(binary.LittleEndian.Uint16([]byte{h.byte(), h.byte()}))))))
	case opEarlyHints:
		h.check("early_hints", int64(hkEarlyHints(h.id(), h.bytes())))
	case opSetTrailers:
		h.check("set_trailers", int64(hkSetTrailers(h.id(), h.bytes())))
	case opTrailers:
		h.check("trailers", hkTrailers(h.id(), h.buf()))
	case opPush:
		h.check("push", int64(hkPush(h.id(), h.bytes())))
	case opWSAccept:
		h.check("ws_accept", int64(hkWSAccept(h.id(), h.str("", "chat", "other"), h.bytes())))
	case opWSRecv:
		id, buf, to := h.id(), h.buf(), h.timeout()
		rc, _ := hkWSRecv(id, buf, to, h.byte()&1 == 0)
		h.check("ws_recv", rc)
	case opWSNextSize:
		h.check("ws_next_size", hkWSNextSize(h.id()))
	case opWSSend:
		id, kind := h.id(), int(h.byte()%12)
		h.check("ws_send", int64(hkWSSend(id, kind, h.bytes())))
	case opWSClose:
		id, code := h.id(), int(binary.LittleEndian.Uint16([]byte{h.byte(), h.byte()}))
		h.check("ws_close", int64(hkWSClose(id, code, h.str("", "bye", strings.Repeat("r", 200)))))
	case opWSFree:
		h.check("ws_free", int64(hkWSFree(h.id())))
	case opRespondBatch:
		// Records for live, spent or forged ids, then maybe cut anywhere
		// (the binding never sends that, but the export must not care).
		var q []byte
		for i := h.byte() % 4; i > 0; i-- {
			id, head := h.id(), h.str(heads...)
			hs := ""
			if head != nil {
				hs = *head
			}
			q = append(q, batchRecord(id, hs, string(h.bytes()))...)
		}
		if cut := int(h.byte()); cut&1 == 1 && len(q) > 0 {
			q = q[:cut%len(q)]
		}
		var bad []uint64
		if k := h.byte() % 3; k > 0 {
			bad = make([]uint64, k)
		}
		h.check("respond_batch", hkRespondBatch(q, bad))
	}
}

// finishAll ends every request and WebSocket the run still holds, so that a
// shutdown does not wait for them.
func (h *harness) finishAll() {
	for _, id := range h.ids {
		h.check("cleanup ws_free", int64(hkWSFree(id)))
		h.check("cleanup abort", int64(hkAbort(id, 500)))
	}
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
}

func (h *harness) cleanup() {
	h.finishAll()
	for s := range h.live {
		if rc := hkServerFree(s); rc != errOK {
			h.t.Fatalf("freeing a live server: %d", rc)
		}
	}
	for _, o := range h.opts {
		hkOptionsFree(o)
	}
}

func ptr(s string) *string { return &s }

type boundarySeed struct {
	name string
	data []byte
}

// boundarySeeds spell a few meaningful programs in the op language.
func boundarySeeds() []boundarySeed {
	p := func(b ...byte) []byte { return b }
	return []boundarySeed{
		{"options_roundtrip", p(opOptionsNew, opOptionsSet, 0, 0, 3, opOptionsSet, 0, 14, 0, opOptionsFree, 0, opOptionsFree, 0, opOptionsSet, 0, 1, 1)},
		{"forged_handles", p(opListen, 0xc1, 0, opNext, 0xc2, 0x50, 1, opServerFree, 0xc3, 1, 2, 3, 4, 5, 6, 7, 8, opRead, 0xc1, 0x50, 1)},
		{"serve_get", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opClient, 0, 0, opRespond, 0, 0, 2, 'h', 'i', 1, opRespond, 0, 0, 0, 0, opWrite, 0, 1, 'x', 1)},
		{"serve_post_read", p(opOptionsNew, opServerNew, 0, opListen, 0, 1, opClient, 0, 1, opRead, 0, 0x10, 3, opRead, 0, 0x50, 3, opTrailers, 0, 0x50, opAbort, 0, 0xf4, 0x01, opAbort, 0, 0, 0)},
		{"serve_chunked_trailers", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opClient, 0, 2, opRead, 0, 0x50, 3, opRead, 0, 0x50, 3, opTrailers, 0, 0x30, opTrailers, 0, 0x50, opSetTrailers, 0, 4, 'x', 0, 'y', 0, opRespond, 0, 0, 0, 1)},
		{"websocket", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opClient, 0, 3, opWSAccept, 0, 1, 0xff, opWSNextSize, 0, opWSRecv, 0, 0x50, 10, 0, opWSRecv, 0, 0x50, 10, 1,
			opWSSend, 0, 1, 2, 'o', 'k', opWSSend, 0, 1, 1, 0xff, opWSSend, 0, 9, 0, opWSClose, 0, 0xe8, 0x03, 1, opWSRecv, 0, 0x50, 10, 0, opWSFree, 0, opWSSend, 0, 1, 1, 'x')},
		{"shutdown_then_use", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opClient, 0, 4, opShutdown, 0, opNext, 0, 0x50, 1, opListen, 0, 0, opServerFree, 0, opServerFree, 0, opFD, 0, opRespond, 0, 0, 0, 1)},
		{"early_hints_push", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opClient, 0, 0, opEarlyHints, 0, 8, 'l', 'i', 'n', 'k', 0, '<', '>', 0, opPush, 0, 2, '/', 'x', opRespond, 0, 1, 0xff, 1)},
		{"respond_batch", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opClient, 0, 0, opClient, 0, 0,
			opRespondBatch, 3, 0, 0, 2, 'h', 'i', 1, 5, 0, 0xc1, 1, 0xff, 0, 2,
			opRespondBatch, 1, 0, 0, 0, 1, 0)},
		{"small_buffers", p(opOptionsNew, opServerNew, 0, opListen, 0, 0, opAddress, 0, 0, 0x21, opLastError, 0, 0x21, opClient, 0, 0, opNext, 0, 0x22, 1, opNext, 0, 0x10, 1, opNext, 0, 0x80, 1)},
	}
}

// TestBoundaryBasics pins the documented answers to misuse, one by one.
func TestBoundaryBasics(t *testing.T) {
	for _, c := range []struct {
		name string
		got  int64
		want int64
	}{
		{"free NULL server", int64(hkServerFree(0)), errInvalid},
		{"free forged server", int64(hkServerFree(12345)), errInvalid},
		{"listen NULL address", int64(hkServerListen(0, nil)), errInvalid},
		{"next on NULL", hkServerNext(0, 0, make([]byte, 64)), errInvalid},
		{"read unknown id", hkRead(1<<62, make([]byte, 4), 0), errInvalid},
		{"respond unknown id", int64(hkRespond(1<<62, []byte("200 OK"), nil, 1)), errInvalid},
		{"ws_send bad kind", int64(hkWSSend(1<<62, 77, nil)), errInvalid},
		{"options_set NULL name", int64(hkOptionsSet(hkOptionsNew(), nil, ptr("1"))), errInvalid},
		{"debug_stats NULL", int64(hkDebugStats(nil, 3)), errInvalid},
		{"debug_stats none wanted", int64(hkDebugStats(nil, 0)), 0},
		{"debug_stats two of three", int64(hkDebugStats(make([]int64, 2), 2)), 2},
		{"debug_stats more than there are", int64(hkDebugStats(make([]int64, 8), 8)), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d (%s), want %d", c.name, c.got, hkStrerror(int(c.got)), c.want)
		}
	}
	// A NULL options pointer means the defaults; such a server works and frees cleanly.
	s := hkServerNew(0)
	if s == 0 {
		t.Fatal("server_new(NULL) failed")
	}
	if rc := hkServerFree(s); rc != errOK {
		t.Fatalf("free: %d", rc)
	}
	if rc := hkServerFree(s); rc != errInvalid {
		t.Fatalf("second free: %d, want PORTICO_ERR_INVALID", rc)
	}
	if rc := hkServerNext(s, 0, make([]byte, 64)); rc != errInvalid {
		t.Fatalf("next after free: %d, want PORTICO_ERR_INVALID", rc)
	}
}

// TestWriteBoundarySeeds regenerates testdata/fuzz/FuzzBoundary (CAPI_WRITE_SEEDS=1).
func TestWriteBoundarySeeds(t *testing.T) {
	if os.Getenv("CAPI_WRITE_SEEDS") == "" {
		t.Skip("set CAPI_WRITE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzBoundary")
	os.MkdirAll(dir, 0o755)
	for _, s := range boundarySeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listening makes a server (short graceful timeout) listening on a free
// loopback port, freed by cleanup; it returns the handle and the address.
func (h *harness) listening() (uintptr, string) {
	o := hkOptionsNew()
	defer hkOptionsFree(o)
	hkOptionsSet(o, ptr("graceful_timeout_ms"), ptr("100"))
	s := hkServerNew(o)
	h.live[s] = true
	idx := hkServerListen(s, ptr("127.0.0.1:0"))
	buf := make([]byte, 128)
	n := hkServerAddress(s, idx, buf)
	if idx != 0 || n <= 0 {
		h.t.Fatalf("listen %d, address %d", idx, n)
	}
	return s, string(buf[:n])
}

// TestBoundaryStaleRequest: a finished request's id stops working at once,
// and a later request's id is new (ids are never reused).
func TestBoundaryStaleRequest(t *testing.T) {
	h := newHarness(t, nil)
	defer h.cleanup()
	s, addr := h.listening()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := make([]byte, 1<<17)
	next := func() uint64 {
		c.Write([]byte(clientRequests[0]))
		if rc := hkServerNext(s, 2000, rec); rc < 16 {
			t.Fatalf("next: %d", rc)
		}
		return binary.LittleEndian.Uint64(rec)
	}
	id := next()
	if rc := hkRespond(id, []byte("200 OK"), []byte("hi"), 1); rc != errOK {
		t.Fatalf("respond: %d", rc)
	}
	for name, rc := range map[string]int64{
		"respond again": int64(hkRespond(id, []byte("200 OK"), nil, 1)),
		"read":          hkRead(id, make([]byte, 8), 0),
		"write":         int64(hkWrite(id, []byte("x"), 1)),
		"abort":         int64(hkAbort(id, 500)),
		"ws_send":       int64(hkWSSend(id, 1, []byte("x"))),
	} {
		if rc != errInvalid {
			t.Errorf("%s on a finished request: %d, want PORTICO_ERR_INVALID", name, rc)
		}
	}
	resp := make([]byte, 256)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _ := c.Read(resp); !strings.HasPrefix(string(resp[:n]), "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("response %q", resp[:n])
	}
	if id2 := next(); id2 <= id {
		t.Fatalf("second id %d not after %d", id2, id)
	} else {
		h.ids = append(h.ids, id2)
	}
}
