package h2

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// benchConn returns a Conn past the preface, with the connection send window at its
// maximum, and the steady-state HEADERS frame of a browser-like GET whose fields are
// all in the HPACK dynamic table already (as with h2load or a browser after its first
// request). The stream id is patched per request.
func benchConn(b *testing.B, endStream bool, kv ...string) (*Conn, []byte) {
	c := NewServerConn(Limits{})
	var in bytes.Buffer
	fr := http2.NewFramer(&in, nil)
	in.WriteString(clientPreface)
	fr.WriteSettings()
	fr.WriteSettingsAck()
	fr.WriteWindowUpdate(0, 1<<31-1-65535)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := 0; i+1 < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	now := time.Now()
	c.Recv(in.Bytes(), now)
	for ev := c.Next(); ev != NeedData; ev = c.Next() {
		if ev == RequestEvent {
			c.Respond(1, 200, nil, true)
		}
	}
	c.Output(nil)
	hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	var frame bytes.Buffer
	http2.NewFramer(&frame, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndStream: endStream, EndHeaders: true})
	return c, frame.Bytes()
}

var benchFields = []string{":method", "GET", ":scheme", "http", ":authority", "127.0.0.1:8000", ":path", "/",
	"user-agent", "h2load nghttp2/1.52.0", "accept", "*/*", "accept-encoding", "gzip, deflate"}

// BenchmarkSimpleGET: HEADERS in -> RequestEvent -> Respond + SendData out.
func BenchmarkSimpleGET(b *testing.B) {
	c, frame := benchConn(b, true, benchFields...)
	fields := []Field{{Name: []byte("content-type"), Value: []byte("text/plain")}}
	body := []byte("Hello, world!\n")
	out := make([]byte, 0, 4096)
	now := time.Now()
	id := uint32(3)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		binary.BigEndian.PutUint32(frame[5:], id)
		c.Recv(frame, now)
		if c.Next() != RequestEvent {
			b.Fatal("no request")
		}
		r := c.Request()
		if err := c.Respond(r.StreamID, 200, fields, false); err != nil {
			b.Fatal(err)
		}
		if n, err := c.SendData(r.StreamID, body, true); n != len(body) || err != nil {
			b.Fatal(n, err)
		}
		if c.Next() != NeedData {
			b.Fatal("not waiting")
		}
		out = c.Output(out[:0])
		id += 2
	}
}

// BenchmarkPOST16K: HEADERS + one 16 KiB DATA in, consumed, 204 out.
func BenchmarkPOST16K(b *testing.B) {
	c, hdr := benchConn(b, false, append(benchFields[:0:0], ":method", "POST", ":scheme", "http", ":authority", "127.0.0.1:8000", ":path", "/upload")...)
	var df bytes.Buffer
	http2.NewFramer(&df, nil).WriteData(3, true, make([]byte, 16384))
	in := append(append([]byte(nil), hdr...), df.Bytes()...)
	out := make([]byte, 0, 4096)
	now := time.Now()
	id := uint32(3)
	b.ReportAllocs()
	b.SetBytes(16384)
	for b.Loop() {
		binary.BigEndian.PutUint32(in[5:], id)
		binary.BigEndian.PutUint32(in[len(hdr)+5:], id)
		c.Recv(in, now)
		got := 0
		for ev := c.Next(); ev != NeedData; ev = c.Next() {
			switch ev {
			case DataEvent:
				got += len(c.Data())
				c.Consumed(c.StreamID(), len(c.Data()))
			case EndStreamEvent:
				c.Respond(c.StreamID(), 204, nil, true)
			case RequestEvent:
			default:
				b.Fatal(ev)
			}
		}
		if got != 16384 {
			b.Fatalf("body %d", got)
		}
		out = c.Output(out[:0])
		id += 2
	}
}
