package conn

import (
	"net"
	"sync"
	"testing"
	"time"
)

// A test driver: one goroutine per TCP connection around a Conn, serving what
// tests/c/container.c serves (hello, POST /echo, a WebSocket echo on /ws). The
// goroutine is the test's, never the package's.

func listen(t *testing.T, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); drive(nc, New(cfg)) }()
		}
	}()
	return ln.Addr().String()
}

// app is the echo application, as a container would write it.
type app struct {
	c       *Conn
	echo    map[uint32][]byte // request bodies of POST /echo, gathered
	pending map[uint32][]byte // response bytes the send window did not take yet
	lenient bool              // fuzzing: a refused command is no test failure
}

func drive(nc net.Conn, c *Conn) {
	defer nc.Close()
	a := &app{c: c, echo: map[uint32][]byte{}, pending: map[uint32][]byte{}}
	buf := make([]byte, 16<<10)
	out := make([]byte, 16<<10)
	for {
		for a.step() {
		}
		for c.WantWrite() {
			n := c.Send(out)
			if _, err := nc.Write(out[:n]); err != nil {
				return
			}
		}
		if !c.WantRead() {
			return
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := nc.Read(buf)
		if n > 0 {
			c.Recv(buf[:n], time.Now())
		} else if err != nil {
			c.Recv(nil, time.Now())
		}
	}
}

func (a *app) step() bool {
	ev := a.c.Next()
	if ev.Kind == NeedData {
		return false
	}
	a.stepEvent(ev)
	return true
}

// stepEvent is the app's answer to one event.
func (a *app) stepEvent(ev *Event) {
	c := a.c
	switch ev.Kind {
	case Request:
		r := ev.Req
		switch {
		case r.WebSocket && string(r.Path) == "/ws":
			sub := ""
			for _, f := range r.Fields {
				if string(f.Name) == "sec-websocket-protocol" || string(f.Name) == "Sec-WebSocket-Protocol" {
					sub = "chat"
				}
			}
			if err := c.WSAccept(ev.Stream, sub, nil); err != nil && !a.lenient {
				panic(err)
			}
		case string(r.Method) == "POST" && string(r.Path) == "/echo":
			a.echo[ev.Stream] = []byte{}
		case string(r.Path) == "/trailers":
			c.SetTrailers(ev.Stream, []Field{{[]byte("X-Sum"), []byte("42")}})
			a.reply(ev.Stream, 200, []byte("body"))
		case string(r.Path) == "/push":
			if r.Push {
				if pid, err := c.Push(ev.Stream, []byte("/pushed.css"), nil); err == nil {
					a.reply(pid, 200, []byte("pushed"))
				}
			}
			a.reply(ev.Stream, 200, []byte("page"))
		case string(r.Path) == "/hints":
			c.EarlyHints(ev.Stream, []Field{{[]byte("Link"), []byte("</a.css>; rel=preload")}})
			a.reply(ev.Stream, 200, []byte("hinted"))
		default:
			a.reply(ev.Stream, 200, []byte("hello\n"))
		}
	case Data:
		if b, ok := a.echo[ev.Stream]; ok {
			a.echo[ev.Stream] = append(b, ev.Data...)
		}
	case End:
		if b, ok := a.echo[ev.Stream]; ok {
			delete(a.echo, ev.Stream)
			a.reply(ev.Stream, 200, b)
		}
	case Writable:
		for id, rest := range a.pending {
			if ev.Stream == 0 || ev.Stream == id {
				a.write(id, rest)
			}
		}
	case WSMessage:
		c.WSSend(ev.Stream, ev.Text, ev.Data)
	case Reset:
		delete(a.pending, ev.Stream)
		delete(a.echo, ev.Stream)
	}
}

func (a *app) reply(id uint32, status int, body []byte) {
	n, err := a.c.Respond(id, status, []Field{{[]byte("content-type"), []byte("text/plain")}}, body, true)
	if err != nil {
		if a.lenient {
			return
		}
		panic(err)
	}
	if n < len(body) {
		a.pending[id] = body[n:]
	}
}

func (a *app) write(id uint32, p []byte) {
	n, err := a.c.Write(id, p, true)
	if err != nil || n == len(p) {
		delete(a.pending, id)
		return
	}
	a.pending[id] = p[n:]
}
