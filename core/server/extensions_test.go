package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestH1EarlyHintsAndTrailers(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r\n")
	p := h.next()
	if p.flags&reqTrailers == 0 {
		t.Fatal("TE: trailers not flagged")
	}
	p.readAll(t)
	buf := make([]byte, 64)
	n, err := p.ex.Trailers(buf)
	if err != nil || string(buf[:n]) != "X-Checksum\x0042" {
		t.Fatalf("request trailers %q %v", buf[:n], err)
	}
	if err := p.ex.EarlyHints([]byte("Link\x00</s.css>; rel=preload")); err != nil {
		t.Fatal(err)
	}
	if err := p.ex.SetTrailers([]byte("X-Done\x00yes")); err != nil {
		t.Fatal(err)
	}
	p.ex.Respond(head("200 OK"), []byte("body"), true)
	line, _ := r.ReadString('\n')
	if line != "HTTP/1.1 103 Early Hints\r\n" {
		t.Fatalf("first line %q", line)
	}
	for l, _ := r.ReadString('\n'); l != "\r\n"; l, _ = r.ReadString('\n') {
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "body" || resp.Trailer.Get("X-Done") != "yes" {
		t.Errorf("body %q trailer %v", b, resp.Trailer)
	}
}

func TestH1NoTrailersWithoutTE(t *testing.T) {
	h, addr := startServer(t, nil)
	c, _ := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if err := p.ex.SetTrailers([]byte("X\x00y")); err != ErrState {
		t.Errorf("SetTrailers without TE: %v", err)
	}
	if err := p.ex.Push([]byte("/x")); err != ErrState {
		t.Errorf("push over HTTP/1.1: %v", err)
	}
	p.ex.Abort(204)
}

func TestH2PushAndTrailers(t *testing.T) {
	h, addr := startServer(t, nil)
	go func() {
		p := h.next()
		if p.flags&reqPush == 0 {
			t.Error("push not flagged on HTTP/2")
		}
		if err := p.ex.Push([]byte("/style.css\x00accept\x00text/css")); err != nil {
			t.Error(err)
		}
		p.ex.SetTrailers([]byte("x-trailer\x00yes"))
		p.ex.Respond(head("200 OK"), []byte("page"), true)
		q := h.next()
		if q.flags&reqPushed == 0 || q.fields[1] != "/style.css" {
			t.Errorf("pushed request %q flags %d", q.fields[:4], q.flags)
		}
		q.ex.Respond(head("200 OK", "content-type", "text/css"), []byte("css"), true)
	}()
	c, r := dial(t, addr)
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, bufio.NewReader(r))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "x"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	promised, trailer, pushedBody := uint32(0), "", ""
	deadline := time.Now().Add(5 * time.Second)
	for (promised == 0 || trailer == "" || pushedBody == "") && time.Now().Before(deadline) {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.PushPromiseFrame:
			promised = f.PromiseID
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				trailer = f.Fields[0].Name + ": " + f.Fields[0].Value
			}
		case *http2.DataFrame:
			if f.StreamID == promised {
				pushedBody += string(f.Data())
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		}
	}
	if promised != 2 || trailer != "x-trailer: yes" || !strings.HasPrefix(pushedBody, "css") {
		t.Errorf("promised %d, trailer %q, pushed body %q", promised, trailer, pushedBody)
	}
}

func TestTrailersRefuseBadAndFramingFields(t *testing.T) {
	h, addr := startServer(t, nil)
	c, _ := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
	p := h.next()
	for _, bad := range []string{"Bad Name\x00x", ":status\x00200", "Content-Length\x005", "transfer-encoding\x00chunked", "X-Ok\x00a\rb"} {
		if err := p.ex.SetTrailers([]byte(bad)); err != ErrHeader {
			t.Errorf("SetTrailers(%q) = %v, want ErrHeader", bad, err)
		}
	}
	if err := p.ex.SetTrailers([]byte("X-Checksum\x00abc")); err != nil {
		t.Error(err)
	}
	p.ex.Abort(204)
}
