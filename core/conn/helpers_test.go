package conn

import (
	"bytes"

	"golang.org/x/net/http2/hpack"
)

func hpackBlock(kv ...string) []byte {
	var b bytes.Buffer
	e := hpack.NewEncoder(&b)
	for i := 0; i < len(kv); i += 2 {
		e.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return b.Bytes()
}

// hpackFrame is a whole HEADERS frame (END_HEADERS set in flags by the caller).
func hpackFrame(id uint32, flags byte, kv ...string) []byte {
	b := hpackBlock(kv...)
	n := len(b)
	return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), 0x1, flags,
		byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, b...)
}
