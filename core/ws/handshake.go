package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
)

// Handshake helpers: pure functions over header values, shared by the HTTP/1.1
// Upgrade path (RFC 6455 4.2) and the HTTP/2 extended CONNECT path (RFC 8441 5).
// The HTTP layers own the request and the response; these only decide.

// Offer is what a client's opening handshake asks for.
type Offer struct {
	Key          []byte // Sec-WebSocket-Key as sent (h1 only)
	Version      []byte
	Subprotocols []string // Sec-WebSocket-Protocol tokens, in the client's order
	Extensions   []byte   // raw Sec-WebSocket-Extensions (several fields joined with ", ")
}

// HandshakeError is the response to send instead of accepting.
type HandshakeError struct {
	Status int
	Reason string
	Fields [][2]string // extra response fields (e.g. Sec-WebSocket-Version: 13 with 426)
}

func (e *HandshakeError) Error() string { return "websocket handshake: " + e.Reason }

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// CheckOffer validates an opening handshake. fields(name) returns every value of
// a request field; names are passed in lower case, and the lookup must be
// case-insensitive (h1) or exact on the already lower-case names (h2).
// For h1 the method must be GET; for h2 (RFC 8441) it must be CONNECT (the
// caller has checked :protocol = websocket) and there is no Upgrade,
// Connection or key.
func CheckOffer(method []byte, fields func(name string) [][]byte, h2 bool) (Offer, *HandshakeError) {
	var o Offer
	if h2 {
		if string(method) != "CONNECT" {
			return o, &HandshakeError{Status: 400, Reason: "extended CONNECT required"}
		}
	} else {
		if string(method) != "GET" {
			return o, &HandshakeError{Status: 405, Reason: "WebSocket handshake must use GET", Fields: [][2]string{{"Allow", "GET"}}}
		}
		if !hasToken(fields("upgrade"), "websocket") {
			return o, &HandshakeError{Status: 400, Reason: "missing Upgrade: websocket"}
		}
		if !hasToken(fields("connection"), "upgrade") {
			return o, &HandshakeError{Status: 400, Reason: "missing Connection: upgrade"}
		}
	}
	// RFC 6455 4.2.2: an unsupported version gets 426 and the versions we speak.
	vs := fields("sec-websocket-version")
	if len(vs) != 1 || string(bytes.TrimSpace(vs[0])) != "13" {
		return o, &HandshakeError{Status: 426, Reason: "unsupported WebSocket version",
			Fields: [][2]string{{"Sec-WebSocket-Version", "13"}}}
	}
	o.Version = bytes.TrimSpace(vs[0])
	if !h2 {
		ks := fields("sec-websocket-key")
		if len(ks) != 1 {
			return o, &HandshakeError{Status: 400, Reason: "missing or repeated Sec-WebSocket-Key"}
		}
		k := bytes.TrimSpace(ks[0])
		// The key is 16 random bytes, base64: always 24 characters.
		var raw [18]byte
		if len(k) != 24 {
			return o, &HandshakeError{Status: 400, Reason: "bad Sec-WebSocket-Key"}
		}
		if n, err := base64.StdEncoding.Decode(raw[:], k); err != nil || n != 16 {
			return o, &HandshakeError{Status: 400, Reason: "bad Sec-WebSocket-Key"}
		}
		o.Key = k
	}
	for _, v := range fields("sec-websocket-protocol") {
		for _, t := range bytes.Split(v, []byte{','}) {
			if t = bytes.TrimSpace(t); len(t) > 0 {
				o.Subprotocols = append(o.Subprotocols, string(t))
			}
		}
	}
	if es := fields("sec-websocket-extensions"); len(es) == 1 {
		o.Extensions = es[0]
	} else if len(es) > 1 {
		o.Extensions = bytes.Join(es, []byte(", "))
	}
	return o, nil
}

// hasToken reports whether a comma-separated field list contains tok
// (case-insensitive), e.g. "keep-alive, Upgrade".
func hasToken(vals [][]byte, tok string) bool {
	for _, v := range vals {
		for len(v) > 0 {
			var t []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				t, v = v[:i], v[i+1:]
			} else {
				t, v = v, nil
			}
			if strings.EqualFold(string(bytes.TrimSpace(t)), tok) {
				return true
			}
		}
	}
	return false
}

// AcceptKey computes Sec-WebSocket-Accept: base64(SHA-1(key + GUID)).
func AcceptKey(key []byte) string {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// Negotiated is the outcome of the handshake that the endpoint runs with.
type Negotiated struct {
	Subprotocol        string         // "" = none (omit Sec-WebSocket-Protocol)
	Deflate            *DeflateParams // nil = no compression
	ResponseExtensions string         // value for Sec-WebSocket-Extensions, "" = omit
}

// ErrSubprotocol: the application chose a subprotocol the client did not offer.
var ErrSubprotocol = errors.New("websocket: subprotocol not offered by the client")

// Negotiate fixes the subprotocol and the extensions. An unusable or malformed
// permessage-deflate offer is declined (no compression), not an error: the
// server may always accept without extensions.
func Negotiate(offer Offer, subprotocol string, allowDeflate bool) (Negotiated, error) {
	var n Negotiated
	if subprotocol != "" {
		ok := false
		for _, s := range offer.Subprotocols {
			if s == subprotocol {
				ok = true
				break
			}
		}
		if !ok {
			return n, ErrSubprotocol
		}
		n.Subprotocol = subprotocol
	}
	if allowDeflate && len(offer.Extensions) > 0 {
		if p, ok := negotiateDeflate(offer.Extensions); ok {
			n.Deflate = &p
			n.ResponseExtensions = p.response()
		}
	}
	return n, nil
}
