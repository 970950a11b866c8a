package conn

import (
	"testing"
	"time"
)

// FuzzConn feeds arbitrary bytes, in arbitrary pieces, to a Conn answered by
// the test app: no panic, every Next loop ends, Closed comes at most once and
// a finished connection stays finished.
func FuzzConn(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), uint8(5), false)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"+
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"), uint8(17), false)
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x82\x00\x00\x00\x00hi\x88\x82\x00\x00\x00\x00\x03\xe8"), uint8(3), false)
	h2 := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	f.Add([]byte(h2+string(hpackFrame(1, 0x4, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "http",
		":path", "/ws", ":authority", "a", "sec-websocket-version", "13"))+"\x00\x00\x08\x00\x00\x00\x00\x00\x01\x81\x82\x00\x00\x00\x00hi"), uint8(9), true)
	f.Add([]byte(h2+string(hpackFrame(1, 0x5, ":method", "GET", ":scheme", "http", ":path", "/push", ":authority", "a"))), uint8(0), true)
	f.Fuzz(func(t *testing.T, data []byte, piece uint8, tls bool) {
		cfg := Config{MaxHeadSize: 4096, MaxBodySize: 1 << 16, WSMaxMessage: 1 << 16}
		if tls {
			cfg.TLS, cfg.ALPN = true, "h2"
		}
		c := New(cfg)
		a := &app{c: c, echo: map[uint32][]byte{}, pending: map[uint32][]byte{}, lenient: true}
		now := time.Unix(1e9, 0)
		closed := 0
		step := int(piece)%64 + 1
		out := make([]byte, 4096)
		run := func() {
			for i := 0; ; i++ {
				if i > 100000 {
					t.Fatal("Next never says NeedData")
				}
				ev := c.Next()
				if ev.Kind == Closed {
					closed++
				}
				if ev.Kind == NeedData {
					break
				}
				a.stepEvent(ev)
			}
			for c.WantWrite() {
				c.Send(out)
			}
		}
		for len(data) > 0 {
			n := min(step, len(data))
			c.Recv(data[:n], now)
			data = data[n:]
			now = now.Add(time.Millisecond)
			run()
		}
		c.Recv(nil, now)
		run()
		if closed > 1 {
			t.Fatalf("Closed reported %d times", closed)
		}
		if closed == 1 && c.WantRead() {
			t.Fatal("reading after Closed")
		}
	})
}
