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
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// host is a minimal in-process host: it pulls records like the C API does.
type host struct {
	t   *testing.T
	srv *Server
	buf []byte
}

type pulled struct {
	ex     *Exchange
	flags  uint32
	fields []string
	body   []byte
}

func startServer(t *testing.T, mutate func(*Options)) (*host, string) {
	t.Helper()
	o := DefaultOptions()
	o.GracefulTimeout = 2 * time.Second
	o.InlineIO = *inlineFlag
	if mutate != nil {
		mutate(&o)
	}
	s := New(o)
	idx, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := s.Address(idx)
	t.Cleanup(s.Shutdown)
	return &host{t: t, srv: s, buf: make([]byte, o.MaxHeadSize+o.PrefetchSize+4096)}, addr
}

func (h *host) next() *pulled {
	h.t.Helper()
	n, err := h.srv.Next(5*time.Second, h.buf)
	if err != nil {
		h.t.Fatalf("Next: %v", err)
	}
	return h.parse(h.buf[:n])
}

func (h *host) parse(rec []byte) *pulled {
	id := binary.LittleEndian.Uint64(rec)
	hlen := binary.LittleEndian.Uint32(rec[12:])
	p := &pulled{ex: Lookup(id), flags: binary.LittleEndian.Uint32(rec[8:])}
	p.fields = strings.Split(string(rec[16:16+hlen]), "\x00")
	p.body = append([]byte(nil), rec[16+hlen:]...)
	if p.ex == nil {
		h.t.Fatalf("record id %d not registered", id)
	}
	return p
}

// readAll reads the whole request body as a host would.
func (p *pulled) readAll(t *testing.T) []byte {
	body := p.body
	if p.flags&reqBodyComplete != 0 {
		return body
	}
	buf := make([]byte, 7000)
	for {
		n, err := p.ex.Read(buf, 10*time.Second)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			return body
		}
		body = append(body, buf[:n]...)
	}
}

func head(status string, kv ...string) []byte {
	return []byte(strings.Join(append([]string{status}, kv...), "\x00"))
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestGetRecordAndFastPath(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.test\r\nX-One: 1\r\n\r\n")
	p := h.next()
	want := []string{"GET", "/a%20b", "x=1", "HTTP/1.1", "http"}
	for i, w := range want {
		if p.fields[i] != w {
			t.Errorf("head field %d = %q, want %q", i, p.fields[i], w)
		}
	}
	if p.fields[5] != "127.0.0.1" || p.fields[7] != "127.0.0.1" {
		t.Errorf("addresses: %q", p.fields[5:9])
	}
	if got := p.fields[9:]; strings.Join(got, "|") != "Host|example.test|X-One|1" {
		t.Errorf("fields %q", got)
	}
	if p.flags&reqBodyComplete == 0 {
		t.Error("GET body not marked complete")
	}
	if err := p.ex.Respond(head("200 OK", "Content-Type", "text/plain"), []byte("hi\n"), true); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hi\n" || resp.ContentLength != 3 || resp.Header.Get("Date") == "" {
		t.Errorf("got %d %q len %d date %q", resp.StatusCode, body, resp.ContentLength, resp.Header.Get("Date"))
	}
	if Lookup(p.ex.ID()) != nil {
		t.Error("finished request still registered")
	}
	if err := p.ex.Write(nil, true); err != ErrState {
		t.Errorf("write after end: %v", err)
	}
}

func TestBodyPrefetchAndStreamingRead(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.PrefetchSize = 1024 })
	c, r := dial(t, addr)
	big := bytes.Repeat([]byte("0123456789"), 50000) // 500 kB, beyond the prefetch
	go func() {
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(big))
		c.Write(big)
	}()
	p := h.next()
	if got := p.readAll(t); !bytes.Equal(got, big) {
		t.Fatalf("body: %d bytes, want %d", len(got), len(big))
	}
	p.ex.Respond(head("204 No Content"), nil, true)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("%v %v", resp, err)
	}
}

func TestChunkedStreamingResponse(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if err := p.ex.Respond(head("200 OK"), []byte("one,"), false); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20) // over the high-water mark: the host waits for the client
	go p.ex.Write(big, false)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("transfer encoding %v", resp.TransferEncoding)
	}
	first := make([]byte, 4+len(big))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	if err := p.ex.Write([]byte("end"), true); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "end" {
		t.Errorf("rest %q", rest)
	}
}

func TestExpectContinueOnlyWhenRead(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	p := h.next()
	if p.flags&reqExpectContinue == 0 {
		t.Error("expect flag missing")
	}
	done := make(chan []byte)
	go func() { done <- p.readAll(t) }()
	line, _ := r.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q", line)
	}
	r.ReadString('\n')
	c.Write([]byte("hello"))
	if got := <-done; string(got) != "hello" {
		t.Fatalf("body %q", got)
	}
	p.ex.Respond(head("200 OK"), nil, true)
	if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}

	// An app that answers without reading: no 100, and the connection
	// closes because the client may still send the body.
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	p = h.next()
	p.ex.Respond(head("403 Forbidden"), nil, true)
	line, _ = r.ReadString('\n')
	if line != "HTTP/1.1 403 Forbidden\r\n" {
		t.Fatalf("got %q", line)
	}
}

func TestPipelinedAnswersInOrder(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 1; i <= 3; i++ {
		p := h.next()
		if p.fields[1] != fmt.Sprintf("/%d", i) {
			t.Fatalf("request %d has path %q", i, p.fields[1])
		}
		p.ex.Respond(head("200 OK"), []byte(p.fields[1]), true)
	}
	for i := 1; i <= 3; i++ {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != fmt.Sprintf("/%d", i) {
			t.Errorf("answer %d is %q", i, b)
		}
	}
}

func TestRefusalNeverReachesHost(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("%v %v", resp, err)
	}
	if _, err := h.srv.Next(0, h.buf); err != ErrTimeout {
		t.Errorf("a refused request reached the host: %v", err)
	}
}

func TestBodyOverLimitMidChunked(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.MaxBodySize = 10; o.PrefetchSize = 1 })
	c, r := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
	p := h.next()
	buf := make([]byte, 100)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = p.ex.Read(buf, time.Second)
	}
	if err != ErrTooLarge {
		t.Fatalf("read error %v, want ErrTooLarge", err)
	}
	resp, rerr := http.ReadResponse(r, nil)
	if rerr != nil || resp.StatusCode != 413 {
		t.Fatalf("%v %v", resp, rerr)
	}
}

func TestSmallBufferKeepsRequest(t *testing.T) {
	h, addr := startServer(t, nil)
	c, _ := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	small := make([]byte, 8)
	var err error
	for i := 0; i < 50; i++ {
		if _, err = h.srv.Next(100*time.Millisecond, small); err != ErrTimeout {
			break
		}
	}
	if err != ErrBuffer {
		t.Fatalf("got %v, want ErrBuffer", err)
	}
	p := h.next() // the same request, now with room
	if p.fields[0] != "GET" {
		t.Fatalf("fields %q", p.fields)
	}
	p.ex.Abort(503)
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	h, addr := startServer(t, nil)
	busy, br := dial(t, addr)
	idle, ir := dial(t, addr)
	fmt.Fprint(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	h.next().ex.Respond(head("200 OK"), nil, true)
	if _, err := http.ReadResponse(ir, nil); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.srv.Shutdown() }()
	// The idle connection is closed at once.
	if _, err := ir.ReadByte(); err != io.EOF {
		t.Errorf("idle connection not closed: %v", err)
	}
	// New connections are refused.
	time.Sleep(50 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("accepted a connection while draining")
	}
	p.ex.Respond(head("200 OK"), []byte("done"), true)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done" || !resp.Close {
		t.Errorf("in-flight answer %q close=%v", b, resp.Close)
	}
	wg.Wait()
	if _, err := h.srv.Next(10*time.Millisecond, h.buf); err != ErrClosed {
		t.Errorf("Next after shutdown: %v", err)
	}
}

func TestShutdownDeadlineClosesStuckRequests(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.GracefulTimeout = 200 * time.Millisecond })
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	start := time.Now()
	h.srv.Shutdown()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Error("stuck connection still open")
	}
	if err := p.ex.Respond(head("200 OK"), nil, true); err != ErrIO {
		t.Errorf("respond after forced close: %v", err)
	}
}

func TestKeepAliveTimeout(t *testing.T) {
	_, addr := startServer(t, func(o *Options) { o.KeepAliveTimeout = 100 * time.Millisecond })
	_, r := dial(t, addr)
	start := time.Now()
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("got %v, want EOF", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v", d)
	}
}

func TestUnixSocket(t *testing.T) {
	o := DefaultOptions()
	s := New(o)
	path := t.TempDir() + "/p.sock"
	idx, err := s.Listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if a, _ := s.Address(idx); a != "unix:"+path {
		t.Errorf("address %q", a)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.0\r\n\r\n")
	h := &host{t: t, srv: s, buf: make([]byte, 1<<17)}
	p := h.next()
	if p.fields[3] != "HTTP/1.0" || p.fields[5] != "" || p.fields[6] != "0" {
		t.Errorf("head %q", p.fields)
	}
	p.ex.Respond(head("200 OK"), []byte("unix"), true)
	b, _ := io.ReadAll(c)
	if !bytes.HasSuffix(b, []byte("\r\n\r\nunix")) {
		t.Errorf("reply %q", b)
	}
}

func TestListenErrors(t *testing.T) {
	s := New(DefaultOptions())
	defer s.Shutdown()
	for _, a := range []string{"nonsense", "unix:", "fd://x", "127.0.0.1:99999"} {
		if _, err := s.Listen(a); err == nil {
			t.Errorf("Listen(%q) succeeded", a)
		}
	}
	if s.LastError() == "" {
		t.Error("no last error")
	}
}

func TestOptionsSet(t *testing.T) {
	o := DefaultOptions()
	for _, kv := range [][2]string{{"max_head_size", "1024"}, {"max_body_size", "0"}, {"header_timeout_ms", "5"}, {"server_header", "portico"}, {"ws_max_queued", "65536"}} {
		if err := o.Set(kv[0], kv[1]); err != nil {
			t.Errorf("Set(%q): %v", kv[0], err)
		}
	}
	for _, kv := range [][2]string{{"max_head_size", "0"}, {"max_body_size", "-1"}, {"nope", "1"}, {"queue_size", "x"}, {"ws_max_queued", "0"}} {
		if err := o.Set(kv[0], kv[1]); err == nil {
			t.Errorf("Set(%q, %q) accepted", kv[0], kv[1])
		}
	}
	if o.MaxHeadSize != 1024 || o.HeaderTimeout != 5*time.Millisecond || o.ServerHeader != "portico" || o.WSMaxQueued != 65536 {
		t.Errorf("%+v", o)
	}
}

func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	h, addr := startServer(t, func(o *Options) { o.CertFile, o.KeyFile = cert, key })
	if !strings.HasPrefix(addr, "https://") {
		t.Fatalf("address %q", addr)
	}
	c, err := tls.Dial("tcp", strings.TrimPrefix(addr, "https://"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n")
	p := h.next()
	if p.fields[4] != "https" {
		t.Errorf("scheme %q", p.fields[4])
	}
	p.ex.Respond(head("200 OK"), []byte("secure"), true)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "secure" || c.ConnectionState().NegotiatedProtocol != "http/1.1" {
		t.Errorf("body %q alpn %q", b, c.ConnectionState().NegotiatedProtocol)
	}
	// An explicit http:// bind stays plaintext beside it.
	i, err := h.srv.Listen("http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := h.srv.Address(i); strings.HasPrefix(a, "https") {
		t.Errorf("http:// listener reported as %q", a)
	}
}

func TestTLSNeedsCertificate(t *testing.T) {
	s := New(DefaultOptions())
	defer s.Shutdown()
	if _, err := s.Listen("https://127.0.0.1:0"); err == nil || !strings.Contains(s.LastError(), "certfile") {
		t.Errorf("err %v, last error %q", err, s.LastError())
	}
}

// writeSelfSigned makes a throwaway certificate for 127.0.0.1.
func writeSelfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cert, keyPath := dir+"/cert.pem", dir+"/key.pem"
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, keyPath
}
