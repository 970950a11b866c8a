package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// Go's own HTTP/2 client (prior knowledge h2c) against the test driver over a real
// socket: concurrent GETs and POSTs with bodies larger than every window, so flow
// control (Consumed -> WINDOW_UPDATE) has to work for the uploads to finish.
func TestGoClientInterop(t *testing.T) {
	ln := startTestServer(t, Limits{InitialWindowSize: 65535})
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/"
	upload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var resp *http.Response
			var err error
			if i%2 == 0 {
				resp, err = client.Get(url)
			} else {
				resp, err = client.Post(url, "application/octet-stream", bytes.NewReader(upload))
			}
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 || !bytes.Equal(body, testBody) {
				errs <- &ConnError{Reason: "bad response " + resp.Status + " " + string(body)}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
