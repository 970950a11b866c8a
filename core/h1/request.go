package h1

import "bytes"

// Request is a parsed request head. Its byte slices point into the Conn's receive
// buffer: valid until the next Recv/RecvBuffer.
type Request struct {
	Method    []byte
	Target    []byte // as received
	Path      []byte // origin-form path; for absolute-form "http://h/p?q" -> "/p"; "*" for OPTIONS *; for CONNECT the authority
	Query     []byte // after the first '?', without it; empty if none
	Authority []byte // host from absolute-form target, else from Host field (may be empty on 1.0)
	Major     int    // 1
	Minor     int    // 0 or 1 (a higher 1.x minor is served and reported as 1.1)
	Fields    []Field
	// ContentLength is -1 when absent (or chunked). A request without
	// Content-Length and Transfer-Encoding has no body (RFC 9112 6.3).
	ContentLength int64
	Chunked       bool
	KeepAlive     bool   // version default + Connection tokens (close / keep-alive)
	Expect100     bool   // Expect: 100-continue on 1.1
	Upgrade       []byte // value of Upgrade when Connection has the "upgrade" token, else nil
}

var (
	slash    = []byte("/")
	hostName = []byte("Host")
)

// nextHead skips what is left of the previous body, then finds and parses a head.
func (c *Conn) nextHead() Event {
	c.headFailed = false
	c.headAt = c.r
	if c.scan == 0 {
		// RFC 9112 2.2: ignore at least one empty line before a request-line.
		for c.r < len(c.buf) {
			b := c.buf[c.r]
			if b == '\n' {
				return c.failHead(errBareLF)
			}
			if b != '\r' {
				break
			}
			if c.r+1 == len(c.buf) {
				return c.needHead()
			}
			if c.buf[c.r+1] != '\n' {
				return c.failHead(errBareLF)
			}
			c.r += 2
		}
		if c.r == len(c.buf) {
			return c.needHead()
		}
	}
	c.headAt = c.r
	end, e := scanFields(c.buf[c.r:], &c.scan, c.lim.MaxHeadSize, errHeadTooLarge)
	if e == errHeadTooLarge && bytes.IndexByte(c.buf[c.r:min(len(c.buf), c.r+c.lim.MaxHeadSize)], '\n') < 0 {
		e = errLineTooLong // the request line alone is over the limit: its target (RFC 9112 3)
	}
	if e != nil {
		return c.failHead(e)
	}
	if end < 0 {
		return c.needHead()
	}
	head := c.buf[c.r : c.r+end]
	c.r += end
	c.scan = 0
	if e := c.parseHead(head); e != nil {
		return c.failHead(e)
	}
	return RequestEvent
}

// failHead is fail for a head that breaks: FailedLine can say which.
func (c *Conn) failHead(e *Error) Event {
	c.headFailed = true
	return c.fail(e)
}

// maxFailedLine bounds what FailedLine returns: enough for a log line.
const maxFailedLine = 1024

// FailedLine returns, after an ErrorEvent for a request head, its request
// line as received (without CR or LF, at most 1 KiB), for the server's log;
// nil when the error was not in a head. Valid until the next Recv/RecvBuffer.
func (c *Conn) FailedLine() []byte {
	if !c.headFailed || c.err == nil {
		return nil
	}
	line := c.buf[c.headAt:]
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	return line[:min(len(line), maxFailedLine)]
}

func (c *Conn) needHead() Event {
	if c.eof {
		if c.r == len(c.buf) {
			c.state = stClosed
			return Closed
		}
		return c.fail(errIncomplete)
	}
	return NeedData
}

// scanFields looks for the empty line closing a block of CRLF-terminated lines in b,
// resuming at *scan (kept across calls so byte-at-a-time input stays linear). It
// returns the length of the block including the final CRLF, or -1 if more bytes are
// needed. Bare LF is refused as soon as it is seen; so is a block over max bytes.
func scanFields(b []byte, scan *int, max int, tooLarge *Error) (int, *Error) {
	i := *scan
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			*scan = i
			if len(b) > max {
				return 0, tooLarge
			}
			return -1, nil
		}
		nl := i + j
		if nl+1 > max {
			return 0, tooLarge
		}
		if nl == i || b[nl-1] != '\r' {
			return 0, errBareLF
		}
		if nl == i+1 {
			*scan = 0
			return nl + 1, nil
		}
		i = nl + 1
	}
}

// parseField validates one field line (without CRLF).
func parseField(line []byte) (Field, *Error) {
	if isOWS(line[0]) {
		return Field{}, errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !all(line[:colon], cToken) {
		return Field{}, errFieldName
	}
	v := trimOWS(line[colon+1:])
	if !all(v, cValue) {
		return Field{}, errFieldValue
	}
	return Field{Name: line[:colon], Value: v}, nil
}

// parseHead parses a complete head (request line, fields, final CRLF) and sets up
// the body reader.
func (c *Conn) parseHead(head []byte) *Error {
	nl := bytes.IndexByte(head, '\n')
	if e := c.parseRequestLine(head[:nl-1]); e != nil {
		return e
	}
	req := &c.req
	fields := c.fieldsBuf[:0]
	var (
		hosts, cls, tes    int
		hostAt             = -1 // index in fields of the Host line
		host, upgrade      []byte
		cl                 int64 = -1
		teChunked, teOther bool
		teNotFinal, teBad  bool
		closeTok, keepTok  bool
		upgradeTok, expect bool
	)
	for rest := head[nl+1:]; len(rest) > 2; {
		nl := bytes.IndexByte(rest, '\n')
		line := rest[:nl-1]
		rest = rest[nl+1:]
		f, e := parseField(line)
		if e != nil {
			c.fieldsBuf = fields
			return e
		}
		n, v := f.Name, f.Value
		// Only a few names matter here; dispatch on length before comparing.
		switch len(n) {
		case 4:
			if eqFold(n, "host") {
				hosts++
				host = v
				hostAt = len(fields)
			}
		case 6:
			if eqFold(n, "expect") && eqFold(v, "100-continue") {
				expect = true
			}
		case 7:
			if eqFold(n, "upgrade") && upgrade == nil {
				upgrade = v
			}
		case 10:
			if eqFold(n, "connection") {
				for l := v; len(l) > 0; {
					var t []byte
					t, l = nextElem(l)
					switch {
					case eqFold(t, "close"):
						closeTok = true
					case eqFold(t, "keep-alive"):
						keepTok = true
					case eqFold(t, "upgrade"):
						upgradeTok = true
					}
				}
			}
		case 14:
			if eqFold(n, "content-length") {
				cls++
				if len(v) > 0 && v[len(v)-1] == ',' {
					c.fieldsBuf = fields
					return errBadCL // "5," hides an empty element; be strict
				}
				for l := v; ; {
					var t []byte
					t, l = nextElem(l)
					x, ok := parseDecimal(t)
					if !ok || cl >= 0 && x != cl {
						c.fieldsBuf = fields
						return errBadCL
					}
					if cl < 0 {
						// The host sees one line with the one value, whether
						// the length came as a list or repeated (RFC 9110 8.6).
						f.Value = t
					}
					cl = x
					if len(l) == 0 {
						break
					}
				}
				if cls > 1 {
					continue // the same length again
				}
			}
		case 17:
			if eqFold(n, "transfer-encoding") {
				tes++
				for l := v; len(l) > 0; {
					var t []byte
					t, l = nextElem(l)
					switch {
					case len(t) == 0:
					case eqFold(t, "chunked"):
						if teChunked {
							teNotFinal = true // chunked twice
						}
						teChunked = true
					case !isToken(codingName(t)):
						teBad = true
					default:
						if teChunked {
							teNotFinal = true
						}
						teOther = true
					}
				}
			}
		}
		fields = append(fields, f)
	}
	c.fieldsBuf = fields
	req.Fields = fields

	if hosts > 1 {
		return errManyHost
	}
	if hosts == 0 && req.Minor == 1 {
		return errNoHost
	}
	if hosts == 1 && !all(host, cHost) {
		return errBadHost
	}
	switch {
	case req.Authority == nil:
		req.Authority = host
	case hostAt >= 0:
		// Absolute form: the target's authority wins over Host (RFC 9112
		// 3.2.2), and the host sees it as Host.
		fields[hostAt].Value = req.Authority
	default:
		req.Fields = append(fields, Field{Name: hostName, Value: req.Authority})
		c.fieldsBuf = req.Fields
	}

	req.ContentLength = -1
	req.Chunked = false
	if tes > 0 {
		switch {
		case req.Minor == 0:
			return errTE10
		case cls > 0:
			return errCLTE
		case teBad:
			return errBadTE
		case teNotFinal:
			return errTENotFinal
		case teOther:
			return errTEUnsupported
		case !teChunked:
			return errBadTE
		}
		req.Chunked = true
	} else if cls > 0 {
		if c.lim.MaxBodySize > 0 && cl > c.lim.MaxBodySize {
			return errBodyTooLarge
		}
		req.ContentLength = cl
	}

	if req.Minor == 1 {
		req.KeepAlive = !closeTok
		req.Expect100 = expect
	} else {
		req.KeepAlive = keepTok && !closeTok
		req.Expect100 = false
	}
	req.Upgrade = nil
	if upgradeTok && upgrade != nil {
		req.Upgrade = upgrade
	}

	// Arm the body reader and remember what the response side needs.
	c.chunked = req.Chunked
	c.remaining = 0
	if cl > 0 && !req.Chunked {
		c.remaining = cl
	}
	c.chunkSt = chSize
	c.bodyRead = 0
	c.bodyDone = false
	c.sawData = false
	c.hasTrail = false
	c.trailers = c.trailers[:0]
	c.state = stBody

	c.inRequest = true
	c.reqHead = string(req.Method) == "HEAD"
	c.reqConnect = string(req.Method) == "CONNECT"
	c.req10 = req.Minor == 0
	c.reqKeepAlive = req.KeepAlive
	c.expect100 = req.Expect100
	c.continueSent = false
	c.resp = rsNone
	c.keepAlive = false
	return nil
}

// codingName returns the coding of a transfer-coding element, without parameters.
func codingName(t []byte) []byte {
	if i := bytes.IndexByte(t, ';'); i >= 0 {
		return trimOWS(t[:i])
	}
	return t
}

// parseRequestLine parses "method SP target SP HTTP/x.y" (CRLF already removed).
func (c *Conn) parseRequestLine(line []byte) *Error {
	req := &c.req
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return errRequestLine
	}
	method := line[:sp]
	if !isToken(method) {
		return errMethod
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return errRequestLine
	}
	target, version := rest[:sp], rest[sp+1:]
	if len(target) == 0 {
		return errRequestLine
	}
	// "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
	if len(version) != 8 || string(version[:5]) != "HTTP/" || version[6] != '.' ||
		!isDigit(version[5]) || !isDigit(version[7]) {
		return errVersion
	}
	if version[5] != '1' {
		return errVersionNotSup
	}
	req.Major, req.Minor = 1, 1
	if version[7] == '0' {
		req.Minor = 0
	}
	if !all(target, cTarget) {
		return errTarget
	}
	req.Method, req.Target = method, target
	req.Authority = nil
	req.Query = nil
	switch {
	case target[0] == '/':
		req.Path, req.Query = splitQuery(target)
	case string(method) == "CONNECT":
		// authority-form: host:port, nothing else.
		if !all(target, cHost) {
			return errTarget
		}
		req.Path = target
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return errTarget
		}
		req.Path = target
	default:
		return c.parseAbsolute(target)
	}
	return nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func splitQuery(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}

// parseAbsolute handles absolute-form "scheme://authority/path?query" (RFC 9112
// 3.2.2): its authority wins over Host.
func (c *Conn) parseAbsolute(t []byte) *Error {
	i := 0
	for i < len(t) && (lower[t[i]] >= 'a' && lower[t[i]] <= 'z' ||
		i > 0 && (isDigit(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.')) {
		i++
	}
	if i == 0 || len(t) < i+3 || string(t[i:i+3]) != "://" {
		return errTarget
	}
	rest := t[i+3:]
	j := 0
	for j < len(rest) && rest[j] != '/' && rest[j] != '?' {
		j++
	}
	auth := rest[:j]
	if len(auth) == 0 || !all(auth, cHost) {
		return errTarget
	}
	c.req.Authority = auth
	rest = rest[j:]
	if len(rest) == 0 || rest[0] == '?' {
		c.req.Path = slash
		if len(rest) > 0 {
			c.req.Query = rest[1:]
		}
		return nil
	}
	c.req.Path, c.req.Query = splitQuery(rest)
	return nil
}
