package main

import (
	"bytes"
	"strings"
	"testing"
)

// serverFrame is an unmasked frame as a server sends it.
func serverFrame(op byte, payload []byte) []byte {
	f := clientFrame(op, payload, [4]byte{})
	// Drop the MASK bit and the (zero) key.
	hl := headerLen(f[1])
	f[1] &^= 0x80
	return append(f[:hl], f[hl+4:]...)
}

type sink struct {
	echoes int
	ctrl   []string
}

func (s *sink) echoDone() error { s.echoes++; return nil }
func (s *sink) control(op byte, p []byte) error {
	s.ctrl = append(s.ctrl, string(rune('0'+op))+string(p))
	return nil
}

func TestReaderPieces(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 200, 65535, 65536, 70000} {
		msg := []byte(strings.Repeat("x", size))
		stream := append(serverFrame(opText, msg), serverFrame(opPing, []byte("hi"))...)
		stream = append(stream, serverFrame(opText, msg)...)
		for _, step := range []int{1, 3, 7, len(stream)} {
			r, s := reader{want: msg}, &sink{}
			for b := stream; len(b) > 0; {
				n := min(step, len(b))
				if err := r.feed(b[:n], s); err != nil {
					t.Fatalf("size %d step %d: %v", size, step, err)
				}
				b = b[n:]
			}
			if s.echoes != 2 || len(s.ctrl) != 1 || s.ctrl[0] != "9hi" {
				t.Fatalf("size %d step %d: %d echoes, ctrl %q", size, step, s.echoes, s.ctrl)
			}
		}
	}
}

func TestReaderWrongEcho(t *testing.T) {
	msg := []byte("xxxx")
	for _, f := range [][]byte{
		serverFrame(opText, []byte("xxx")),
		serverFrame(opText, []byte("xxxy")),
		serverFrame(0x2, msg),
		clientFrame(opText, msg, [4]byte{1, 2, 3, 4}),
	} {
		r := reader{want: msg}
		if err := r.feed(f, &sink{}); err == nil {
			t.Errorf("% x: no error", f)
		}
	}
}

func TestClientFrameMask(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	f := clientFrame(opText, bytes.Repeat([]byte("x"), 300), key)
	if f[0] != 0x81 || f[1] != 0x80|126 || f[2] != 1 || f[3] != 44 || !bytes.Equal(f[4:8], key[:]) {
		t.Fatalf("header % x", f[:8])
	}
	for i, b := range f[8:] {
		if b^key[i&3] != 'x' {
			t.Fatalf("byte %d", i)
		}
	}
}
