package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// WebSocket over HTTP/2 (RFC 8441): extended CONNECT, 200, then frames in DATA.
func TestWebSocketOverH2(t *testing.T) {
	h, addr := startServer(t, nil)
	done := make(chan error, 1)
	go func() {
		p := h.next()
		if p.flags&reqWebSocket == 0 || p.fields[0] != "GET" {
			t.Errorf("record %q flags %d", p.fields[:4], p.flags)
		}
		if err := p.ex.AcceptWebSocket("chat", nil); err != nil {
			done <- err
			return
		}
		buf := make([]byte, 1024)
		n, kind, err := p.ex.WSRecv(buf, 5*time.Second)
		if err == nil {
			err = p.ex.WSSend(kind, append([]byte("echo: "), buf[:n]...))
		}
		if err == nil {
			_, kind, err = p.ex.WSRecv(buf, 5*time.Second)
			if kind != WSClose {
				t.Errorf("kind %d, want close", kind)
			}
		}
		if err == nil {
			err = p.ex.WSRelease()
		}
		done <- err
	}()

	c, r := dial(t, addr)
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, r)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "http"},
		{":path", "/chat"}, {":authority", "x"}, {"sec-websocket-version", "13"}, {"sec-websocket-protocol", "chat"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	// Wait for the server's SETTINGS: it must advertise ENABLE_CONNECT_PROTOCOL.
	advertised := false
	for !advertised {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			v, ok := sf.Value(0x8)
			if !ok || v != 1 {
				t.Fatal("SETTINGS_ENABLE_CONNECT_PROTOCOL not advertised")
			}
			fr.WriteSettingsAck()
			advertised = true
		}
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	var wire bytes.Buffer
	ws.WriteFrame(&wire, ws.MaskFrame(ws.NewTextFrame([]byte("hi over h2"))))
	var got []byte
	status := ""
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			status = f.PseudoValue("status")
			if status != "200" {
				t.Fatalf("status %q", status)
			}
			fr.WriteData(1, false, wire.Bytes())
		case *http2.DataFrame:
			got = append(got, f.Data()...)
		}
		if len(got) >= 2+len("echo: hi over h2") {
			break
		}
	}
	frame, err := ws.ReadFrame(bytes.NewReader(got))
	if err != nil || string(frame.Payload) != "echo: hi over h2" {
		t.Fatalf("echo %q %v", frame.Payload, err)
	}
	wire.Reset()
	ws.WriteFrame(&wire, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1000, ""))))
	fr.WriteData(1, false, wire.Bytes())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
