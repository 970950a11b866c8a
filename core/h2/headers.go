package h2

import (
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Header blocks: HEADERS plus CONTINUATION frames are collected, then decoded in one
// go with the connection's HPACK decoder. Every block is decoded, even one that
// belongs to a stream we refuse or ignore, or the HPACK state would drift. Request
// validation (RFC 9113 8.2, 8.3) runs field by field in the decoder's callback.

type blockKind uint8

const (
	blockRequest  blockKind = iota // opens a new stream
	blockTrailers                  // trailers of an open stream
	blockIgnore                    // decode only (then maybe a stream error)
)

// headerBlock is a header block being received.
type headerBlock struct {
	id        uint32 // 0 when no block is in progress
	kind      blockKind
	endStream bool
	errCode   http2.ErrCode // for blockIgnore: stream error after decoding (0: none)
	conts     int
	buf       []byte
}

func (h *headerBlock) active() bool { return h.id != 0 }

// hdrState is what the emit callback gathers for the block being decoded.
type hdrState struct {
	collect    bool // store fields (request or trailers)
	trailers   bool
	size       uint64 // RFC 9113 6.5.2 header list size so far
	tooLarge   bool
	malformed  bool
	sawRegular bool
	fieldStart int // index in c.fields

	method, scheme, authority, path, protocol []byte
	hasMethod, hasScheme, hasAuthority        bool
	hasPath, hasProtocol                      bool
	contentLength                             int64
}

func (c *Conn) onHeaders(f *http2.HeadersFrame) {
	id := f.StreamID
	if id%2 == 0 {
		c.connError(http2.ErrCodeProtocol, "HEADERS on an even stream id")
		return
	}
	b := &c.hblock
	*b = headerBlock{id: id, endStream: f.StreamEnded(), buf: b.buf[:0]}
	s := c.stream(id)
	switch {
	case s == nil && id > c.maxClientID:
		c.maxClientID = id
		b.kind = blockRequest
		if c.goAwaySent && id > c.goAwayLast {
			b.kind = blockIgnore // after our GOAWAY: not processed (RFC 9113 6.8)
			c.recordClosed(id)
		}
	case s == nil:
		c.connError(http2.ErrCodeProtocol, "HEADERS on a stream id lower than a previous one")
		return
	case s.closed:
		if !s.resetByUs {
			c.connError(http2.ErrCodeStreamClosed, "HEADERS on a closed stream")
			return
		}
		b.kind = blockIgnore
	case s.remoteEnded:
		b.kind, b.errCode = blockIgnore, http2.ErrCodeStreamClosed
	default:
		b.kind = blockTrailers
		if !b.endStream {
			b.kind, b.errCode = blockIgnore, http2.ErrCodeProtocol // trailers must end the stream
		}
	}
	if f.HasPriority() && f.Priority.StreamDep == id && b.errCode == 0 {
		b.errCode = http2.ErrCodeProtocol // depends on itself (RFC 9113 5.3.1)
		if b.kind == blockRequest {
			b.kind = blockIgnore
			c.recordClosed(id)
		}
	}
	frag := f.HeaderBlockFragment()
	if f.HeadersEnded() {
		c.finishBlock(frag)
		return
	}
	b.buf = append(b.buf, frag...)
}

func (c *Conn) onContinuation(flags http2.Flags, frag []byte) {
	b := &c.hblock
	b.conts++
	if b.conts > c.lim.MaxContinuation {
		c.connError(http2.ErrCodeEnhanceYourCalm, "too many CONTINUATION frames")
		return
	}
	// Compressed size bound: even 30-bit Huffman codes cannot make a block over 4x
	// the list limit decode within the limit.
	if len(b.buf)+len(frag) > 4*int(c.lim.MaxHeaderListSize)+4096 {
		c.connError(http2.ErrCodeEnhanceYourCalm, "header block too large")
		return
	}
	b.buf = append(b.buf, frag...)
	if flags.Has(http2.FlagContinuationEndHeaders) {
		c.finishBlock(b.buf)
	}
}

// finishBlock decodes a complete header block and acts on it.
func (c *Conn) finishBlock(block []byte) {
	b := c.hblock
	c.hblock.id = 0
	c.hdr = hdrState{
		collect:       b.kind != blockIgnore,
		trailers:      b.kind == blockTrailers,
		fieldStart:    len(c.fields),
		contentLength: -1,
	}
	_, err := c.dec.Write(block)
	if err == nil {
		err = c.dec.Close()
	}
	if err != nil {
		c.connError(http2.ErrCodeCompression, "HPACK: "+err.Error())
		return
	}
	switch b.kind {
	case blockIgnore:
		if b.errCode != 0 {
			c.streamError(b.id, b.errCode)
		}
	case blockRequest:
		c.finishRequest(b.id, b.endStream)
	case blockTrailers:
		c.finishTrailers(b.id)
	}
}

// onField is the HPACK decoder's callback.
func (c *Conn) onField(f hpack.HeaderField) {
	h := &c.hdr
	h.size += uint64(len(f.Name) + len(f.Value) + 32)
	if h.size > uint64(c.lim.MaxHeaderListSize) {
		h.tooLarge = true
	}
	if !h.collect || h.tooLarge || h.malformed {
		return
	}
	name, value := f.Name, f.Value
	if !validValue(value) {
		h.malformed = true
		return
	}
	if len(name) > 0 && name[0] == ':' {
		if h.trailers || h.sawRegular {
			h.malformed = true // pseudo-headers only at the start of a request
			return
		}
		var dst *[]byte
		var seen *bool
		switch name {
		case ":method":
			dst, seen = &h.method, &h.hasMethod
		case ":scheme":
			dst, seen = &h.scheme, &h.hasScheme
		case ":authority":
			dst, seen = &h.authority, &h.hasAuthority
		case ":path":
			dst, seen = &h.path, &h.hasPath
		case ":protocol":
			if !c.lim.EnableConnectProtocol {
				h.malformed = true
				return
			}
			dst, seen = &h.protocol, &h.hasProtocol
		default:
			h.malformed = true // unknown, or a response pseudo-header
			return
		}
		if *seen {
			h.malformed = true
			return
		}
		*seen = true
		*dst = c.copyStr(value)
		return
	}
	h.sawRegular = true
	if !validName(name) {
		h.malformed = true
		return
	}
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		h.malformed = true // connection-specific (RFC 9113 8.2.2)
		return
	case "te":
		if !asciiEqualFold(value, "trailers") {
			h.malformed = true
			return
		}
	case "content-length":
		if h.trailers {
			break
		}
		n, ok := parseContentLength(value)
		if !ok || h.contentLength >= 0 && h.contentLength != n {
			h.malformed = true
			return
		}
		h.contentLength = n
	}
	c.fields = append(c.fields, Field{Name: c.copyStr(name), Value: c.copyStr(value)})
}

// copyStr copies s into the arena. Growing the arena leaves earlier slices pointing
// at the old array, which stays valid; the arena is only reset by Recv.
func (c *Conn) copyStr(s string) []byte {
	start := len(c.arena)
	c.arena = append(c.arena, s...)
	return c.arena[start:len(c.arena):len(c.arena)]
}

func (c *Conn) finishRequest(id uint32, endStream bool) {
	h := &c.hdr
	fields := c.fields[h.fieldStart:len(c.fields):len(c.fields)]
	if h.tooLarge {
		c.engineReject(id, 431, endStream) // fields were not all kept: judge nothing else
		return
	}
	if h.malformed || !c.validPseudo() {
		c.recordClosed(id)
		c.streamError(id, http2.ErrCodeProtocol)
		return
	}
	if c.clientOpen >= int(c.lim.MaxConcurrentStreams) {
		c.recordClosed(id)
		c.streamError(id, http2.ErrCodeRefusedStream)
		return
	}
	if endStream && h.contentLength > 0 {
		c.recordClosed(id)
		c.streamError(id, http2.ErrCodeProtocol) // content-length promises a body that is not there
		return
	}
	if c.lim.MaxBodySize > 0 && h.contentLength > c.lim.MaxBodySize {
		c.engineReject(id, 413, endStream)
		return
	}
	s := c.newStream(id)
	s.known = true
	s.contentLength = h.contentLength
	s.remoteEnded = endStream

	var r *Request
	if c.reqsUsed < len(c.reqs) {
		r = c.reqs[c.reqsUsed]
	} else {
		r = new(Request)
		c.reqs = append(c.reqs, r)
	}
	c.reqsUsed++
	*r = Request{
		StreamID:      id,
		Method:        h.method,
		Scheme:        h.scheme,
		Authority:     h.authority,
		Path:          h.path,
		Protocol:      h.protocol,
		Fields:        fields,
		EndStream:     endStream,
		ContentLength: h.contentLength,
	}
	c.push(event{kind: RequestEvent, id: id, req: r})
}

// validPseudo checks the request pseudo-header set (RFC 9113 8.3.1, RFC 8441 4).
func (c *Conn) validPseudo() bool {
	h := &c.hdr
	if !h.hasMethod || len(h.method) == 0 || !validToken(h.method) {
		return false
	}
	if string(h.method) == "CONNECT" && !h.hasProtocol {
		// Plain CONNECT: only :method and :authority.
		return h.hasAuthority && len(h.authority) > 0 && !h.hasScheme && !h.hasPath
	}
	if h.hasProtocol && (string(h.method) != "CONNECT" || len(h.protocol) == 0) {
		return false
	}
	if !h.hasScheme || len(h.scheme) == 0 || !h.hasPath || len(h.path) == 0 {
		return false
	}
	if h.path[0] != '/' && !(string(h.path) == "*" && string(h.method) == "OPTIONS") {
		return false
	}
	return true
}

func (c *Conn) finishTrailers(id uint32) {
	h := &c.hdr
	s := c.stream(id)
	if h.malformed {
		c.streamError(id, http2.ErrCodeProtocol)
		return
	}
	if h.tooLarge {
		c.streamError(id, http2.ErrCodeEnhanceYourCalm)
		return
	}
	if s.contentLength >= 0 && s.bodyRecv != s.contentLength {
		c.streamError(id, http2.ErrCodeProtocol)
		return
	}
	if !s.draining {
		c.push(event{kind: EndStreamEvent, id: id, trailers: c.fields[h.fieldStart:len(c.fields):len(c.fields)]})
	}
	c.endRemote(s)
}

// engineReject answers a request the host never sees (431, 413) and, if the client
// is still sending, asks it to stop with RST_STREAM NO_ERROR.
func (c *Conn) engineReject(id uint32, status int, endStream bool) {
	if !c.spendReset() {
		return
	}
	c.enc.begin()
	c.enc.status(status)
	c.enc.field("content-length", "0")
	c.writeEncoded(http2.FrameHeaders, id, 0, true)
	if !endStream {
		c.writeRST(id, http2.ErrCodeNo)
	}
	c.recordClosed(id)
}

// bodyTooLarge handles a request body that crossed MaxBodySize.
func (c *Conn) bodyTooLarge(s *stream) {
	if !c.spendReset() {
		return
	}
	code := http2.ErrCodeCancel
	if !s.respSent {
		c.enc.begin()
		c.enc.status(413)
		c.enc.field("content-length", "0")
		c.writeEncoded(http2.FrameHeaders, s.id, 0, true)
		code = http2.ErrCodeNo
	}
	c.writeRST(s.id, code)
	s.resetByUs = true
	c.push(event{kind: ResetEvent, id: s.id, code: code})
	c.closeStream(s)
}

// Field syntax (RFC 9113 8.2.1, RFC 9110 5.5).

var tokenTable = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return
}()

// validName: a non-empty lowercase token (uppercase makes a request malformed).
func validName[S ~string | ~[]byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !tokenTable[b] || 'A' <= b && b <= 'Z' {
			return false
		}
	}
	return true
}

func validToken[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return len(s) > 0
}

// validValue: no NUL, CR or LF, no leading or trailing SP/HTAB.
func validValue[S ~string | ~[]byte](s S) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0, '\r', '\n':
			return false
		}
	}
	if n := len(s); n > 0 && (isWS(s[0]) || isWS(s[n-1])) {
		return false
	}
	return true
}

func isWS(b byte) bool { return b == ' ' || b == '\t' }

func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lower[i] {
			return false
		}
	}
	return true
}

func parseContentLength(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}
