// Command wsload measures WebSocket echo round trips: -c connections each
// send a -size byte text message, wait for its echo, and repeat, for -d.
// It prints messages/s and the round trip p50/p99, and fails on a wrong echo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/", "server")
	conns := flag.Int("c", 10, "connections")
	size := flag.Int("size", 32, "message bytes")
	dur := flag.Duration("d", 5*time.Second, "duration")
	flag.Parse()
	msg := []byte(strings.Repeat("x", *size))
	var mu sync.Mutex
	var rtts []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, *conns)
	end := time.Now().Add(*dur)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, _, err := ws.Dial(context.Background(), *url)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var local []time.Duration
			for time.Now().Before(end) {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				start := time.Now()
				if err := wsutil.WriteClientText(c, msg); err != nil {
					errs <- err
					return
				}
				got, err := wsutil.ReadServerText(c)
				if err != nil {
					errs <- err
					return
				}
				if len(got) != len(msg) {
					errs <- fmt.Errorf("echo of %d bytes, sent %d", len(got), len(msg))
					return
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			rtts = append(rtts, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
	sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
	if len(rtts) == 0 {
		fmt.Fprintln(os.Stderr, "wsload: no round trips")
		os.Exit(1)
	}
	fmt.Printf("%.0f msg/s p50 %.3f ms p99 %.3f ms (%d round trips)\n", float64(len(rtts))/dur.Seconds(),
		float64(rtts[len(rtts)/2].Microseconds())/1000, float64(rtts[len(rtts)*99/100].Microseconds())/1000, len(rtts))
}
