package conn

import "testing"

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Sniffed
	}{
		{"PRI * HTTP/2.0\r\n", SniffH2},
		{"PRI * HTTP/2", SniffMore},
		{"GET", SniffMore},
		{"GET / HTTP/1.1", SniffMore},
		{"GET / HTTP/1.1\r\n", SniffH1},
		{"\r\n\r\nGET / HTTP/1.1\r\n", SniffH1},
		{"GET / http/1.1\r\n", SniffH1},    // the parser answers 400
		{"GET /\r\n", SniffH1},             // HTTP/0.9 style: 400
		{"GET / HTTP/3.0\r\n", SniffH1},    // 505
		{"GET / HTTP/1.1\n", SniffH1},      // bare LF: 400
		{"GET /a b HTTP/1.1\r\n", SniffH1}, // 400
		// h2spec 3.5/2: not HTTP/1.x, and not the preface: closed unanswered.
		{"INVALID CONNECTION PREFACE\r\n\r\n", SniffJunk},
		{"GET / SSH-2.0\r\n", SniffJunk},
		{"\x16\x03\x01\x02\x00", SniffJunk}, // TLS on the cleartext port
		{" GET / HTTP/1.1\r\n", SniffJunk},
	} {
		if got := Sniff([]byte(c.in)); got != c.want {
			t.Errorf("Sniff(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
