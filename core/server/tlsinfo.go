package server

import (
	"crypto/tls"
	"encoding/pem"
)

// reqTLS is PORTICO_REQ_TLS: the request came over TLS, and TLS() has its
// details. A flag in the record, so a host pays nothing on plaintext.
const reqTLS = 128

// tlsConn returns the TLS connection carrying ex, or nil on plaintext. An
// HTTP/2 stream (pushed ones too) shares its connection's TLS session.
func (ex *Exchange) tlsConn() *tls.Conn {
	var c *conn
	switch b := ex.b.(type) {
	case *conn:
		c = b
	case *h2stream:
		c = b.hc.c
	default:
		return nil
	}
	tc, _ := c.nc.(*tls.Conn)
	return tc
}

// tlsFlag is reqTLS on a TLS connection, else 0.
func (ex *Exchange) tlsFlag() uint32 {
	if ex.tlsConn() != nil {
		return reqTLS
	}
	return 0
}

// TLS copies what the handshake settled into dst as NUL-separated text:
// version ("TLSv1.3"), cipher suite (IANA name), SNI server name, ALPN
// protocol (the last two may be empty), then one PEM block per certificate
// the client presented, leaf first. It returns the length; 0 on plaintext;
// with an empty dst, the length needed (a size query); ErrBuffer if dst is
// too small. Built at each call: only hosts that ask pay for it.
func (ex *Exchange) TLS(dst []byte) (int, error) {
	tc := ex.tlsConn()
	if tc == nil {
		return 0, nil
	}
	b := packTLS(tc.ConnectionState())
	if len(dst) == 0 {
		return len(b), nil
	}
	if len(b) > len(dst) {
		return len(b), ErrBuffer
	}
	return copy(dst, b), nil
}

func packTLS(cs tls.ConnectionState) []byte {
	b := make([]byte, 0, 64+1400*len(cs.PeerCertificates))
	b = append(b, tlsVersionName(cs.Version)...)
	b = append(b, 0)
	b = append(b, tls.CipherSuiteName(cs.CipherSuite)...)
	b = append(b, 0)
	b = append(b, cs.ServerName...)
	b = append(b, 0)
	b = append(b, cs.NegotiatedProtocol...)
	for _, cert := range cs.PeerCertificates {
		b = append(b, 0)
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	return b
}

// tlsVersionName spells versions as OpenSSL, Python's ssl and mod_ssl do
// (Go's tls.VersionName says "TLS 1.3").
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return tls.VersionName(v)
}
