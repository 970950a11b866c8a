package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

type event struct {
	id   uint64
	typ  uint16
	code int16
	data []byte
}

func testCode(err error) int16 {
	switch err {
	case ErrIO:
		return -9
	case ErrTimeout:
		return -1
	}
	return -11
}

// waitFD waits on the readiness descriptor as an event loop would.
func waitFD(t *testing.T, fd int, d time.Duration) bool {
	t.Helper()
	var set syscall.FdSet
	set.Bits[fd/64] |= 1 << (uint(fd) % 64)
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	n, err := syscall.Select(fd+1, &set, nil, nil, &tv)
	if err != nil && err != syscall.EINTR {
		t.Fatal(err)
	}
	if n > 0 {
		var b [8]byte
		syscall.Read(fd, b[:])
		return true
	}
	return false
}

// writeUntilPending makes up to n nowait writes until one pends; none may
// block.
func writeUntilPending(t *testing.T, n int, write func() error) bool {
	t.Helper()
	for i := 0; i < n; i++ {
		start := time.Now()
		err := write()
		if time.Since(start) > time.Second {
			t.Fatal("a nowait write blocked")
		}
		switch err {
		case nil:
		case ErrPending:
			return true
		default:
			t.Fatal(err)
		}
	}
	return false
}

// pollEvents polls until at least one event arrives (waiting on the fd).
func (h *host) pollEvents(fd int) []event {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := h.srv.Poll(h.buf, testCode)
		if err == ErrTimeout {
			waitFD(h.t, fd, time.Until(deadline))
			continue
		}
		if err != nil {
			h.t.Fatalf("Poll: %v", err)
		}
		var evs []event
		for b := h.buf[:n]; len(b) > 0; {
			l := int(binary.LittleEndian.Uint32(b[12:]))
			evs = append(evs, event{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint16(b[8:]),
				int16(binary.LittleEndian.Uint16(b[10:])), bytes.Clone(b[EventHeader : EventHeader+l])})
			b = b[EventHeader+l:]
		}
		return evs
	}
	h.t.Fatal("no event within 5 s")
	return nil
}

func TestPollStreamsBodyAndAnswersWithoutWaiting(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, mode)
		fd, err := h.srv.ReadyFD()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.srv.Poll(h.buf, testCode); err != ErrTimeout {
			t.Fatalf("empty poll: %v", err)
		}
		c, r := dial(t, addr)
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		evs := h.pollEvents(fd)
		if len(evs) != 1 || evs[0].typ != EvRequest {
			t.Fatalf("want one request, got %+v", evs)
		}
		rec := h.parse(evs[0].data)
		if rec.flags&reqBodyComplete != 0 {
			t.Fatal("body complete before the last chunk")
		}
		body := rec.body
		go func() {
			time.Sleep(50 * time.Millisecond)
			io.WriteString(c, "6\r\n world\r\n0\r\n\r\n")
		}()
		for done := false; !done; {
			if err := rec.ex.WantBody(4096); err != nil {
				t.Fatal(err)
			}
			for _, ev := range h.pollEvents(fd) {
				if ev.typ != EvBody || ev.id != rec.ex.id || ev.code < 0 {
					t.Fatalf("unexpected %+v", ev)
				}
				body = append(body, ev.data...)
				done = ev.code == 1
			}
		}
		if string(body) != "hello world" {
			t.Fatalf("body %q", body)
		}
		rec.ex.SetNowait(true)
		if err := rec.ex.Respond(head("200 OK", "Content-Type", "text/plain"), []byte("got it"), true); err != nil {
			t.Fatal(err)
		}
		resp := readResponse(t, r)
		if !strings.Contains(resp, "got it") {
			t.Fatalf("response %q", resp)
		}
	})
}

func readResponse(t *testing.T, r interface{ ReadString(byte) (string, error) }) string {
	var b strings.Builder
	for {
		line, err := r.ReadString('t')
		b.WriteString(line)
		if err != nil || strings.HasSuffix(b.String(), "got it") {
			return b.String()
		}
	}
}

func TestPollClientGoneDuringBody(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, func(o *Options) { mode(o); o.PrefetchSize = 3 })
		fd, _ := h.srv.ReadyFD()
		c, _ := dial(t, addr)
		// "abc" fills prefetch_size: the host gets the request before the
		// rest of its body (a smaller one would wait for all of it).
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
		rec := h.parse(h.pollEvents(fd)[0].data)
		rec.ex.WantBody(4096)
		c.Close()
		evs := h.pollEvents(fd)
		if len(evs) != 1 || evs[0].typ != EvBody || evs[0].code != -9 {
			t.Fatalf("want a failed body event, got %+v", evs)
		}
	})
}

func TestPollWebSocketMessagesAndNowaitSend(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, mode)
		fd, _ := h.srv.ReadyFD()
		done := make(chan error, 1)
		go func() {
			conn, br, _, err := ws.Dial(t.Context(), "ws://"+addr+"/echo")
			if err != nil {
				done <- err
				return
			}
			defer conn.Close()
			rw := struct {
				io.Reader
				io.Writer
			}{conn, conn}
			if br != nil { // frames that came with the 101
				rw.Reader = io.MultiReader(br, conn)
			}
			// Sent by the host right after accept: it must not overtake the 101.
			if p, err := wsutil.ReadServerText(rw); err != nil || string(p) != "welcome" {
				done <- fmt.Errorf("welcome: %q %v", p, err)
				return
			}
			for i := 0; i < 3; i++ {
				wsutil.WriteClientText(conn, []byte(fmt.Sprint("msg", i)))
			}
			for i := 0; i < 3; i++ {
				p, err := wsutil.ReadServerText(rw)
				if err != nil || string(p) != fmt.Sprint("msg", i) {
					done <- fmt.Errorf("echo %d: %q %v", i, p, err)
					return
				}
			}
			wsutil.WriteClientMessage(conn, ws.OpClose, ws.NewCloseFrameBody(4001, "bye"))
			done <- nil
		}()
		rec := h.parse(h.pollEvents(fd)[0].data)
		if err := rec.ex.AcceptWebSocket("", nil); err != nil {
			t.Fatal(err)
		}
		if err := rec.ex.WSSendNowait(WSText, []byte("welcome")); err != nil {
			t.Fatal(err)
		}
		if err := rec.ex.WSWatch(true); err != nil {
			t.Fatal(err)
		}
		got := 0
		for closed := false; !closed; {
			for _, ev := range h.pollEvents(fd) {
				if ev.typ != EvWS || ev.id != rec.ex.id {
					t.Fatalf("unexpected %+v", ev)
				}
				if ev.code == WSClose {
					if code := int(ev.data[0])<<8 | int(ev.data[1]); code != 4001 || string(ev.data[2:]) != "bye" {
						t.Fatalf("close %q", ev.data)
					}
					closed = true
					continue
				}
				got++
				if err := rec.ex.WSSendNowait(int(ev.code), ev.data); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got != 3 {
			t.Fatalf("%d messages", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		rec.ex.WSRelease()
	})
}

func TestNowaitWriteToSlowClientPendsThenCompletes(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, mode)
		fd, _ := h.srv.ReadyFD()
		c, r := dial(t, addr)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		rec := h.parse(h.pollEvents(fd)[0].data)
		ex := rec.ex
		ex.SetNowait(true)
		if err := ex.Respond(head("200 OK"), nil, false); err != nil {
			t.Fatal(err)
		}
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		if !writeUntilPending(t, 1000, func() error { return ex.Write(chunk, false) }) {
			t.Fatal("64 MB went out without ever pending: the client does not read")
		}
		go io.Copy(io.Discard, r) // now the client reads
		evs := h.pollEvents(fd)
		if len(evs) != 1 || evs[0].typ != EvWritten || evs[0].code != 0 {
			t.Fatalf("want one written event, got %+v", evs)
		}
		if err := ex.Write(nil, true); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPollBufferTooSmallKeepsEvent(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, mode)
		fd, _ := h.srv.ReadyFD()
		c, _ := dial(t, addr)
		h.srv.Poll(h.buf[:0], testCode) // arms the descriptor
		io.WriteString(c, "GET /a-rather-long-path HTTP/1.1\r\nHost: x\r\n\r\n")
		waitFD(t, fd, 5*time.Second)
		small := make([]byte, 20)
		deadline := time.Now().Add(5 * time.Second)
		var need int
		var err error
		for time.Now().Before(deadline) {
			if need, err = h.srv.Poll(small, testCode); err != ErrTimeout {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != ErrBuffer || need <= len(small) {
			t.Fatalf("Poll into 20 bytes: %d %v", need, err)
		}
		evs := h.pollEvents(fd)
		if len(evs) != 1 || evs[0].typ != EvRequest || !bytes.Contains(evs[0].data, []byte("/a-rather-long-path")) {
			t.Fatalf("the request was lost: %+v", evs)
		}
	})
}

func TestWSSendNowaitToSlowClientPendsThenCompletes(t *testing.T) {
	forEachEventMode(t, func(t *testing.T, mode func(*Options)) {
		h, addr := startServer(t, mode)
		fd, _ := h.srv.ReadyFD()
		conns := make(chan io.Reader, 1)
		go func() {
			conn, br, _, err := ws.Dial(t.Context(), "ws://"+addr+"/")
			if err != nil {
				t.Error(err)
				close(conns)
				return
			}
			t.Cleanup(func() { conn.Close() })
			if br != nil {
				conns <- io.MultiReader(br, conn)
			} else {
				conns <- conn
			}
		}()
		rec := h.parse(h.pollEvents(fd)[0].data)
		if err := rec.ex.AcceptWebSocket("", nil); err != nil {
			t.Fatal(err)
		}
		client := <-conns
		msg := bytes.Repeat([]byte("y"), 64<<10)
		if !writeUntilPending(t, 2000, func() error { return rec.ex.WSSendNowait(WSBinary, msg) }) {
			t.Fatal("128 MB sent to a client that reads nothing, never pending")
		}
		go io.Copy(io.Discard, client)
		evs := h.pollEvents(fd)
		if len(evs) != 1 || evs[0].typ != EvWritten || evs[0].code != 0 {
			t.Fatalf("want one written event, got %+v", evs)
		}
		rec.ex.WSRelease()
	})
}
