package h2

import (
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// encoder is our HPACK encoder for responses, trailers and push promises. It uses
// the static table and literals "without indexing" only: that needs no dynamic
// table state, fits any SETTINGS_HEADER_TABLE_SIZE the peer sets (RFC 7541 allows an
// encoder to use less than permitted), and costs no allocation (hpack.Encoder takes
// strings and keeps them in its table). Huffman coding comes from x/net's hpack.
type encoder struct {
	tableSize     uint32 // the maximum size we last signalled (our table stays empty)
	pendingUpdate bool
	buf           []byte
}

// setPeerLimit follows the peer's SETTINGS_HEADER_TABLE_SIZE: a limit below the
// size in force must be acknowledged by a size update at the start of the next block.
func (e *encoder) setPeerLimit(v uint32) {
	if v < e.tableSize {
		e.tableSize = v
		e.pendingUpdate = true
	}
}

func (e *encoder) begin() {
	e.buf = e.buf[:0]
	if e.pendingUpdate {
		// Cleared by writeEncoded once the block is really sent.
		e.buf = appendVarInt(e.buf, 0x20, 5, uint64(e.tableSize))
	}
}

func appendVarInt(dst []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// bstr views b as a string for the duration of a call that does not keep it
// (x/net's Huffman helpers take strings).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (e *encoder) appendString(s string) {
	if h := hpack.HuffmanEncodeLength(s); h < uint64(len(s)) {
		e.buf = appendVarInt(e.buf, 0x80, 7, h)
		e.buf = hpack.AppendHuffmanString(e.buf, s)
		return
	}
	e.buf = appendVarInt(e.buf, 0, 7, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) status(code int) {
	switch code {
	case 200:
		e.buf = append(e.buf, 0x80|8)
	case 204:
		e.buf = append(e.buf, 0x80|9)
	case 206:
		e.buf = append(e.buf, 0x80|10)
	case 304:
		e.buf = append(e.buf, 0x80|11)
	case 400:
		e.buf = append(e.buf, 0x80|12)
	case 404:
		e.buf = append(e.buf, 0x80|13)
	case 500:
		e.buf = append(e.buf, 0x80|14)
	default:
		// Literal without indexing, name = static index 8 (:status).
		e.buf = append(e.buf, 0x08, 3, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10))
	}
}

// field encodes a literal without indexing; the name must already be lowercase.
func (e *encoder) field(name, value string) {
	if i := staticNameIndex(name); i > 0 {
		e.buf = appendVarInt(e.buf, 0, 4, uint64(i))
	} else {
		e.buf = append(e.buf, 0)
		e.appendString(name)
	}
	e.appendString(value)
}

// pseudo encodes a request pseudo-header of a PUSH_PROMISE.
func (e *encoder) pseudo(name, value string) {
	switch {
	case name == ":method" && value == "GET":
		e.buf = append(e.buf, 0x80|2)
	case name == ":scheme" && value == "http":
		e.buf = append(e.buf, 0x80|6)
	case name == ":scheme" && value == "https":
		e.buf = append(e.buf, 0x80|7)
	case name == ":path" && value == "/":
		e.buf = append(e.buf, 0x80|4)
	default:
		e.field(name, value)
	}
}

// staticNameIndex returns the RFC 7541 static table index of a name, 0 if none.
func staticNameIndex(name string) int {
	switch name {
	case ":authority":
		return 1
	case ":method":
		return 2
	case ":path":
		return 4
	case ":scheme":
		return 6
	case ":status":
		return 8
	case "accept-charset":
		return 15
	case "accept-encoding":
		return 16
	case "accept-language":
		return 17
	case "accept-ranges":
		return 18
	case "accept":
		return 19
	case "access-control-allow-origin":
		return 20
	case "age":
		return 21
	case "allow":
		return 22
	case "authorization":
		return 23
	case "cache-control":
		return 24
	case "content-disposition":
		return 25
	case "content-encoding":
		return 26
	case "content-language":
		return 27
	case "content-length":
		return 28
	case "content-location":
		return 29
	case "content-range":
		return 30
	case "content-type":
		return 31
	case "cookie":
		return 32
	case "date":
		return 33
	case "etag":
		return 34
	case "expect":
		return 35
	case "expires":
		return 36
	case "from":
		return 37
	case "host":
		return 38
	case "if-match":
		return 39
	case "if-modified-since":
		return 40
	case "if-none-match":
		return 41
	case "if-range":
		return 42
	case "if-unmodified-since":
		return 43
	case "last-modified":
		return 44
	case "link":
		return 45
	case "location":
		return 46
	case "max-forwards":
		return 47
	case "proxy-authenticate":
		return 48
	case "proxy-authorization":
		return 49
	case "range":
		return 50
	case "referer":
		return 51
	case "refresh":
		return 52
	case "retry-after":
		return 53
	case "server":
		return 54
	case "set-cookie":
		return 55
	case "strict-transport-security":
		return 56
	case "transfer-encoding":
		return 57
	case "user-agent":
		return 58
	case "vary":
		return 59
	case "via":
		return 60
	case "www-authenticate":
		return 61
	}
	return 0
}
