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

const (
	sniffMore = iota
	sniffH2
	sniffH1
	sniffJunk
)

func sniffPreface(b []byte) int {
	n := min(len(b), len(prefaceLine))
	if string(b[:n]) == prefaceLine[:n] {
		if n == len(prefaceLine) {
			return sniffH2
		}
		return sniffMore
	}
	line, _, found := bytes.Cut(b, []byte("\r\n"))
	switch {
	case !found && len(b) < sniffLimit:
		return sniffMore
	case found && !bytes.Contains(line, []byte(" HTTP/")):
		return sniffJunk
	}
	return sniffH1
}
