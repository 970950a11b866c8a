// Command wsload measures WebSocket echo round trips: -c connections each
// send a -size byte text message, wait for its echo, and repeat, for -d.
// It prints messages/s and the round trip p50/p99, and fails on a wrong echo.
//
// Why one thread and a raw epoll loop: on the shared 2-core benchmark
// machine the load generator takes its CPU from the server under test, so
// it must cost as little as possible per message, as wrk does for HTTP.
// A goroutine per connection cost ~30-45 µs of CPU per message (the
// scheduler spinning between parked goroutines, per-message allocations,
// deadline timers). Here one locked OS thread drives every connection from
// epoll_wait, with a frame built once per connection and one read buffer,
// so a round trip is a write, a read and two clock reads.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/", "server")
	conns := flag.Int("c", 10, "connections")
	size := flag.Int("size", 32, "message bytes")
	dur := flag.Duration("d", 5*time.Second, "duration")
	flag.Parse()
	if *conns < 1 || *size < 0 || *dur <= 0 {
		fail(errors.New("need -c >= 1, -size >= 0, -d > 0"))
	}
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	rtts, err := run(*url, *conns, []byte(strings.Repeat("x", *size)), *dur)
	if err != nil {
		fail(err)
	}
	if len(rtts) == 0 {
		fail(errors.New("no round trips"))
	}
	slices.Sort(rtts)
	fmt.Printf("%.0f msg/s p50 %.3f ms p99 %.3f ms (%d round trips)\n", float64(len(rtts))/dur.Seconds(),
		float64(rtts[len(rtts)/2].Microseconds())/1000, float64(rtts[len(rtts)*99/100].Microseconds())/1000, len(rtts))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wsload:", err)
	os.Exit(1)
}

// run opens the connections, drives round trips on them for dur, and
// returns the round trip times of those started before the deadline.
func run(url string, n int, msg []byte, dur time.Duration) ([]time.Duration, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	defer syscall.Close(ep)
	l := &loop{ep: ep, rbuf: make([]byte, 256<<10), rtts: make([]time.Duration, 0, 1<<20)}
	defer l.closeAll()
	for i := 0; i < n; i++ {
		c, err := dial(url, msg)
		if err != nil {
			return nil, err
		}
		c.l, c.id = l, i
		l.conns = append(l.conns, c)
		if err := l.add(c); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	l.end = start.Add(dur)
	l.hardEnd = l.end.Add(10 * time.Second)
	return l.rtts, l.run()
}

// conn is one WebSocket connection, reduced to its descriptor.
type conn struct {
	l     *loop
	id    int // index in l.conns, the epoll event data
	fd    int
	frame []byte // the masked message frame, built once
	out   []byte // bytes still to write (usually a tail of frame)
	epOut bool   // registered for EPOLLOUT
	r     reader

	busy  bool      // a message is out and its echo not yet back
	sent  bool      // a message went out while handling the current read
	start time.Time // when the message in flight was sent
	early []byte    // bytes the handshake reader buffered past the 101
}

// dial does the handshake with gobwas/ws, then keeps only a non-blocking
// duplicate of the socket's descriptor for the epoll loop.
func dial(url string, msg []byte) (*conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	c := &conn{r: reader{want: msg}}
	if br != nil { // the server wrote past the 101: keep those bytes
		c.early, _ = br.Peek(br.Buffered())
		c.early = slices.Clone(c.early)
		ws.PutReader(br)
	}
	if c.fd, err = dupFD(nc); err != nil {
		return nil, err
	}
	// RFC 6455 wants an unpredictable key per frame; a random key made
	// once per connection is enough for a load generator, and lets the
	// frame be built once.
	var key [4]byte
	rand.Read(key[:])
	c.frame = clientFrame(opText, msg, key)
	return c, nil
}

func dupFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no descriptor", nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(s uintptr) { fd, derr = syscall.Dup(int(s)) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup: %w", derr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// loop is the single-threaded epoll loop over all connections.
type loop struct {
	ep      int
	conns   []*conn
	rbuf    []byte // one read buffer: the reader keeps no payload bytes
	rtts    []time.Duration
	end     time.Time // no new message after this
	hardEnd time.Time // give up waiting for echoes after this
	busy    int       // connections with a message in flight
}

// add registers c for reading; the event data is its index in l.conns.
func (l *loop) add(c *conn) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.id)}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

func (l *loop) run() error {
	for _, c := range l.conns {
		if err := c.r.feed(c.early, c); err != nil {
			return err
		}
		if err := c.send(time.Now()); err != nil {
			return err
		}
	}
	events := make([]syscall.EpollEvent, len(l.conns))
	for l.busy > 0 {
		if time.Now().After(l.hardEnd) {
			return fmt.Errorf("timed out: %d echoes still missing 10 s after the end", l.busy)
		}
		n, err := rawEpollWait(l.ep, events, 100)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:n] {
			if err := l.conns[ev.Fd].ready(ev.Events); err != nil {
				return err
			}
		}
	}
	return nil
}

// ready handles one epoll event on c.
func (c *conn) ready(events uint32) error {
	if events&syscall.EPOLLOUT != 0 {
		if err := c.flush(); err != nil {
			return err
		}
	}
	if events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
		return nil
	}
	n, err := rawRead(c.fd, c.l.rbuf)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		if events&(syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			return errors.New("connection error")
		}
		return nil
	case err != nil:
		return fmt.Errorf("read: %w", err)
	case n == 0:
		return errors.New("server closed the connection")
	}
	c.sent = false
	return c.r.feed(c.l.rbuf[:n], c)
}

// send starts a round trip: the whole frame, in one write if it fits.
func (c *conn) send(now time.Time) error {
	c.busy = true
	c.l.busy++
	c.start = now
	return c.queue(c.frame)
}

// queue writes b after whatever is still waiting to go out.
func (c *conn) queue(b []byte) error {
	if len(c.out) == 0 {
		c.out = b
	} else {
		c.out = append(slices.Clip(c.out), b...) // rare: a pong during a partial write
	}
	return c.flush()
}

// flush writes c.out until done or the socket is full; then it waits for
// EPOLLOUT.
func (c *conn) flush() error {
	for len(c.out) > 0 {
		n, err := rawWrite(c.fd, c.out)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return c.watchOut(true)
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		c.out = c.out[n:]
	}
	return c.watchOut(false)
}

func (c *conn) watchOut(on bool) error {
	if on == c.epOut {
		return nil
	}
	c.epOut = on
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.id)}
	if on {
		ev.Events |= syscall.EPOLLOUT
	}
	if err := syscall.EpollCtl(c.l.ep, syscall.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// echoDone ends a round trip and starts the next one before the deadline.
func (c *conn) echoDone() error {
	// These bytes were read before the message now in flight was sent,
	// so they cannot be its echo.
	if !c.busy || c.sent {
		return errors.New("server sent a message that echoes nothing")
	}
	now := time.Now()
	c.l.rtts = append(c.l.rtts, now.Sub(c.start))
	c.busy = false
	c.l.busy--
	if now.Before(c.l.end) {
		c.sent = true
		return c.send(now)
	}
	return nil
}

// control answers a ping with a pong; a close frame ends the run.
func (c *conn) control(op byte, payload []byte) error {
	switch op {
	case opPing:
		var key [4]byte
		rand.Read(key[:])
		return c.queue(clientFrame(opPong, payload, key))
	case opClose:
		return errors.New("server closed the connection (close frame)")
	}
	return nil // an unsolicited pong
}

// closeAll sends each connection a close frame (best effort) and closes it.
func (l *loop) closeAll() {
	bye := clientFrame(opClose, []byte{0x03, 0xE8}, [4]byte{}) // 1000: normal closure
	for _, c := range l.conns {
		if len(c.out) == 0 {
			syscall.Write(c.fd, bye)
		}
		syscall.Close(c.fd)
	}
}
