package ws

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// Frame headers are parsed here rather than with ws.ReadHeader: ReadHeader
// consumes bytes from its reader even when the header is incomplete, and a
// sans-I/O endpoint must leave a partial header in its buffer untouched. The
// format (RFC 6455 5.2) is small enough that a direct parse is both simpler and
// faster than "check completeness, then wrap in a bytes.Reader". Masking uses
// ws.Cipher (word-at-a-time assembly on amd64/arm64).

type frameHeader struct {
	fin    bool
	rsv    byte // the three RSV bits in place (0x70 mask of byte 0)
	op     Opcode
	masked bool
	length int64
	mask   [4]byte
}

const (
	rsv1Bit = 0x40
	rsvBits = 0x70
	// maxHeaderSize: 2 + 8 extended length + 4 mask.
	maxHeaderSize = 14
)

// headerSize returns the size of the header at the start of b, or 0 if b is
// too short to tell. It only needs the first two bytes.
func headerSize(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// parseHeader parses the header at the start of b. It returns the header size,
// 0 when b holds only part of a header, or -1 for a 64-bit length with the most
// significant bit set (RFC 6455 5.2: it MUST be 0).
func parseHeader(b []byte, h *frameHeader) int {
	n := headerSize(b)
	if n == 0 || len(b) < n {
		return 0
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & rsvBits
	h.op = Opcode(b[0] & 0x0f)
	h.masked = b[1]&0x80 != 0
	p := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		p = 4
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return -1
		}
		h.length = int64(u)
		p = 10
	default:
		h.length = int64(l)
	}
	if h.masked {
		copy(h.mask[:], b[p:p+4])
	} else {
		h.mask = [4]byte{}
	}
	return n
}

// appendHeader appends an unmasked (server to client) frame header.
func appendHeader(dst []byte, fin bool, rsv byte, op Opcode, n int) []byte {
	b0 := rsv | byte(op)
	if fin {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		return append(dst, b0, 127, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}

// appendFrame appends a whole unmasked frame.
func appendFrame(dst []byte, fin bool, rsv byte, op Opcode, p []byte) []byte {
	return append(appendHeader(dst, fin, rsv, op, len(p)), p...)
}

func unmask(p []byte, mask [4]byte, off int) {
	if len(p) != 0 {
		ws.Cipher(p, mask, off)
	}
}
