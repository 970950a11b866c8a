package server

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testCA signs client certificates for the client-auth tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	path string // PEM file, for the ca_certs option
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	path := dir + "/" + name + ".pem"
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return &testCA{cert: cert, key: key, path: path}
}

// client makes a client certificate signed by the CA, presented with the CA
// as its chain (leaf first).
func (ca *testCA) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}

// tlsServer starts a TLS server that trusts ca for client certificates.
func tlsServer(t *testing.T, ca *testCA, verify string) (*host, string) {
	cert, key := writeSelfSigned(t, t.TempDir())
	h, addr := startServer(t, func(o *Options) {
		o.CertFile, o.KeyFile, o.VerifyClient = cert, key, verify
		if ca != nil {
			o.CACerts = ca.path
		}
	})
	return h, strings.TrimPrefix(addr, "https://")
}

// tlsFields reads a request's TLS details the way a host does: a size
// query, then the copy.
func tlsFields(t *testing.T, ex *Exchange) []string {
	t.Helper()
	n, err := ex.TLS(nil)
	if err != nil || n == 0 {
		t.Fatalf("size query: %d %v", n, err)
	}
	if _, err := ex.TLS(make([]byte, n-1)); err != ErrBuffer {
		t.Errorf("short buffer: %v, want ErrBuffer", err)
	}
	buf := make([]byte, n)
	if m, err := ex.TLS(buf); m != n || err != nil {
		t.Fatalf("copy: %d %v, want %d", m, err, n)
	}
	return strings.Split(string(buf), "\x00")
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestTLSDetailsOverHTTP1(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "clients")
	h, addr := tlsServer(t, ca, "optional")
	clientCert := ca.client(t, "alice")
	for _, tc := range []struct {
		max       uint16
		version   string
		cipher    string
		cert      bool
		alpn, sni string
	}{
		{tls.VersionTLS13, "TLSv1.3", "TLS_AES_128_GCM_SHA256", true, "http/1.1", "portico.test"},
		{tls.VersionTLS12, "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", true, "http/1.1", "other.test"},
		{tls.VersionTLS13, "TLSv1.3", "TLS_AES_128_GCM_SHA256", false, "", ""}, // no ALPN, no SNI, no cert
	} {
		cfg := &tls.Config{InsecureSkipVerify: true, MaxVersion: tc.max, ServerName: tc.sni,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
		if tc.alpn != "" {
			cfg.NextProtos = []string{tc.alpn}
		}
		if tc.cert {
			cfg.Certificates = []tls.Certificate{clientCert}
		}
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		p := h.next()
		if p.flags&reqTLS == 0 {
			t.Errorf("%s: no PORTICO_REQ_TLS flag", tc.version)
		}
		f := tlsFields(t, p.ex)
		want := []string{tc.version, tc.cipher, tc.sni, tc.alpn}
		if tc.cert {
			want = append(want, pemOf(clientCert.Certificate[0]), pemOf(ca.cert.Raw))
		}
		if strings.Join(f, "|") != strings.Join(want, "|") {
			t.Errorf("%s: got %q\nwant %q", tc.version, f, want)
		}
		p.ex.Respond(head("204 No Content"), nil, true)
		if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 204") {
			t.Errorf("%s: answer %q", tc.version, line)
		}
		c.Close()
	}
}

func TestTLSPlaintextHasNoDetails(t *testing.T) {
	h, addr := startServer(t, nil)
	c, _ := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if p.flags&reqTLS != 0 {
		t.Error("PORTICO_REQ_TLS on plaintext")
	}
	if n, err := p.ex.TLS(make([]byte, 64)); n != 0 || err != nil {
		t.Errorf("TLS on plaintext: %d %v, want 0", n, err)
	}
	p.ex.Abort(204)
}

// Over HTTP/2 every stream, pushed ones too, carries the connection's
// details, ALPN "h2" among them.
func TestTLSDetailsOverH2AndPush(t *testing.T) {
	ca := newTestCA(t, t.TempDir(), "clients")
	h, addr := tlsServer(t, ca, "required")
	clientCert := ca.client(t, "bob")
	done := make(chan [2][]string, 1)
	go func() {
		p := h.next()
		main := tlsFields(t, p.ex)
		if err := p.ex.Push([]byte("/style.css")); err != nil {
			t.Error(err)
		}
		p.ex.Respond(head("200 OK"), []byte("page"), true)
		q := h.next()
		if q.flags&(reqPushed|reqTLS) != reqPushed|reqTLS {
			t.Errorf("pushed request flags %d", q.flags)
		}
		pushed := tlsFields(t, q.ex)
		q.ex.Respond(head("200 OK"), []byte("css"), true)
		done <- [2][]string{main, pushed}
	}()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "h2.test",
		NextProtos: []string{"h2"}, Certificates: []tls.Certificate{clientCert}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":authority", "h2.test"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	var got [2][]string
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no requests")
	}
	want := strings.Join([]string{"TLSv1.3", "TLS_AES_128_GCM_SHA256", "h2.test", "h2",
		pemOf(clientCert.Certificate[0]), pemOf(ca.cert.Raw)}, "|")
	for i, f := range got {
		if strings.Join(f, "|") != want {
			t.Errorf("stream %d: got %q", i, f)
		}
	}
}

// verify_client=required: no certificate, or one from another CA, and the
// handshake fails; no request reaches the host.
func TestTLSClientCertRequired(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "clients")
	stranger := newTestCA(t, dir, "strangers")
	h, addr := tlsServer(t, ca, "required")
	for name, certs := range map[string][]tls.Certificate{
		"none":    nil,
		"foreign": {stranger.client(t, "mallory")},
	} {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: certs,
			NextProtos: []string{"http/1.1"}})
		if err == nil {
			// TLS 1.3: the server's verdict arrives after the client's Finished.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			_, err = io.ReadAll(c)
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: %v, want a certificate alert", name, err)
		}
	}
	if n, err := h.srv.Next(200*time.Millisecond, h.buf); err != ErrTimeout {
		t.Errorf("a refused client reached the host: %d %v", n, err)
	}
	// And a trusted one gets through.
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true,
		Certificates: []tls.Certificate{ca.client(t, "carol")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if f := tlsFields(t, p.ex); len(f) != 6 {
		t.Errorf("trusted client: %d fields", len(f))
	}
	p.ex.Abort(204)
}

func TestTLSClientAuthOptions(t *testing.T) {
	var o Options
	for _, v := range []string{"none", "optional", "required"} {
		if err := o.Set("verify_client", v); err != nil || o.VerifyClient != v {
			t.Errorf("verify_client %s: %v", v, err)
		}
	}
	if o.Set("verify_client", "yes") == nil {
		t.Error("verify_client yes accepted")
	}
	cert, key := writeSelfSigned(t, t.TempDir())
	bad := t.TempDir() + "/empty.pem"
	os.WriteFile(bad, []byte("no pem here"), 0o600)
	for ca, want := range map[string]string{"": "needs ca_certs", bad: "no PEM certificate", "/nonexistent": "reading ca_certs"} {
		o := DefaultOptions()
		o.CertFile, o.KeyFile, o.VerifyClient, o.CACerts = cert, key, "required", ca
		s := New(o)
		if _, err := s.Listen("https://127.0.0.1:0"); err == nil || !strings.Contains(s.LastError(), want) {
			t.Errorf("ca_certs %q: %v %q, want %q", ca, err, s.LastError(), want)
		}
		s.Shutdown()
	}
}
