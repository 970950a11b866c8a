package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// clientFrame builds one masked client frame: FIN, the opcode, the MASK bit,
// the 7-, 16- or 64-bit payload length, the key and the masked payload.
func clientFrame(op byte, payload []byte, key [4]byte) []byte {
	n := len(payload)
	f := make([]byte, 0, 14+n)
	f = append(f, 0x80|op)
	switch {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i&3])
	}
	return f
}

// frameSink receives what the reader finds in the server's byte stream.
type frameSink interface {
	// echoDone is called once a whole text frame equal to want arrived.
	echoDone() error
	// control is called with a whole control frame (ping, pong, close).
	control(op byte, payload []byte) error
}

// reader parses server frames incrementally: header and payload may arrive
// in pieces, and one chunk may hold several frames. Text payloads are not
// copied; they are compared against want as they arrive.
type reader struct {
	want []byte // the payload every text frame must carry

	hdr  [10]byte // the header of the frame being read, so far
	hlen int      // bytes in hdr
	op   byte     // opcode of the frame whose payload is being read
	left uint64   // payload bytes still to come; inPayload tells if in use
	got  int      // text payload bytes matched so far
	ctrl []byte   // control payload so far (at most 125 bytes)

	inPayload bool
}

var errUnmaskedOnly = errors.New("server sent a masked frame")

// feed consumes b entirely, calling sink for each complete frame.
func (r *reader) feed(b []byte, sink frameSink) error {
	for len(b) > 0 {
		if !r.inPayload {
			n, err := r.readHeader(b)
			if err != nil {
				return err
			}
			b = b[n:]
			if !r.inPayload || r.left > 0 {
				continue
			}
		} else {
			n := int(min(r.left, uint64(len(b))))
			if err := r.payload(b[:n]); err != nil {
				return err
			}
			b = b[n:]
			r.left -= uint64(n)
			if r.left > 0 {
				continue
			}
		}
		if err := r.frameDone(sink); err != nil {
			return err
		}
	}
	return nil
}

// readHeader takes header bytes from b into r.hdr and returns how many it
// took; once the header is whole it checks it and starts the payload.
func (r *reader) readHeader(b []byte) (int, error) {
	need := 2
	if r.hlen >= 2 {
		need = headerLen(r.hdr[1])
	}
	took := 0
	for r.hlen < need && took < len(b) {
		r.hdr[r.hlen] = b[took]
		r.hlen++
		took++
		if r.hlen == 2 {
			need = headerLen(r.hdr[1])
		}
	}
	if r.hlen < need {
		return took, nil
	}
	return took, r.startPayload()
}

// headerLen is the length of a server (unmasked) frame header given its
// second byte.
func headerLen(b1 byte) int {
	switch b1 & 0x7F {
	case 126:
		return 4
	case 127:
		return 10
	}
	return 2
}

func (r *reader) startPayload() error {
	b0, b1 := r.hdr[0], r.hdr[1]
	if b1&0x80 != 0 {
		return errUnmaskedOnly
	}
	if b0&0x70 != 0 {
		return fmt.Errorf("server frame with RSV bits %#x (no extension was negotiated)", b0&0x70)
	}
	op := b0 & 0x0F
	n := uint64(b1 & 0x7F)
	switch n {
	case 126:
		n = uint64(binary.BigEndian.Uint16(r.hdr[2:4]))
	case 127:
		n = binary.BigEndian.Uint64(r.hdr[2:10])
	}
	fin := b0&0x80 != 0
	switch {
	case op >= opClose:
		if !fin || n > 125 {
			return fmt.Errorf("bad control frame (opcode %#x, %d bytes, fin %v)", op, n, fin)
		}
	case op != opText:
		return fmt.Errorf("echo with opcode %#x, sent text", op)
	case !fin:
		return errors.New("fragmented echo (not supported)")
	case n != uint64(len(r.want)):
		return fmt.Errorf("echo of %d bytes, sent %d", n, len(r.want))
	}
	r.op, r.left, r.got, r.ctrl = op, n, 0, r.ctrl[:0]
	r.hlen, r.inPayload = 0, true
	return nil
}

// payload checks or keeps a piece of the current frame's payload.
func (r *reader) payload(p []byte) error {
	if r.op >= opClose {
		r.ctrl = append(r.ctrl, p...)
		return nil
	}
	if string(p) != string(r.want[r.got:r.got+len(p)]) {
		return fmt.Errorf("echo differs from the message sent (in bytes %d-%d)", r.got, r.got+len(p))
	}
	r.got += len(p)
	return nil
}

func (r *reader) frameDone(sink frameSink) error {
	r.inPayload = false
	if r.op == opText {
		return sink.echoDone()
	}
	return sink.control(r.op, r.ctrl)
}
