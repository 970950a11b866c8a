package conn

import (
	"bytes"
	"testing"
	"time"

	"github.com/gobwas/ws"

	corews "github.com/portico-http/portico/core/ws"
)

// A container whose socket stopped taking bytes (it calls Send no more)
// while the client keeps sending pings: the pongs stop at WSMaxQueued, the
// session ends with 1008 and its output is let go. One that drains Send
// is never dropped, however much goes out.
func TestWSOutputForNonReaderBounded(t *testing.T) {
	var b bytes.Buffer
	ws.WriteFrame(&b, ws.MaskFrame(ws.NewPingFrame(bytes.Repeat([]byte{'p'}, 125))))
	pings := bytes.Repeat(b.Bytes(), 100)
	upgrade := []byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	const limit = 64 << 10
	for _, draining := range []bool{false, true} {
		c := New(Config{WSMaxQueued: limit})
		c.Recv(upgrade, time.Now())
		ev := c.Next()
		if ev.Kind != Request || !ev.Req.WebSocket {
			t.Fatalf("got %v", ev.Kind)
		}
		if err := c.WSAccept(ev.Stream, "", nil); err != nil {
			t.Fatal(err)
		}
		drain(c)
		var closed *Event
		for i := 0; i < 100 && closed == nil; i++ { // 10,000 pings: 1.2 MiB of pongs
			c.Recv(pings, time.Now())
			for ev := c.Next(); ev.Kind != NeedData; ev = c.Next() {
				if ev.Kind == WSClose {
					e := *ev
					closed = &e
					break
				}
			}
			if draining {
				drain(c)
			}
		}
		if draining {
			if closed != nil {
				t.Fatalf("a reading client was dropped: %d %q", closed.Code, closed.Data)
			}
			continue
		}
		if closed == nil || closed.Code != corews.ClosePolicyViolation || string(closed.Data) != corews.QueueFullReason {
			t.Fatalf("no 1008 for a client that reads nothing: %+v", closed)
		}
		if ev := c.Next(); ev.Kind != Closed {
			t.Fatalf("after the close: %v", ev.Kind)
		}
		if c.WantWrite() || c.WantRead() {
			t.Fatalf("after the drop: write %v read %v", c.WantWrite(), c.WantRead())
		}
	}
}
