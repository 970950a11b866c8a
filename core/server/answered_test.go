package server

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// answerRec is a record as the host pulls it, without the registry
// lookup h.next makes (an answer record's id names nothing).
type answerRec struct {
	id     uint64
	flags  uint32
	fields []string
	body   string
}

func (h *host) nextRecord() answerRec {
	h.t.Helper()
	n, err := h.srv.Next(5*time.Second, h.buf)
	if err != nil {
		h.t.Fatalf("Next: %v", err)
	}
	rec := h.buf[:n]
	hlen := binary.LittleEndian.Uint32(rec[12:])
	return answerRec{id: binary.LittleEndian.Uint64(rec), flags: binary.LittleEndian.Uint32(rec[8:]),
		fields: strings.Split(string(rec[16:16+hlen]), "\x00"), body: string(rec[16+hlen:])}
}

// TestAnswersReachTheHostsLog: with report_answers, what the server answers
// itself comes to the host as a record for its log, on both paths: the
// request line as received, the status and the reason. Its id is dead.
func TestAnswersReachTheHostsLog(t *testing.T) {
	cases := []struct{ in, method, path, proto, body string }{
		{"GET /lower http/1.1\r\nHost: h\r\n\r\n", "", "GET /lower http/1.1", "", "400 malformed HTTP version"},
		{"GET /two HTTP/2.0\r\nHost: h\r\n\r\n", "", "GET /two HTTP/2.0", "", "505 HTTP version not supported"},
		{"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "", "POST /p HTTP/1.1", "",
			"400 invalid Content-Length"},
		{"GET /lf HTTP/1.1\nHost: h\n\n", "", "GET /lf HTTP/1.1", "", "400 bare CR or LF in request head"},
		{"GET /big HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("x", 2000) + "\r\n\r\n", "", "GET /big HTTP/1.1", "",
			"431 request head too large"},
		{"GET /" + strings.Repeat("u", 1100) + " HTTP/1.1\r\nHost: h\r\n\r\n", "", "GET /" + strings.Repeat("u", 1019), "",
			"414 request line too long"},
		{"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
			"GET", "/ws", "HTTP/1.1", "400 missing or repeated Sec-WebSocket-Key"},
	}
	bothPaths(t, func(t *testing.T, inline bool) {
		h, addr := startServer(t, func(o *Options) { o.InlineIO = inline; o.ReportAnswers = true; o.MaxHeadSize = 1024 })
		for _, tc := range cases {
			c, r := dial(t, addr)
			fmt.Fprint(c, tc.in)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("%q: %v", tc.path, err)
			}
			rec := h.nextRecord()
			if rec.flags != reqAnswered || Lookup(rec.id) != nil {
				t.Errorf("%q: flags %d, id live %v", tc.path, rec.flags, Lookup(rec.id) != nil)
			}
			if len(rec.fields) < 9 || rec.fields[0] != tc.method || rec.fields[1] != tc.path || rec.fields[3] != tc.proto ||
				rec.fields[4] != "http" || rec.fields[5] != "127.0.0.1" {
				t.Errorf("%q: head %q", tc.path, rec.fields)
			}
			if rec.body != tc.body || !strings.HasPrefix(rec.body, fmt.Sprint(resp.StatusCode)) {
				t.Errorf("%q: record %q, client got %d", tc.path, rec.body, resp.StatusCode)
			}
		}
	})
}

// TestAnswersIncludeTimeoutsInTheQueue: a request the request timeout
// answered while the host was busy comes as a 503 answer record (without
// report_answers it is skipped, as TestRequestTimeoutSkipsExpiredInQueue
// shows).
func TestAnswersIncludeTimeoutsInTheQueue(t *testing.T) {
	bothPaths(t, func(t *testing.T, inline bool) {
		h, addr := startServer(t, func(o *Options) {
			o.InlineIO = inline
			o.ReportAnswers = true
			o.RequestTimeout = 100 * time.Millisecond
		})
		c, r := dial(t, addr)
		fmt.Fprint(c, "GET /queued?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 503 {
			t.Fatalf("queued request: %v %v", resp, err)
		}
		rec := h.nextRecord()
		if rec.flags != reqAnswered || rec.body != "503 request timeout" ||
			strings.Join(rec.fields[:4], " ") != "GET /queued x=1 HTTP/1.1" || Lookup(rec.id) != nil {
			t.Fatalf("record %d %q %q", rec.flags, rec.fields, rec.body)
		}
	})
}

// TestAnswersOffByDefault: a host that did not ask never sees a record it
// would not understand.
func TestAnswersOffByDefault(t *testing.T) {
	h, addr := startServer(t, nil)
	c, r := dial(t, addr)
	fmt.Fprint(c, "GET / http/1.1\r\nHost: h\r\n\r\n")
	if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 400 {
		t.Fatalf("%v %v", resp, err)
	}
	if n, err := h.srv.Next(300*time.Millisecond, h.buf); err != ErrTimeout {
		t.Fatalf("Next: %d %v", n, err)
	}
}
