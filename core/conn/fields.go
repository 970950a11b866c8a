package conn

import (
	"bytes"

	"github.com/portico-http/portico/core/h1"
	"github.com/portico-http/portico/core/h2"
	"github.com/portico-http/portico/core/ws"
)

// Header rules both modes apply to HTTP/1.x requests: connection mode here,
// server mode (core/server) by importing them, so the two cannot drift.

// TETrailers reports "TE: trailers": the client takes trailers in a chunked
// response (RFC 9110 10.1.4).
func TETrailers(fs []h1.Field) bool {
	for _, f := range fs {
		if bytes.EqualFold(f.Name, []byte("te")) && h1.HasToken(f.Value, "trailers") {
			return true
		}
	}
	return false
}

// FieldLookup gives ws.CheckOffer every value of a field, by lower-case name.
func FieldLookup(fs []h1.Field) func(string) [][]byte {
	return func(name string) [][]byte {
		var vs [][]byte
		for _, f := range fs {
			if bytes.EqualFold(f.Name, []byte(name)) {
				vs = append(vs, f.Value)
			}
		}
		return vs
	}
}

// H2FieldLookup is FieldLookup for an HTTP/2 request (names are lower case).
func H2FieldLookup(fs []h2.Field) func(string) [][]byte {
	return func(name string) [][]byte {
		var vs [][]byte
		for _, f := range fs {
			if string(f.Name) == name {
				vs = append(vs, f.Value)
			}
		}
		return vs
	}
}

// WebSocketAccept is the fields of the 101 that accepts an HTTP/1.1
// WebSocket opening handshake (RFC 6455 4.2.2), before any the host adds.
func WebSocketAccept(offer *ws.Offer, neg ws.Negotiated) []h1.Field {
	fs := []h1.Field{
		{Name: []byte("Upgrade"), Value: []byte("websocket")},
		{Name: []byte("Connection"), Value: []byte("Upgrade")},
		{Name: []byte("Sec-WebSocket-Accept"), Value: []byte(ws.AcceptKey(offer.Key))},
	}
	if neg.Subprotocol != "" {
		fs = append(fs, h1.Field{Name: []byte("Sec-WebSocket-Protocol"), Value: []byte(neg.Subprotocol)})
	}
	if neg.ResponseExtensions != "" {
		fs = append(fs, h1.Field{Name: []byte("Sec-WebSocket-Extensions"), Value: []byte(neg.ResponseExtensions)})
	}
	return fs
}
