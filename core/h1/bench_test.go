package h1

import "testing"

// BenchmarkParseSimpleGET is one keep-alive round of a typical wrk request: parse the
// head, answer 14 bytes with End.
func BenchmarkParseSimpleGET(b *testing.B) {
	req := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n")
	resp := Response{
		Status: 200,
		Fields: []Field{f("Content-Type", "text/plain")},
		Date:   []byte("Thu, 26 Nov 2026 12:00:00 GMT"),
		Server: []byte("portico"),
		Body:   []byte("Hello, world!\n"),
		End:    true,
	}
	c := NewConn(Limits{})
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		buf := c.RecvBuffer(len(req))
		c.Commit(copy(buf, req))
		if c.Next() != RequestEvent || c.Next() != EndOfMessage || c.Next() != Paused {
			b.Fatal("unexpected event")
		}
		var err error
		if out, err = c.WriteResponse(out[:0], &resp); err != nil || !c.KeepAlive() {
			b.Fatal(err)
		}
		if c.Next() != NeedData {
			b.Fatal("not waiting")
		}
	}
}
