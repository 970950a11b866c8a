package server

// Hostile HTTP/2 clients against a real listening server. Each attack runs
// on a raw connection while a well-behaved client on another connection
// keeps getting answers; the attacker gets the exact GOAWAY or RST_STREAM
// code of design.md section 6.

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type rawH2 struct {
	t  *testing.T
	c  net.Conn
	fr *http2.Framer
	hb bytes.Buffer
	he *hpack.Encoder
}

// dialH2 opens a prior-knowledge connection and sends the preface and an
// empty SETTINGS (plus extra settings).
func dialH2(t *testing.T, addr string, settings ...http2.Setting) *rawH2 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := &rawH2{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.fr.AllowIllegalWrites = true
	r.fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	r.fr.SetMaxReadFrameSize(1 << 24)
	r.he = hpack.NewEncoder(&r.hb)
	io.WriteString(c, http2.ClientPreface)
	r.fr.WriteSettings(settings...)
	return r
}

func (r *rawH2) block(kv ...string) []byte {
	r.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		r.he.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(r.hb.Bytes())
}

func getFields(path string) []string {
	return []string{":method", "GET", ":scheme", "http", ":authority", "x", ":path", path}
}

// goAway reads frames until GOAWAY and returns its code (the frames before
// it may be many: ACKs of a flood, answers).
func (r *rawH2) goAway() http2.ErrCode {
	r.t.Helper()
	counts := map[string]int{}
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("no GOAWAY: %v (read %v)", err, counts)
		}
		counts[f.Header().Type.String()]++
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga.ErrCode
		}
	}
}

// bystander keeps a well-behaved HTTP/2 connection busy with requests until
// stop, counting answers and failures.
type bystander struct {
	ok, failed atomic.Int64
	worst      atomic.Int64 // slowest answer, ns
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startBystander(t *testing.T, addr string) *bystander {
	b := &bystander{stop: make(chan struct{})}
	cl := h2cClient()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			select {
			case <-b.stop:
				return
			default:
			}
			start := time.Now()
			resp, err := cl.Get("http://" + addr + "/bystander")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				b.failed.Add(1)
				continue
			}
			b.ok.Add(1)
			if d := int64(time.Since(start)); d > b.worst.Load() {
				b.worst.Store(d)
			}
		}
	}()
	return b
}

// finish stops the bystander and checks it was served throughout.
func (b *bystander) finish(t *testing.T) {
	t.Helper()
	// A few more answers after the attack ended: the server is still fine.
	before := b.ok.Load()
	deadline := time.Now().Add(5 * time.Second)
	for b.ok.Load() < before+3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(b.stop)
	b.wg.Wait()
	if b.failed.Load() != 0 || b.ok.Load() < before+3 {
		t.Errorf("bystander: %d answered, %d failed", b.ok.Load(), b.failed.Load())
	}
	t.Logf("bystander: %d answers, slowest %v", b.ok.Load(), time.Duration(b.worst.Load()))
}

// hostileServer answers everything but /hold with 200 "ok" from two host
// threads.
func hostileServer(t *testing.T, mutate func(*Options)) string {
	h, addr := startServer(t, mutate)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	for i := 0; i < 2; i++ {
		go func() {
			buf := make([]byte, len(h.buf))
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := h.srv.Next(50*time.Millisecond, buf)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					continue
				}
				p := h.parse(buf[:n])
				if p.fields[1] == "/hold" {
					continue // never answered: the stream stays open for the attack
				}
				p.ex.Respond(head("200 OK"), []byte("ok"), true)
			}
		}()
	}
	return addr
}

// Rapid reset (CVE-2023-44487): streams opened and cancelled at once spend
// the reset budget (burst 1000): GOAWAY ENHANCE_YOUR_CALM.
func TestHostileRapidReset(t *testing.T) {
	addr := hostileServer(t, nil)
	b := startBystander(t, addr)
	r := dialH2(t, addr)
	go func() {
		blk := r.block(getFields("/")...)
		for id := uint32(1); id < 2*3000; id += 2 {
			if r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true}) != nil ||
				r.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	if code := r.goAway(); code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
	}
	b.finish(t)
}

// CONTINUATION flood (CVE-2024-27316): a header block that never ends.
func TestHostileContinuationFlood(t *testing.T) {
	addr := hostileServer(t, nil)
	b := startBystander(t, addr)
	r := dialH2(t, addr)
	go func() {
		blk := r.block(getFields("/")...)
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:2]})
		for i := 0; i < 10000; i++ {
			if r.fr.WriteContinuation(1, false, []byte{0x40, 1, 'a', 1, 'b'}[:1]) != nil {
				return
			}
		}
	}()
	if code := r.goAway(); code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
	}
	b.finish(t)
}

// SETTINGS and PING floods: 20,000 frames in one burst. The server reads
// them in 32 KiB gulps, thousands at a time; once more than 1000 ACKs wait
// unsent, GOAWAY ENHANCE_YOUR_CALM. (A flood that never stops ends the
// same way, but its GOAWAY may then be lost to the reset of the close.)
func TestHostileSettingsAndPingFloods(t *testing.T) {
	for _, kind := range []string{"SETTINGS", "PING"} {
		t.Run(kind, func(t *testing.T) {
			addr := hostileServer(t, nil)
			b := startBystander(t, addr)
			r := dialH2(t, addr)
			var burst bytes.Buffer
			fr := http2.NewFramer(&burst, nil)
			for i := 0; i < 20000; i++ {
				if kind == "PING" {
					fr.WritePing(false, [8]byte{byte(i)})
				} else {
					fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 50})
				}
			}
			go r.c.Write(burst.Bytes())
			if code := r.goAway(); code != http2.ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
			}
			b.finish(t)
		})
	}
}

// An HPACK bomb: one 4 KiB field in the dynamic table, referenced 200 times
// by one byte each (800 KiB decoded from 5 KiB). Over the 64 KiB header list
// limit the stream gets 431 and nothing reaches the app; the connection
// stays usable.
func TestHostileHPACKBomb(t *testing.T) {
	addr := hostileServer(t, nil)
	b := startBystander(t, addr)
	r := dialH2(t, addr)
	r.hb.Reset()
	for i := 0; i+1 < 8; i += 2 {
		r.he.WriteField(hpack.HeaderField{Name: getFields("/bomb")[i], Value: getFields("/bomb")[i+1]})
	}
	r.he.WriteField(hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)}) // indexed as 62
	blk := bytes.Clone(r.hb.Bytes())
	for i := 0; i < 200; i++ {
		blk = append(blk, 0x80|62) // indexed field 62, 1 byte
	}
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true, EndHeaders: true})
	status := r.status(1)
	if status != "431" {
		t.Errorf("bomb answered %s, want 431", status)
	}
	// The same connection serves a normal request afterwards.
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: r.block(getFields("/after")...), EndStream: true, EndHeaders: true})
	if s := r.status(3); s != "200" {
		t.Errorf("request after the bomb: %s, want 200", s)
	}
	b.finish(t)
}

// status reads frames until the response HEADERS of stream id.
func (r *rawH2) status(id uint32) string {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("stream %d: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return "RST_STREAM " + f.ErrCode.String()
			}
		case *http2.GoAwayFrame:
			r.t.Fatalf("GOAWAY %v waiting for stream %d", f.ErrCode, id)
		}
	}
}

// Empty DATA frames cost the server work and move nothing: a flood of them
// gets GOAWAY ENHANCE_YOUR_CALM.
func TestHostileEmptyDataFlood(t *testing.T) {
	addr := hostileServer(t, nil)
	b := startBystander(t, addr)
	r := dialH2(t, addr)
	post := []string{":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/hold"}
	var burst bytes.Buffer
	fr := http2.NewFramer(&burst, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block(post...), EndHeaders: true})
	for i := 0; i < 5000; i++ {
		fr.WriteData(1, false, nil)
	}
	go r.c.Write(burst.Bytes())
	if code := r.goAway(); code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
	}
	b.finish(t)
}

// A zero-window stall: the client opens no window for the response. After
// the body timeout the stream is reset with CANCEL and the app's write
// fails with ErrIO, so the app's thread is not held for ever.
func TestHostileZeroWindowStall(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.BodyTimeout = 300 * time.Millisecond })
	stop := make(chan struct{})
	defer close(stop)
	writeErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := h.srv.Next(50*time.Millisecond, h.buf)
			if err != nil {
				continue
			}
			p := h.parse(h.buf[:n])
			if p.fields[1] == "/stall" {
				go func() { writeErr <- p.ex.Respond(head("200 OK"), make([]byte, 100000), true) }()
				continue
			}
			p.ex.Respond(head("200 OK"), []byte("ok"), true)
		}
	}()
	b := startBystander(t, addr)
	r := dialH2(t, addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: r.block(getFields("/stall")...), EndStream: true, EndHeaders: true})
	if s := r.status(1); s != "200" {
		t.Fatalf("stalled stream: %s", s)
	}
	start := time.Now()
	if s := r.status(1); s != "RST_STREAM CANCEL" {
		t.Errorf("stalled stream ended with %s, want RST_STREAM CANCEL", s)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("reset after %v, want about the 300 ms body timeout", d)
	}
	select {
	case err := <-writeErr:
		if err != ErrIO {
			t.Errorf("app's write: %v, want ErrIO", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("app's write still blocked")
	}
	b.finish(t)
}

// wsAttack opens a WebSocket (with permessage-deflate when deflate), sends
// raw, and returns the close code the server answers with. The host side
// receives until the close and records what it was given.
func wsAttack(t *testing.T, deflate bool, send func(c net.Conn)) (code int, delivered []int) {
	t.Helper()
	h, addr := startServer(t, nil)
	got := make(chan []int, 1)
	go func() {
		p := h.next()
		p.ex.AcceptWebSocket("", nil)
		var sizes []int
		buf := make([]byte, 17<<20)
		for {
			n, kind, err := p.ex.WSRecv(buf, 10*time.Second)
			if err != nil || kind == WSClose {
				break
			}
			sizes = append(sizes, n)
		}
		p.ex.WSRelease()
		got <- sizes
	}()
	d := ws.Dialer{}
	if deflate {
		d.Extensions = []httphead.Option{httphead.NewOption("permessage-deflate", map[string]string{"client_no_context_takeover": ""})}
	}
	c, br, hs, err := d.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if deflate && len(hs.Extensions) == 0 {
		t.Fatal("permessage-deflate not negotiated")
	}
	var rd io.Reader = c
	if br != nil {
		rd = io.MultiReader(br, c)
	}
	go send(c)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		f, err := ws.ReadFrame(rd)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if f.Header.OpCode == ws.OpClose {
			st, _ := ws.ParseCloseFrameData(f.Payload)
			return int(st), <-got
		}
	}
}

func wsHeader(c net.Conn, op ws.OpCode, fin bool, rsv1 bool, length int64) {
	h := ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: length}
	if rsv1 {
		h.Rsv = ws.Rsv(true, false, false)
	}
	ws.WriteHeader(c, h)
}

// A frame that declares 2^63-1 bytes: over the 16 MiB message limit, so
// 1009 at once, without waiting for (or allocating) the payload. A length
// with the top bit set breaks RFC 6455 5.2 outright: 1002.
func TestHostileWebSocketHugeLength(t *testing.T) {
	code, msgs := wsAttack(t, false, func(c net.Conn) {
		c.Write([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	})
	if code != 1009 || len(msgs) != 0 {
		t.Errorf("2^63-1: close %d, %d messages delivered; want 1009, none", code, len(msgs))
	}
	code, msgs = wsAttack(t, false, func(c net.Conn) {
		c.Write([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	})
	if code != 1002 || len(msgs) != 0 {
		t.Errorf("2^63: close %d, %d messages delivered; want 1002, none", code, len(msgs))
	}
}

// Exactly 16 MiB is delivered; 16 MiB + 1 (in fragments) gets 1009.
func TestHostileWebSocketMessageLimit(t *testing.T) {
	send := func(total int) func(c net.Conn) {
		return func(c net.Conn) {
			chunk := make([]byte, 1<<20)
			for sent := 0; sent < total; {
				n := min(len(chunk), total-sent)
				op := ws.OpContinuation
				if sent == 0 {
					op = ws.OpBinary
				}
				wsHeader(c, op, sent+n == total, false, int64(n))
				if _, err := c.Write(chunk[:n]); err != nil { // zeros masked stay a pattern; fine
					return
				}
				sent += n
			}
			ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		}
	}
	code, msgs := wsAttack(t, false, send(16<<20))
	if code != 1000 || len(msgs) != 1 || msgs[0] != 16<<20 {
		t.Errorf("16 MiB: close %d, messages %v; want 1000 after one of 16777216", code, msgs)
	}
	code, msgs = wsAttack(t, false, send(16<<20+1))
	if code != 1009 || len(msgs) != 0 {
		t.Errorf("16 MiB + 1: close %d, messages %v; want 1009, none", code, msgs)
	}
}

// A compression bomb: 32 MiB of zeros deflate to about 32 KiB. Inflating
// stops at the 16 MiB limit: 1009, nothing delivered.
func TestHostileWebSocketCompressionBomb(t *testing.T) {
	var zb bytes.Buffer
	w, _ := flate.NewWriter(&zb, flate.BestCompression)
	w.Write(make([]byte, 32<<20))
	w.Flush()
	payload := bytes.TrimSuffix(zb.Bytes(), []byte{0, 0, 0xff, 0xff})
	if len(payload) > 64<<10 {
		t.Fatalf("bomb of %d bytes is no bomb", len(payload))
	}
	code, msgs := wsAttack(t, true, func(c net.Conn) {
		wsHeader(c, ws.OpBinary, true, true, int64(len(payload)))
		masked := bytes.Clone(payload)
		ws.Cipher(masked, [4]byte{1, 2, 3, 4}, 0)
		c.Write(masked)
	})
	if code != 1009 || len(msgs) != 0 {
		t.Errorf("bomb: close %d, messages %v; want 1009, none", code, msgs)
	}
}
