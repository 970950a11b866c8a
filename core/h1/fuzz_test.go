package h1

import (
	"testing"
)

// FuzzRequest feeds arbitrary bytes, split at a fuzzed point, and answers like a
// host would. mode picks how: bit 0 answers as soon as the head arrives (leaving the
// body to be skipped), bit 1 streams the answer instead of End, bit 2 uses
// RecvBuffer/Commit, bits 3-4 pick small limits.
func FuzzRequest(ff *testing.F) {
	seeds := append([]string{}, validStreams...)
	seeds = append(seeds,
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nab",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
		chunkedHead+"0x5\r\nhello\r\n0\r\n\r\n",
		chunkedHead+"5 \r\nhello\r\n0\r\n\r\n",
		chunkedHead+"-5\r\nhello\r\n0\r\n\r\n",
		chunkedHead+"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		chunkedHead+"5\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nCONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\nxyz",
	)
	for i, s := range seeds {
		ff.Add([]byte(s), uint16(len(s)/2), uint8(i))
	}
	ff.Fuzz(func(t *testing.T, data []byte, split uint16, mode uint8) {
		lim := Limits{}
		if mode&8 != 0 {
			lim = Limits{MaxHeadSize: 64, MaxBodySize: 16, MaxDiscard: 4}
		}
		if mode&16 != 0 {
			lim.MaxHeadSize = 24
		}
		c := NewConn(lim)
		cut := int(split)
		if cut > len(data) {
			cut = len(data)
		}
		pieces := [][]byte{data[:cut], data[cut:]}
		eof := false
		recv := func(p []byte) {
			if mode&4 != 0 {
				b := c.RecvBuffer(len(p))
				c.Commit(copy(b, p))
				return
			}
			c.Recv(p)
		}

		const (
			outside = iota // between requests
			inBody
			paused
			closed
		)
		st := outside
		var cl, got int64
		var chunked, answered bool
		var out []byte
		respond := func() {
			r := &Response{Status: 200, Body: []byte("ok"), End: mode&2 == 0}
			var err error
			out, err = c.WriteResponse(out[:0], r)
			if err != nil {
				t.Fatalf("WriteResponse: %v", err)
			}
			if !r.End {
				if out, err = c.WriteBody(out, []byte("more")); err != nil {
					t.Fatalf("WriteBody: %v", err)
				}
				if out, err = c.EndResponse(out, []Field{f("X", "y")}); err != nil {
					t.Fatalf("EndResponse: %v", err)
				}
			}
			answered = true
		}
		for steps := 0; steps < 10000; steps++ {
			ev := c.Next()
			if st == closed && ev != Closed {
				t.Fatalf("%v after Closed", ev)
			}
			switch ev {
			case NeedData:
				if eof {
					t.Fatal("NeedData after EOF")
				}
				if st == paused {
					t.Fatal("NeedData while paused")
				}
				if len(pieces) == 0 {
					recv(nil)
					eof = true
					continue
				}
				recv(pieces[0])
				pieces = pieces[1:]
			case RequestEvent:
				if st != outside {
					t.Fatalf("request in state %d", st)
				}
				r := c.Request()
				if !isToken(r.Method) || r.Major != 1 || r.Minor > 1 || len(r.Target) == 0 {
					t.Fatalf("bad request %+v", r)
				}
				if r.Chunked && r.ContentLength != -1 {
					t.Fatal("chunked with a length")
				}
				for _, fl := range r.Fields {
					if !isToken(fl.Name) || !all(fl.Value, cValue) {
						t.Fatalf("bad field %q", fl)
					}
				}
				st, cl, got, chunked, answered = inBody, r.ContentLength, 0, r.Chunked, false
				if mode&1 != 0 {
					// Answer at once: the body is skipped or the connection closes.
					respond()
					st = outside
					if !c.KeepAlive() {
						st = closed
					}
				}
			case DataEvent:
				if st != inBody {
					t.Fatalf("data in state %d", st)
				}
				if len(c.Data()) == 0 {
					t.Fatal("empty data")
				}
				got += int64(len(c.Data()))
				if !chunked && got > cl {
					t.Fatalf("data %d over Content-Length %d", got, cl)
				}
				if lim.MaxBodySize > 0 && got > lim.MaxBodySize {
					t.Fatalf("data %d over MaxBodySize", got)
				}
			case EndOfMessage:
				if st != inBody {
					t.Fatalf("end in state %d", st)
				}
				if !chunked && cl >= 0 && got != cl || !chunked && cl < 0 && got != 0 {
					t.Fatalf("body %d, Content-Length %d", got, cl)
				}
				if !c.BodyDone() {
					t.Fatal("body not done")
				}
				st = paused
			case Paused:
				if st != paused {
					t.Fatalf("paused in state %d", st)
				}
				if answered {
					t.Fatal("paused after the answer")
				}
				respond()
				st = outside
				if !c.KeepAlive() {
					st = closed
				}
			case ErrorEvent:
				e := c.Err()
				switch e.Status {
				case 400, 413, 414, 431, 501, 505:
				default:
					t.Fatalf("status %d", e.Status)
				}
				if !c.ResponseStarted() {
					if out = c.WriteError(out[:0]); len(out) == 0 {
						t.Fatal("no error response")
					}
				}
				st = closed
			case Closed:
				st = closed
				if steps > 0 && c.Next() != Closed {
					t.Fatal("Closed is not final")
				}
				return
			default:
				t.Fatalf("event %v", ev)
			}
		}
		t.Fatal("too many steps")
	})
}
