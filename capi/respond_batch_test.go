package main

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func batchRecord(id uint64, head, body string) []byte {
	r := binary.LittleEndian.AppendUint64(nil, id)
	r = binary.LittleEndian.AppendUint32(r, 1) // PORTICO_END
	r = binary.LittleEndian.AppendUint32(r, uint32(len(head)))
	r = binary.LittleEndian.AppendUint32(r, uint32(len(body)))
	return append(append(r, head...), body...)
}

// TestRespondBatch: one crossing answers several requests as
// portico_request_respond_nowait would; a refused head is answered 500 and
// reported; a malformed queue is refused.
func TestRespondBatch(t *testing.T) {
	h := newHarness(t, nil)
	defer h.cleanup()
	s, addr := h.listening()
	rec := make([]byte, 1<<17)
	var clients []net.Conn
	var ids []uint64
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		if rc := hkServerNext(s, 2000, rec); rc < 16 {
			t.Fatalf("next: %d", rc)
		}
		clients = append(clients, c)
		ids = append(ids, binary.LittleEndian.Uint64(rec))
	}
	var queue []byte
	queue = append(queue, batchRecord(ids[0], "200 OK\x00content-type\x00text/plain", "first")...)
	queue = append(queue, batchRecord(ids[1], "200 OK\x00x-bad\x00a\r\nx-injected: 1", "never")...)
	queue = append(queue, batchRecord(ids[2], "404 Not Found", "")...)
	bad := make([]uint64, 4)
	if got := hkRespondBatch(queue, bad); got != 1 || bad[0] != ids[1] {
		t.Fatalf("refused %d %v, want 1 [%d]", got, bad[:max(got, 0)], ids[1])
	}
	for i, want := range []string{"HTTP/1.1 200 OK\r\n", "HTTP/1.1 500 ", "HTTP/1.1 404 Not Found\r\n"} {
		clients[i].SetReadDeadline(time.Now().Add(2 * time.Second))
		got, _ := io.ReadAll(clients[i])
		if !strings.HasPrefix(string(got), want) || strings.Contains(string(got), "x-injected") {
			t.Errorf("client %d got %q, want %q...", i, got, want)
		}
		if i == 0 && !strings.HasSuffix(string(got), "\r\n\r\nfirst") {
			t.Errorf("client 0 got %q, want the body", got)
		}
	}
	// Answered: the ids are spent. Not refused heads: not listed.
	if got := hkRespondBatch(batchRecord(ids[0], "200 OK", "again"), bad); got != 0 {
		t.Fatalf("a spent id: %d, want 0", got)
	}
	whole := batchRecord(1<<62, "200 OK", "body")
	for _, q := range [][]byte{whole[:10], whole[:len(whole)-1], batchRecord(1<<62, "", "")} {
		if got := hkRespondBatch(q, bad); got != errInvalid {
			t.Errorf("malformed queue %q: %d, want PORTICO_ERR_INVALID", q, got)
		}
	}
	if got := hkRespondBatch(nil, nil); got != 0 {
		t.Errorf("empty queue: %d", got)
	}
}
