package h1

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// feed gives all of in to a new Conn and runs Next until it needs data, pauses or
// fails. It returns the Conn, the last event and the concatenated body.
func feed(t *testing.T, lim Limits, in string) (*Conn, Event, string) {
	t.Helper()
	c := NewConn(lim)
	c.Recv([]byte(in))
	var body bytes.Buffer
	for i := 0; i < 1000; i++ {
		ev := c.Next()
		switch ev {
		case RequestEvent, EndOfMessage:
		case DataEvent:
			body.Write(c.Data())
		default:
			return c, ev, body.String()
		}
	}
	t.Fatal("no progress")
	return nil, 0, ""
}

// status returns the error status feeding in produces, or 0.
func status(t *testing.T, lim Limits, in string) int {
	t.Helper()
	c, ev, _ := feed(t, lim, in)
	if ev == ErrorEvent {
		return c.Err().Status
	}
	return 0
}

// trace drives a Conn over in, split into pieces of size step (0: all at once),
// answering every request with an empty 200 when paused. It returns a canonical
// description of the events: Data merged, requests and trailers summarized.
func trace(in []byte, step int, lim Limits) string {
	c := NewConn(lim)
	var sb strings.Builder
	var data []byte
	flush := func() {
		if data != nil {
			fmt.Fprintf(&sb, "data %q\n", data)
			data = nil
		}
	}
	pos := 0
	for steps := 0; steps < 100000; steps++ {
		ev := c.Next()
		if ev != DataEvent && ev != NeedData {
			flush()
		}
		switch ev {
		case NeedData:
			if pos == len(in) {
				c.Recv(nil)
				continue
			}
			n := len(in) - pos
			if step > 0 && n > step {
				n = step
			}
			// Alternate both ways of feeding.
			if steps%2 == 0 {
				c.Recv(in[pos : pos+n])
			} else {
				b := c.RecvBuffer(n)
				copy(b, in[pos:pos+n])
				c.Commit(n)
			}
			pos += n
		case RequestEvent:
			r := c.Request()
			fmt.Fprintf(&sb, "request %s %s %s %q %q %d.%d cl=%d ch=%v ka=%v",
				r.Method, r.Target, r.Path, r.Query, r.Authority, r.Major, r.Minor, r.ContentLength, r.Chunked, r.KeepAlive)
			for _, f := range r.Fields {
				fmt.Fprintf(&sb, " [%s=%s]", f.Name, f.Value)
			}
			sb.WriteString("\n")
		case DataEvent:
			data = append(data, c.Data()...)
			if data == nil {
				data = []byte{}
			}
		case EndOfMessage:
			fmt.Fprintf(&sb, "end %d\n", len(c.Trailers()))
			for _, f := range c.Trailers() {
				fmt.Fprintf(&sb, " trailer [%s=%s]\n", f.Name, f.Value)
			}
		case Paused:
			if _, err := c.WriteResponse(nil, &Response{Status: 200, End: true}); err != nil {
				fmt.Fprintf(&sb, "respond error %v\n", err)
				return sb.String()
			}
			sb.WriteString("responded\n")
		case ErrorEvent:
			fmt.Fprintf(&sb, "error %d %s\n", c.Err().Status, c.Err().Reason)
		case Closed:
			sb.WriteString("closed\n")
			return sb.String()
		}
	}
	return sb.String() + "too many steps\n"
}

// parsed is a response read back from bytes.
type parsed struct {
	status  int
	fields  []string // "Name: value" as written
	body    string   // de-chunked
	chunked bool
	rest    string
}

func (p parsed) get(name string) (string, bool) {
	for _, f := range p.fields {
		i := strings.IndexByte(f, ':')
		if strings.EqualFold(f[:i], name) {
			return strings.TrimSpace(f[i+1:]), true
		}
	}
	return "", false
}

// parseResponse reads one response (for a request of the given method) from out.
func parseResponse(t *testing.T, out []byte, method string) parsed {
	t.Helper()
	s := string(out)
	end := strings.Index(s, "\r\n\r\n")
	if end < 0 {
		t.Fatalf("no end of head in %q", s)
	}
	lines := strings.Split(s[:end], "\r\n")
	var p parsed
	if _, err := fmt.Sscanf(lines[0], "HTTP/1.1 %d", &p.status); err != nil {
		t.Fatalf("status line %q", lines[0])
	}
	p.fields = lines[1:]
	rest := s[end+4:]
	te, _ := p.get("Transfer-Encoding")
	cl, hasCL := p.get("Content-Length")
	switch {
	case method == "HEAD" || p.status/100 == 1 || p.status == 204 || p.status == 304:
	case te == "chunked":
		p.chunked = true
		for {
			var n int
			i := strings.Index(rest, "\r\n")
			if _, err := fmt.Sscanf(rest[:i], "%x", &n); err != nil {
				t.Fatalf("chunk size in %q", rest)
			}
			rest = rest[i+2:]
			if n == 0 {
				j := strings.Index(rest, "\r\n\r\n")
				if strings.HasPrefix(rest, "\r\n") {
					j = -2
				}
				if j > 0 {
					p.fields = append(p.fields, strings.Split(rest[:j], "\r\n")...)
				}
				rest = rest[j+4:]
				break
			}
			p.body += rest[:n]
			if rest[n:n+2] != "\r\n" {
				t.Fatalf("chunk not followed by CRLF: %q", rest)
			}
			rest = rest[n+2:]
		}
	case hasCL:
		var n int
		fmt.Sscanf(cl, "%d", &n)
		if n > len(rest) {
			n = len(rest)
		}
		p.body, rest = rest[:n], rest[n:]
	default:
		p.body, rest = rest, ""
	}
	p.rest = rest
	return p
}

// ready returns a Conn that has read the head (and all the body) of in.
func ready(t *testing.T, in string) *Conn {
	t.Helper()
	c, ev, _ := feed(t, Limits{}, in)
	if ev != Paused && ev != NeedData {
		t.Fatalf("feeding %q: %v %v", in, ev, c.Err())
	}
	return c
}
