package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// lengthCases: an app whose body disagrees with its Content-Length. The
// client gets at most the declared bytes, then a cut; the host gets
// ErrLength and, for its log, a record with status 0.
var lengthCases = []struct {
	name     string
	cl       string
	first    string // body given with the head
	more     string // body given in a write after it ("" with end on the head)
	wire     string // what the client may receive
	declared int
	gave     int
}{
	{"over, in one call", "3", "this is nineteen b\n", "", "thi", 3, 19},
	{"over, in a later write", "10", "01234", "5678901234", "0123456789", 10, 15},
	{"short", "30", "short\n", "", "short\n", 30, 6},
}

func answerLength(t *testing.T, p *pulled, cl, first, more string) error {
	t.Helper()
	h := head("200 OK", "Content-Length", cl)
	if more == "" {
		return p.ex.Respond(h, []byte(first), true)
	}
	if err := p.ex.Respond(h, []byte(first), false); err != nil {
		return err
	}
	return p.ex.Write([]byte(more), true)
}

func checkLengthRecord(t *testing.T, h *host, path string, declared, gave int) {
	t.Helper()
	rec := h.nextRecord()
	want := fmt.Sprintf("0 the response body disagrees with its Content-Length: declared %d, the app gave %d", declared, gave)
	if rec.flags != reqAnswered || !strings.HasPrefix(rec.body, want) || rec.fields[0] != "GET" || rec.fields[1] != path {
		t.Errorf("record %d %q %q, want %q", rec.flags, rec.fields, rec.body, want)
	}
}

func TestContentLengthMismatchH1(t *testing.T) {
	bothPaths(t, func(t *testing.T, inline bool) {
		h, addr := startServer(t, func(o *Options) { o.InlineIO = inline; o.ReportAnswers = true })
		for _, tc := range lengthCases {
			c, r := dial(t, addr)
			fmt.Fprint(c, "GET /len HTTP/1.1\r\nHost: x\r\n\r\n")
			p := h.next()
			if err := answerLength(t, p, tc.cl, tc.first, tc.more); err != ErrLength {
				t.Errorf("%s: %v, want ErrLength", tc.name, err)
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got, _ := io.ReadAll(resp.Body) // a short body ends in an unexpected EOF
			rest, _ := io.ReadAll(r)        // and nothing comes after it: closed
			if string(got) != tc.wire || len(rest) != 0 || resp.ContentLength != int64(tc.declared) {
				t.Errorf("%s: body %q, then %q", tc.name, got, rest)
			}
			checkLengthRecord(t, h, "/len", tc.declared, tc.gave)
		}
	})
}

func TestContentLengthMismatchH2(t *testing.T) {
	h, addr := startServer(t, func(o *Options) { o.ReportAnswers = true })
	r := dialH2(t, addr)
	for i, tc := range lengthCases {
		id := uint32(2*i + 1)
		r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(getFields("/len")...),
			EndStream: true, EndHeaders: true})
		p := h.next()
		if err := answerLength(t, p, tc.cl, tc.first, tc.more); err != ErrLength {
			t.Errorf("%s: %v, want ErrLength", tc.name, err)
		}
		var body []byte
		var ended bool
		var reset http2.ErrCode = 999
		for reset == 999 && !ended {
			f, err := r.fr.ReadFrame()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			switch f := f.(type) {
			case *http2.DataFrame:
				if f.StreamID == id {
					body = append(body, f.Data()...)
					ended = f.StreamEnded()
				}
			case *http2.MetaHeadersFrame:
				ended = f.StreamID == id && f.StreamEnded()
			case *http2.RSTStreamFrame:
				if f.StreamID == id {
					reset = f.ErrCode
				}
			}
		}
		if ended || reset != http2.ErrCodeInternal || string(body) != tc.wire {
			t.Errorf("%s: body %q, END_STREAM %v, RST_STREAM %v", tc.name, body, ended, reset)
		}
		checkLengthRecord(t, h, "/len", tc.declared, tc.gave)
	}
}
