package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP.
func h2cClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		},
	}}
}

// echoHost answers every request with its method, path and body.
func echoHost(h *host, stop chan struct{}) {
	for {
		n, err := h.srv.Next(100*time.Millisecond, h.buf)
		select {
		case <-stop:
			return
		default:
		}
		if err != nil {
			continue
		}
		p := h.parse(h.buf[:n])
		go func() {
			body := p.readAll(h.t)
			reply := append([]byte(p.fields[0]+" "+p.fields[1]+" "+p.fields[3]+" "), body...)
			p.ex.Respond(head("200 OK", "Content-Type", "text/plain"), reply, true)
		}()
	}
}

func TestH2PriorKnowledgeConcurrentStreams(t *testing.T) {
	h, addr := startServer(t, nil)
	stop := make(chan struct{})
	defer close(stop)
	go echoHost(h, stop)
	client := h2cClient()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte('a' + i%26)}, i*50000)
			resp, err := client.Post(fmt.Sprintf("http://%s/s%d?q=1", addr, i), "text/plain", bytes.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			got, _ := io.ReadAll(resp.Body)
			want := fmt.Sprintf("POST /s%d HTTP/2.0 %s", i, body)
			if resp.ProtoMajor != 2 || string(got) != want {
				errs <- fmt.Errorf("stream %d: proto %d, %d bytes", i, resp.ProtoMajor, len(got))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestH2OverTLSWithALPN(t *testing.T) {
	cert, key := writeSelfSigned(t, t.TempDir())
	h, addr := startServer(t, func(o *Options) { o.CertFile, o.KeyFile = cert, key })
	stop := make(chan struct{})
	defer close(stop)
	go echoHost(h, stop)
	client := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get(strings.Replace(addr, "https://", "https://", 1) + "/tls")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if string(got) != "GET /tls HTTP/2.0 " || resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("%q %q", got, resp.TLS.NegotiatedProtocol)
	}
}

// A slow app applies backpressure: the server holds no more of an upload
// than the windows it advertised.
func TestH2UploadBackpressure(t *testing.T) {
	h, addr := startServer(t, nil)
	const size = 50 << 20 // the 50 MB upload of the issue
	go func() {
		req, _ := http.NewRequest("POST", "http://"+addr+"/up", io.LimitReader(zeros{}, size))
		h2cClient().Do(req)
	}()
	p := h.next()
	time.Sleep(300 * time.Millisecond) // the client pushes as much as it may
	s := p.ex.b.(*h2stream)
	s.lock()
	held := len(s.body) + len(p.ex.pending) + len(p.body)
	s.unlock()
	if held == 0 || held > 1<<20 {
		t.Fatalf("server holds %d bytes of the upload, want (0, 1 MiB]", held)
	}
	total := len(p.body)
	buf := make([]byte, 64<<10)
	for {
		n, err := p.ex.Read(buf, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != size {
		t.Fatalf("read %d bytes, want %d", total, size)
	}
	p.ex.Respond(head("204 No Content"), nil, true)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestH2InvalidPrefaceClosesWithGoAway(t *testing.T) {
	_, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
	b, _ := io.ReadAll(r)
	if bytes.HasPrefix(b, []byte("HTTP/1.1")) {
		t.Fatalf("answered as HTTP/1.1: %q", b)
	}
}

func TestH2CUpgradeBecomesStreamOne(t *testing.T) {
	h, addr := startServer(t, nil)
	stop := make(chan struct{})
	defer close(stop)
	go echoHost(h, stop)
	c, r := dial(t, addr)
	// An empty SETTINGS payload, base64url: "".
	fmt.Fprint(c, "GET /up?x=1 HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: \r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, r)
	fr.WriteSettings()
	var body []byte
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.(*http2.DataFrame); ok && d.StreamID == 1 {
			body = append(body, d.Data()...)
			if d.StreamEnded() {
				break
			}
		}
	}
	if string(body) != "GET /up HTTP/2.0 " {
		t.Errorf("stream 1 answered %q", body)
	}
}

func TestH2CUpgradeWithBodyStaysHTTP1(t *testing.T) {
	h, addr := startServer(t, nil)
	stop := make(chan struct{})
	defer close(stop)
	go echoHost(h, stop)
	c, r := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: \r\nContent-Length: 2\r\n\r\nhi")
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "POST / HTTP/1.1 hi" {
		t.Errorf("%q", b)
	}
}
