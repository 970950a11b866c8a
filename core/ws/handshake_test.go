package ws

import (
	"strings"
	"testing"
)

type hdrs map[string][]string

func (h hdrs) get(name string) [][]byte {
	var out [][]byte
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			for _, v := range vs {
				out = append(out, []byte(v))
			}
		}
	}
	return out
}

func goodH1() hdrs {
	return hdrs{
		"Host": {"example.com"}, "Upgrade": {"websocket"}, "Connection": {"keep-alive, Upgrade"},
		"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-WebSocket-Version": {"13"},
	}
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 1.3.
	if got := AcceptKey([]byte("dGhlIHNhbXBsZSBub25jZQ==")); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatal(got)
	}
}

func TestCheckOffer(t *testing.T) {
	h := goodH1()
	h["Sec-WebSocket-Protocol"] = []string{"chat, superchat", "v2"}
	h["Sec-WebSocket-Extensions"] = []string{"permessage-deflate", "x-foo"}
	o, herr := CheckOffer([]byte("GET"), h.get, false)
	if herr != nil {
		t.Fatal(herr)
	}
	if string(o.Key) != "dGhlIHNhbXBsZSBub25jZQ==" || string(o.Version) != "13" {
		t.Fatalf("%+v", o)
	}
	if strings.Join(o.Subprotocols, "|") != "chat|superchat|v2" || string(o.Extensions) != "permessage-deflate, x-foo" {
		t.Fatalf("%+v", o)
	}

	cases := []struct {
		name   string
		method string
		mod    func(hdrs)
		status int
	}{
		{"post", "POST", func(hdrs) {}, 405},
		{"no-upgrade", "GET", func(h hdrs) { delete(h, "Upgrade") }, 400},
		{"upgrade-other", "GET", func(h hdrs) { h["Upgrade"] = []string{"h2c"} }, 400},
		{"no-connection", "GET", func(h hdrs) { h["Connection"] = []string{"keep-alive"} }, 400},
		{"version-8", "GET", func(h hdrs) { h["Sec-WebSocket-Version"] = []string{"8"} }, 426},
		{"no-version", "GET", func(h hdrs) { delete(h, "Sec-WebSocket-Version") }, 426},
		{"no-key", "GET", func(h hdrs) { delete(h, "Sec-WebSocket-Key") }, 400},
		{"two-keys", "GET", func(h hdrs) { h["Sec-WebSocket-Key"] = append(h["Sec-WebSocket-Key"], "dGhlIHNhbXBsZSBub25jZQ==") }, 400},
		{"short-key", "GET", func(h hdrs) { h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZQ=="} }, 400},
		{"bad-base64", "GET", func(h hdrs) { h["Sec-WebSocket-Key"] = []string{"dGhlIHNhbXBsZSBub25jZ!=="} }, 400},
		{"case-insensitive", "GET", func(h hdrs) { h["Upgrade"] = []string{"WebSocket"}; h["Connection"] = []string{"UPGRADE"} }, 0},
		{"upgrade-list", "GET", func(h hdrs) { h["Upgrade"] = []string{"foo/1, websocket"} }, 0},
	}
	for _, c := range cases {
		h := goodH1()
		c.mod(h)
		_, herr := CheckOffer([]byte(c.method), h.get, false)
		got := 0
		if herr != nil {
			got = herr.Status
		}
		if got != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, got, c.status, herr)
		}
		if got == 426 && (len(herr.Fields) != 1 || herr.Fields[0] != [2]string{"Sec-WebSocket-Version", "13"}) {
			t.Errorf("%s: 426 without Sec-WebSocket-Version: %v", c.name, herr.Fields)
		}
	}
}

func TestCheckOfferH2(t *testing.T) {
	h := hdrs{"sec-websocket-version": {"13"}, "sec-websocket-protocol": {"chat"}}
	o, herr := CheckOffer([]byte("CONNECT"), h.get, true)
	if herr != nil || o.Key != nil || o.Subprotocols[0] != "chat" {
		t.Fatalf("%+v %v", o, herr)
	}
	if _, herr = CheckOffer([]byte("CONNECT"), hdrs{}.get, true); herr == nil || herr.Status != 426 {
		t.Fatalf("no version: %v", herr)
	}
	if _, herr = CheckOffer([]byte("GET"), h.get, true); herr == nil {
		t.Fatal("GET over h2 accepted")
	}
}

func TestNegotiateSubprotocol(t *testing.T) {
	o := Offer{Subprotocols: []string{"chat", "v2"}}
	if n, err := Negotiate(o, "v2", false); err != nil || n.Subprotocol != "v2" {
		t.Fatal(n, err)
	}
	if _, err := Negotiate(o, "v3", false); err != ErrSubprotocol {
		t.Fatal(err)
	}
	if n, err := Negotiate(o, "", false); err != nil || n.Subprotocol != "" {
		t.Fatal(n, err)
	}
}

// 13.x offers and the response RFC 7692 expects.
func TestNegotiateDeflate(t *testing.T) {
	cases := []struct {
		offer, resp string
	}{
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"},
		{"permessage-deflate; client_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"},
		{`permessage-deflate; server_max_window_bits="10"`, "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"},
		{"permessage-deflate; client_max_window_bits=8", "permessage-deflate; server_no_context_takeover; client_max_window_bits=8"},
		{"Permessage-Deflate; Client_Max_Window_Bits=15", "permessage-deflate; server_no_context_takeover; client_max_window_bits=15"},
		// A bad first offer falls back to the next one.
		{"permessage-deflate; server_max_window_bits=16, permessage-deflate", "permessage-deflate; server_no_context_takeover"},
		{"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"},
		// Declined.
		{"permessage-deflate; server_max_window_bits", ""},
		{"permessage-deflate; server_max_window_bits=7", ""},
		{"permessage-deflate; server_max_window_bits=08", ""},
		{"permessage-deflate; client_max_window_bits=16", ""},
		{"permessage-deflate; server_no_context_takeover=1", ""},
		{"permessage-deflate; client_no_context_takeover; client_no_context_takeover", ""},
		{"permessage-deflate; foo", ""},
		{"permessage-deflate; =", ""},
		{`permessage-deflate; server_max_window_bits="10`, ""},
		{"x-webkit-deflate-frame", ""},
	}
	for _, c := range cases {
		n, err := Negotiate(Offer{Extensions: []byte(c.offer)}, "", true)
		if err != nil {
			t.Fatal(err)
		}
		if n.ResponseExtensions != c.resp || (n.Deflate == nil) != (c.resp == "") {
			t.Errorf("%q: got %q, want %q", c.offer, n.ResponseExtensions, c.resp)
		}
	}
	if n, _ := Negotiate(Offer{Extensions: []byte("permessage-deflate")}, "", false); n.Deflate != nil {
		t.Error("deflate negotiated although not allowed")
	}
}
