package server

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// An app that answers before reading the request body (RFC 9113 8.1 allows it):
// whatever the timing, the rest of the request is still checked, so a malformed
// trailer after the answer gets RST_STREAM PROTOCOL_ERROR (before: the answer
// came with RST_STREAM NO_ERROR and the trailer was ignored, which made h2spec's
// 8.1 cases depend on who was faster), and a well-formed rest ends the stream
// with no reset at all.
func TestH2EarlyAnswerStillChecksTheRequest(t *testing.T) {
	h, addr := startServer(t, nil)
	r := dialH2(t, addr)
	r.fr.WriteSettingsAck()
	part := bytes.Repeat([]byte("p"), 16384)
	open := func(id uint32) {
		t.Helper()
		// More than a prefetch or request buffer holds, so the app gets the
		// request while its body is still coming.
		blk := r.block(":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/early",
			"content-length", "100000")
		if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			r.fr.WriteData(id, false, part)
		}
		p := h.next()
		if err := p.ex.Respond(head("200 OK"), []byte("early"), true); err != nil {
			t.Fatal(err)
		}
		// The whole answer arrives, and no reset with it.
		for {
			f, err := r.fr.ReadFrame()
			if err != nil {
				t.Fatalf("stream %d: no answer: %v", id, err)
			}
			if f.Header().StreamID != id {
				continue
			}
			if rst, ok := f.(*http2.RSTStreamFrame); ok {
				t.Fatalf("stream %d: RST_STREAM %v with the early answer", id, rst.ErrCode)
			}
			if f.Header().Flags.Has(http2.FlagDataEndStream) {
				return
			}
		}
	}
	// until reads frames up to the PING ack of the fence, returning the
	// RST_STREAM code seen for id (-1: none).
	until := func(id uint32, fence byte) int {
		t.Helper()
		r.fr.WritePing(false, [8]byte{fence})
		code := -1
		for {
			f, err := r.fr.ReadFrame()
			if err != nil {
				t.Fatalf("stream %d: %v", id, err)
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				if f.StreamID == id {
					code = int(f.ErrCode)
				}
			case *http2.GoAwayFrame:
				t.Fatalf("stream %d: GOAWAY %v", id, f.ErrCode)
			case *http2.PingFrame:
				if f.IsAck() && f.Data[0] == fence {
					return code
				}
			}
		}
	}

	open(1)
	blk := r.block("x-trailer", "1")
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true}) // no END_STREAM
	if code := until(1, 1); code != int(http2.ErrCodeProtocol) {
		t.Errorf("trailers without END_STREAM after an early answer: RST_STREAM %d, want PROTOCOL_ERROR", code)
	}

	open(3)
	r.fr.WriteData(3, false, part)
	r.fr.WriteData(3, true, make([]byte, 100000-6*16384+1)) // one byte over content-length
	if code := until(3, 3); code != int(http2.ErrCodeProtocol) {
		t.Errorf("body over content-length after an early answer: RST_STREAM %d, want PROTOCOL_ERROR", code)
	}

	open(5)
	r.fr.WriteData(5, false, part)
	r.fr.WriteData(5, true, make([]byte, 100000-6*16384))
	if code := until(5, 5); code != -1 {
		t.Errorf("well-formed rest after an early answer: RST_STREAM %d, want none", code)
	}

	// The connection still serves.
	r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: r.block(getFields("/after")...), EndStream: true, EndHeaders: true})
	p := h.next()
	if p.fields[1] != "/after" {
		t.Fatalf("next request: %q", p.fields)
	}
	p.ex.Respond(head("200 OK"), nil, true)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if hf, ok := f.(*http2.MetaHeadersFrame); ok && hf.StreamID == 7 {
			return
		}
	}
	t.Fatal("no answer on stream 7")
}
