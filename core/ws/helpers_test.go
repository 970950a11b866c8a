package ws

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gobwas/ws"
)

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// cf builds a client frame with gobwas/ws's header writer and its cipher.
func cf(fin bool, rsv byte, op Opcode, p []byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, Rsv: rsv >> 4, OpCode: op, Masked: true, Mask: testMask, Length: int64(len(p))}
	if err := ws.WriteHeader(&b, h); err != nil {
		panic(err)
	}
	q := append([]byte(nil), p...)
	ws.Cipher(q, testMask, 0)
	return append(b.Bytes(), q...)
}

func text(s string) []byte           { return cf(true, 0, OpText, []byte(s)) }
func bin(p []byte) []byte            { return cf(true, 0, OpBinary, p) }
func ping(p []byte) []byte           { return cf(true, 0, OpPing, p) }
func pong(p []byte) []byte           { return cf(true, 0, OpPong, p) }
func cont(fin bool, s string) []byte { return cf(fin, 0, OpContinuation, []byte(s)) }
func closeFrame(code int, reason string) []byte {
	if code == 0 {
		return cf(true, 0, OpClose, nil)
	}
	p := []byte{byte(code >> 8), byte(code)}
	return cf(true, 0, OpClose, append(p, reason...))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// deflateMsg compresses p the way a client does (RFC 7692 7.2.1), without context.
func deflateMsg(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), deflateTail)
}

func inflateMsg(t testing.TB, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(bytes.NewReader(append(append([]byte(nil), p...), deflateTail...)))
	var out bytes.Buffer
	_, err := out.ReadFrom(r)
	if err != nil && err.Error() != "unexpected EOF" {
		t.Fatalf("inflate server frame: %v", err)
	}
	return out.Bytes()
}

// outFrame is one frame the server sent, as a client sees it.
type outFrame struct {
	fin  bool
	rsv  byte
	op   Opcode
	data []byte
}

func (f outFrame) String() string {
	if f.op == OpClose {
		c, r := closeOf(f.data)
		return fmt.Sprintf("close(%d %q)", c, r)
	}
	d := f.data
	s := fmt.Sprintf("%x", d)
	if len(d) > 16 {
		s = fmt.Sprintf("%x...(%d)", d[:16], len(d))
	}
	return fmt.Sprintf("op%d fin=%v rsv=%x %s", f.op, f.fin, f.rsv, s)
}

func closeOf(p []byte) (int, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:])
}

// parseOut splits server output into frames; it fails on masked or truncated frames.
func parseOut(t testing.TB, b []byte) []outFrame {
	t.Helper()
	var fs []outFrame
	for len(b) > 0 {
		var h frameHeader
		n := parseHeader(b, &h)
		if n <= 0 || int64(len(b)-n) < h.length {
			t.Fatalf("truncated server output")
		}
		if h.masked {
			t.Fatalf("server frame is masked")
		}
		fs = append(fs, outFrame{h.fin, h.rsv, h.op, append([]byte(nil), b[n:n+int(h.length)]...)})
		b = b[n+int(h.length):]
	}
	return fs
}

type evRec struct {
	ev      Event
	op      Opcode
	payload []byte
	code    int
	reason  string
}

func (r evRec) String() string {
	switch r.ev {
	case MessageEvent:
		return fmt.Sprintf("Message(op%d %d bytes)", r.op, len(r.payload))
	case PingEvent, PongEvent:
		return fmt.Sprintf("%v(%x)", r.ev, r.payload)
	case CloseEvent, ErrorEvent, ClosedEvent:
		return fmt.Sprintf("%v(%d %q)", r.ev, r.code, r.reason)
	}
	return r.ev.String()
}

// drive feeds in (in pieces of chunk bytes; 0 = all at once), pulls events and,
// like Autobahn's echo server, sends every message back. It returns the events
// and every byte the endpoint wrote.
func drive(t testing.TB, e *Endpoint, in []byte, chunk int) ([]evRec, []byte) {
	var evs []evRec
	var out []byte
	step := func() bool {
		for {
			ev := e.Next()
			switch ev {
			case NeedData:
				return true
			case MessageEvent:
				op, p := e.Message()
				evs = append(evs, evRec{ev: ev, op: op, payload: append([]byte{}, p...)})
				var err error
				if op == OpText {
					err = e.SendText(p)
				} else {
					err = e.SendBinary(p)
				}
				if err != nil && e.State() == Open {
					t.Fatalf("echo: %v", err)
				}
			case PingEvent, PongEvent:
				evs = append(evs, evRec{ev: ev, payload: append([]byte{}, e.Payload()...)})
			default:
				evs = append(evs, evRec{ev: ev, code: e.CloseCode(), reason: e.CloseReason()})
				if ev == ErrorEvent {
					e.FinishFailure() // every message before it was answered
				}
			}
			out = e.Output(out)
			if ev == ErrorEvent || ev == ClosedEvent {
				return false
			}
		}
	}
	if chunk <= 0 {
		chunk = len(in)
	}
	for len(in) > 0 {
		n := min(chunk, len(in))
		e.Recv(in[:n])
		in = in[n:]
		if !step() {
			break
		}
	}
	if len(in) == 0 {
		step()
	}
	return evs, e.Output(out)
}
