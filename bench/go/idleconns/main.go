// Command idleconns opens -n connections to a server and holds them idle, so
// that the server's memory per idle connection can be read. -mode h1 sends one
// keep-alive GET on each connection and reads its answer; -mode ws completes a
// WebSocket handshake on each. When all are open it prints "ready N" and holds
// them until its standard input closes (or -hold passes), then exits. The
// "ready" line also gives the time it took to open them all.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/", "http:// (mode h1) or ws:// (mode ws) URL")
	n := flag.Int("n", 1000, "connections")
	mode := flag.String("mode", "h1", "h1 or ws")
	parallel := flag.Int("p", 50, "connections opened at once")
	hold := flag.Duration("hold", 60*time.Second, "longest time to hold the connections")
	flag.Parse()
	raiseNoFile(uint64(*n) + 64)
	u, err := url.Parse(*target)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	conns := make([]net.Conn, *n)
	errs := make(chan error, *n)
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := open(*mode, u, *target)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fail(err)
	}
	fmt.Printf("ready %d in %.3fs\n", len(conns), time.Since(start).Seconds())
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(*hold):
	}
	for _, c := range conns {
		c.Close()
	}
}

func open(mode string, u *url.URL, target string) (net.Conn, error) {
	if mode == "ws" {
		c, _, _, err := ws.Dial(context.Background(), target)
		return c, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		c.Close()
		return nil, fmt.Errorf("status %d, close %v: not an idle keep-alive connection", resp.StatusCode, resp.Close)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func raiseNoFile(want uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < want {
		lim.Cur = min(want, lim.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "idleconns:", err)
	os.Exit(1)
}
