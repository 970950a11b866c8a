package conn

import (
	"bytes"

	"github.com/portico-http/portico/core/h1"
)

// What the first bytes of a cleartext connection are. HTTP/2 with prior
// knowledge starts with its preface, whose first line is enough to decide:
// a bad rest is the HTTP/2 engine's to refuse with GOAWAY, not a 505 from
// the HTTP/1.1 parser (h2spec 3.5/2). HTTP/1.x starts with a method (a
// token) and a space, after any empty lines (RFC 9112 2.2): that is enough
// to hand the connection to the HTTP/1.1 parser, which answers what is
// wrong further on (400 for "http/1.1", a missing version or a bare LF, 505
// for "HTTP/2.0"). Anything else (TLS on the cleartext port, SSH, binary),
// or a first line whose last word is no HTTP version at all (h2spec 3.5/2's
// "INVALID CONNECTION PREFACE"), is not HTTP: the connection is closed
// without an answer.
const (
	prefaceLine = "PRI * HTTP/2.0\r\n"
	sniffLimit  = 4096 // bytes of empty lines and method worth waiting for
)

// Sniffed is what the first bytes of a cleartext connection are.
type Sniffed int

const (
	SniffMore Sniffed = iota // undecided: read more
	SniffH2                  // the HTTP/2 preface (prior knowledge)
	SniffH1                  // HTTP/1.x (or a preface so broken that HTTP/1.1 must refuse it)
	SniffJunk                // not HTTP: close without an answer
)

// Sniff decides the protocol of a cleartext connection from its first bytes.
// Server mode and connection mode share it.
func Sniff(b []byte) Sniffed {
	n := min(len(b), len(prefaceLine))
	if string(b[:n]) == prefaceLine[:n] {
		if n == len(prefaceLine) {
			return SniffH2
		}
		return SniffMore
	}
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++ // the parser skips empty lines (and refuses a bare LF)
	}
	j := i
	for j < len(b) && h1.IsTokenByte(b[j]) {
		j++
	}
	switch {
	case j == len(b) && len(b) < sniffLimit:
		return SniffMore
	case j == len(b):
		return SniffH1
	case j == i || b[j] != ' ':
		return SniffJunk
	}
	line, _, found := bytes.Cut(b[i:], []byte("\n"))
	if !found {
		if len(b) < sniffLimit {
			return SniffMore
		}
		return SniffH1 // the parser refuses the long line
	}
	// "METHOD TARGET" (HTTP/0.9 style) is HTTP the parser refuses; three
	// words or more must end in a version, "HTTP/" in any case.
	words := bytes.Fields(line)
	if last := words[len(words)-1]; len(words) >= 3 && !(len(last) >= 5 && bytes.EqualFold(last[:5], []byte("HTTP/"))) {
		return SniffJunk
	}
	return SniffH1
}
