package h1

import "bytes"

// Chunked-body reader states (RFC 9112 7.1).
const (
	chSize     uint8 = iota // chunk-size [ chunk-ext ] CRLF
	chData                  // chunk-data
	chCRLF                  // CRLF after chunk-data
	chTrailers              // trailer-section CRLF
)

// maxChunkLine bounds a chunk-size line with its extensions: extensions carry nothing
// we use, and an unbounded line would let a peer make us buffer without limit.
const maxChunkLine = 4096

var errChunkLine = newErr(400, "chunk header too long")

// nextBody delivers body bytes of the current request.
func (c *Conn) nextBody() Event {
	if !c.chunked {
		if c.remaining == 0 {
			return c.endBody()
		}
		return c.deliver()
	}
	for {
		switch c.chunkSt {
		case chSize:
			if ev, ok := c.chunkSize(); !ok {
				return ev
			}
		case chData:
			if c.remaining == 0 {
				c.chunkSt = chCRLF
				continue
			}
			return c.deliver()
		case chCRLF:
			avail := c.buf[c.r:]
			if len(avail) > 0 && avail[0] != '\r' || len(avail) > 1 && avail[1] != '\n' {
				return c.fail(errChunkCRLF)
			}
			if len(avail) < 2 {
				return c.needBody()
			}
			c.r += 2
			c.chunkSt = chSize
		default: // chTrailers
			return c.trailerSection()
		}
	}
}

// deliver hands out what is buffered of the current length-delimited stretch.
func (c *Conn) deliver() Event {
	n := int64(len(c.buf) - c.r)
	if n == 0 {
		return c.needBody()
	}
	if n > c.remaining {
		n = c.remaining
	}
	c.data = c.buf[c.r : c.r+int(n)]
	c.r += int(n)
	c.remaining -= n
	c.sawData = true
	return DataEvent
}

func (c *Conn) needBody() Event {
	if c.eof {
		return c.fail(errIncomplete)
	}
	return NeedData
}

func (c *Conn) endBody() Event {
	c.bodyDone = true
	c.state = stPaused
	return EndOfMessage
}

// chunkSize parses a chunk-size line. ok reports progress; otherwise ev is the event
// to return.
func (c *Conn) chunkSize() (ev Event, ok bool) {
	b := c.buf[c.r:]
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if len(b) > maxChunkLine {
			return c.fail(errChunkLine), false
		}
		return c.needBody(), false
	}
	if nl+1 > maxChunkLine {
		return c.fail(errChunkLine), false
	}
	if nl == 0 || b[nl-1] != '\r' {
		return c.fail(errBareLF), false
	}
	line := b[:nl-1]
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if size > maxLength>>4 {
			return c.fail(errChunkSize), false
		}
		size = size<<4 | int64(d)
	}
	if size > maxLength {
		return c.fail(errChunkSize), false
	}
	if i == 0 {
		return c.fail(errChunkSize), false
	}
	if !validChunkExt(line[i:]) {
		return c.fail(errChunkExt), false
	}
	c.r += nl + 1
	if size == 0 {
		c.chunkSt = chTrailers
		c.scan = 0
		return 0, true
	}
	if c.lim.MaxBodySize > 0 && c.bodyRead+size > c.lim.MaxBodySize {
		return c.fail(errBodyTooLarge), false
	}
	c.bodyRead += size
	c.remaining = size
	c.chunkSt = chData
	return 0, true
}

func unhex(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	case b >= 'A' && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// validChunkExt checks *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
// Anything else after the size, including bare trailing whitespace, is refused.
func validChunkExt(p []byte) bool {
	for len(p) > 0 {
		p = trimLeftOWS(p)
		if len(p) == 0 || p[0] != ';' {
			return false
		}
		p = trimLeftOWS(p[1:])
		n := tokenLen(p)
		if n == 0 {
			return false
		}
		p = trimLeftOWS(p[n:])
		if len(p) == 0 || p[0] != '=' {
			continue
		}
		p = trimLeftOWS(p[1:])
		if len(p) > 0 && p[0] == '"' {
			n = quotedLen(p)
		} else {
			n = tokenLen(p)
		}
		if n == 0 {
			return false
		}
		p = trimLeftOWS(p[n:])
	}
	return true
}

func trimLeftOWS(p []byte) []byte {
	for len(p) > 0 && isOWS(p[0]) {
		p = p[1:]
	}
	return p
}

func tokenLen(p []byte) int {
	for i, b := range p {
		if class[b]&cToken == 0 {
			return i
		}
	}
	return len(p)
}

// quotedLen returns the length of the quoted-string starting p, or 0 if invalid.
func quotedLen(p []byte) int {
	for i := 1; i < len(p); i++ {
		switch b := p[i]; {
		case b == '"':
			return i + 1
		case b == '\\':
			i++
			if i == len(p) || class[p[i]]&cReason == 0 {
				return 0
			}
		case class[b]&cReason == 0:
			return 0
		}
	}
	return 0
}

// trailerSection reads the trailer fields after the last chunk, bounded like a head.
func (c *Conn) trailerSection() Event {
	end, e := scanFields(c.buf[c.r:], &c.scan, c.lim.MaxHeadSize, errTrailersLarge)
	if e != nil {
		return c.fail(e)
	}
	if end < 0 {
		return c.needBody()
	}
	block := c.buf[c.r : c.r+end]
	c.r += end
	c.trailers = c.trailers[:0]
	for len(block) > 2 {
		nl := bytes.IndexByte(block, '\n')
		f, e := parseField(block[:nl-1])
		if e != nil {
			return c.fail(e)
		}
		c.trailers = append(c.trailers, f)
		block = block[nl+1:]
	}
	c.hasTrail = len(c.trailers) > 0
	return c.endBody()
}

// discard skips the unread rest of a length-delimited body after its response was
// finished; it reports whether the body is now fully skipped.
func (c *Conn) discard() bool {
	n := int64(len(c.buf) - c.r)
	if n > c.remaining {
		n = c.remaining
	}
	c.r += int(n)
	c.remaining -= n
	return c.remaining == 0
}
