package conn

import "bytes"

// What the first bytes of a cleartext connection are. HTTP/2 with prior
// knowledge starts with its preface, whose first line is enough to decide:
// a bad rest is the HTTP/2 engine's to refuse with GOAWAY, not a 505 from
// the HTTP/1.1 parser (h2spec 3.5/2). A first line that names no HTTP
// version at all is not HTTP: the connection is closed without an answer.
const (
	prefaceLine = "PRI * HTTP/2.0\r\n"
	sniffLimit  = 4096 // bytes of a first line worth waiting for
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
	line, _, found := bytes.Cut(b, []byte("\r\n"))
	switch {
	case !found && len(b) < sniffLimit:
		return SniffMore
	case found && !bytes.Contains(line, []byte(" HTTP/")):
		return SniffJunk
	}
	return SniffH1
}
