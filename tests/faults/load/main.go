// Command load holds many keep-alive HTTP/1.1 connections and WebSockets
// open against a server at once and counts every error (tests/faults
// test_load.py). All connections are opened first and answered once
// (so they are really concurrent), then each makes more requests or echoes
// more messages, then closes. It prints one JSON line of figures.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

type result struct {
	Conns, Requests, WebSockets, Messages int64
	Errors                                int64
	FirstError                            string
	OpenSeconds, TotalSeconds             float64
}

var (
	addr     = flag.String("addr", "", "host:port")
	nConns   = flag.Int("conns", 5000, "keep-alive connections held open at once")
	perConn  = flag.Int("requests", 3, "requests per connection after the first")
	nWS      = flag.Int("ws", 1000, "WebSockets held open at once")
	perWS    = flag.Int("messages", 3, "echoes per WebSocket")
	dialers  = flag.Int("dialers", 200, "connections being opened at a time")
	httpPath = flag.String("path", "/ok", "HTTP path")
	wsPath   = flag.String("ws-path", "/ws-echo", "WebSocket path")
)

func main() {
	flag.Parse()
	var res result
	var firstErr sync.Once
	fail := func(err error) {
		atomic.AddInt64(&res.Errors, 1)
		firstErr.Do(func() { res.FirstError = err.Error() })
	}
	start := time.Now()
	sem := make(chan struct{}, *dialers)
	opened, release := &sync.WaitGroup{}, make(chan struct{})
	var done sync.WaitGroup
	total := *nConns + *nWS
	opened.Add(total)
	done.Add(total)
	for i := 0; i < *nConns; i++ {
		go func() {
			defer done.Done()
			sem <- struct{}{}
			c, err := net.DialTimeout("tcp", *addr, 30*time.Second)
			if err == nil {
				defer c.Close()
				c.SetDeadline(time.Now().Add(120 * time.Second))
			}
			<-sem
			var br *bufio.Reader
			get := func() error {
				if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: load\r\n\r\n", *httpPath); err != nil {
					return err
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Close {
					return fmt.Errorf("status %d close %v", resp.StatusCode, resp.Close)
				}
				atomic.AddInt64(&res.Requests, 1)
				return nil
			}
			if err == nil {
				br = bufio.NewReader(c)
				err = get()
			}
			opened.Done()
			if err != nil {
				fail(err)
				return
			}
			atomic.AddInt64(&res.Conns, 1)
			<-release
			for j := 0; j < *perConn; j++ {
				if err := get(); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	for i := 0; i < *nWS; i++ {
		go func() {
			defer done.Done()
			sem <- struct{}{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			c, br, _, err := ws.Dial(ctx, "ws://"+*addr+*wsPath)
			cancel()
			<-sem
			if err == nil {
				defer c.Close()
				c.SetDeadline(time.Now().Add(120 * time.Second))
				if br != nil {
					err = fmt.Errorf("server spoke before the client")
				}
			}
			opened.Done()
			if err != nil {
				fail(err)
				return
			}
			atomic.AddInt64(&res.WebSockets, 1)
			<-release
			for j := 0; j < *perWS; j++ {
				msg := []byte(fmt.Sprintf("message %d", j))
				if err := wsutil.WriteClientText(c, msg); err != nil {
					fail(err)
					return
				}
				got, op, err := wsutil.ReadServerData(c)
				if err != nil || op != ws.OpText || string(got) != string(msg) {
					fail(fmt.Errorf("echo: %v %v %q", err, op, got))
					return
				}
				atomic.AddInt64(&res.Messages, 1)
			}
			ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
			f, err := ws.ReadFrame(c)
			if err != nil || f.Header.OpCode != ws.OpClose {
				fail(fmt.Errorf("close answer: %v %v", err, f.Header.OpCode))
			}
		}()
	}
	opened.Wait()
	res.OpenSeconds = time.Since(start).Seconds()
	close(release)
	done.Wait()
	res.TotalSeconds = time.Since(start).Seconds()
	json.NewEncoder(os.Stdout).Encode(res)
	if res.Errors > 0 {
		os.Exit(1)
	}
}
