package h1

import "strconv"

// Response is a response head given by the application, with optional first body
// bytes.
type Response struct {
	Status int
	Reason []byte // empty: the standard reason phrase (or "Unknown")
	Fields []Field
	Date   []byte // preformatted IMF-fixdate; added as "Date" unless Fields has one; nil: none
	Server []byte // added as "Server" unless Fields has one; nil: none
	Body   []byte // first (or, with End, all) body bytes
	End    bool   // Body is the whole body: add Content-Length when absent, then finish like EndResponse
}

type respState uint8

const (
	rsNone respState = iota // no response started for the current request
	rsBody                  // head written; body and EndResponse may follow
)

// framing is how the response body goes on the wire.
type framing uint8

const (
	fNone    framing = iota // no body bytes at all (HEAD, 1xx, 204, 304, 2xx to CONNECT)
	fLength                 // Content-Length
	fChunked                // Transfer-Encoding: chunked
	fClose                  // delimited by closing the connection (HTTP/1.0)
)

// WriteResponse appends the response head (and Body) to dst. Status 101 and a 2xx
// answer to CONNECT switch the connection away from HTTP/1.1: KeepAlive is false and
// Buffered holds the bytes of the new protocol. Other 1xx go through
// WriteInformational. On error nothing is appended.
func (c *Conn) WriteResponse(dst []byte, r *Response) ([]byte, error) {
	if !c.inRequest || c.resp != rsNone {
		return dst, ErrState
	}
	st := r.Status
	if st < 100 || st > 999 || st < 200 && st != 101 {
		return dst, ErrHeader
	}
	if !all(r.Reason, cReason) {
		return dst, ErrHeader
	}
	var (
		appCL                       int64 = -1
		appChunked, appClose        bool
		appKeep, hasDate, hasServer bool
	)
	for i := range r.Fields {
		n, v := r.Fields[i].Name, r.Fields[i].Value
		if !isToken(n) || !all(v, cValue) {
			return dst, ErrHeader
		}
		switch len(n) {
		case 4:
			hasDate = hasDate || eqFold(n, "date")
		case 6:
			hasServer = hasServer || eqFold(n, "server")
		case 10:
			if eqFold(n, "connection") {
				appClose = appClose || HasToken(v, "close")
				appKeep = appKeep || HasToken(v, "keep-alive")
			}
		case 14:
			if eqFold(n, "content-length") {
				x, ok := parseDecimal(trimOWS(v))
				if !ok || appCL >= 0 && x != appCL {
					return dst, ErrHeader
				}
				appCL = x
			}
		case 17:
			if eqFold(n, "transfer-encoding") {
				if !eqFold(trimOWS(v), "chunked") {
					return dst, ErrHeader
				}
				appChunked = true
			}
		}
	}

	// Framing (RFC 9112 6.1-6.3): what the head announces, then what the body does.
	switched := st == 101 || c.reqConnect && st/100 == 2
	var (
		head           framing // announced; fNone: neither CL nor TE
		length         int64
		dropCL, dropTE bool
		addCL, addTE   bool
	)
	switch {
	case switched || st == 204:
		dropCL, dropTE = true, true // MUST NOT send a length (RFC 9110 8.6)
	case st == 304:
		dropTE = true
		if appCL >= 0 {
			head, length = fLength, appCL
		}
	case appChunked && !c.req10:
		head, dropCL = fChunked, true
	case appChunked: // an HTTP/1.0 client cannot read chunked
		head, dropCL, dropTE = fClose, true, true
	case appCL >= 0:
		head, length = fLength, appCL
	case r.End:
		head, length, addCL = fLength, int64(len(r.Body)), true
	case !c.req10:
		head, addTE = fChunked, true
	default:
		head = fClose
	}
	body := head
	if c.reqHead || st == 304 {
		body = fNone
	}

	ka := c.reqKeepAlive && !appClose && !c.mustClose && body != fClose
	if c.state == stBody && !c.bodyDone {
		// The request body is not read: skip it later only when it is short and its
		// end is known; a client waiting for 100-continue may never send it.
		if c.chunked || c.remaining > c.lim.MaxDiscard || c.expect100 && !c.continueSent && c.remaining > 0 {
			ka = false
		}
	}
	if switched {
		ka = false
	}

	dst = appendStatus(dst, st, r.Reason)
	if r.Date != nil && !hasDate {
		dst = append(dst, "Date: "...)
		dst = append(append(dst, r.Date...), "\r\n"...)
	}
	if r.Server != nil && !hasServer {
		dst = append(dst, "Server: "...)
		dst = append(append(dst, r.Server...), "\r\n"...)
	}
	for i := range r.Fields {
		n := r.Fields[i].Name
		if dropCL && len(n) == 14 && eqFold(n, "content-length") ||
			dropTE && len(n) == 17 && eqFold(n, "transfer-encoding") {
			continue
		}
		dst = appendField(dst, n, r.Fields[i].Value)
	}
	if addCL {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, "\r\n"...)
	}
	if addTE {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case switched:
	case !ka && !appClose:
		dst = append(dst, "Connection: close\r\n"...)
	case ka && c.req10 && !appKeep:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, "\r\n"...)

	c.resp = rsBody
	c.framing = body
	c.length = length
	c.written = 0
	c.keepAlive = ka
	if len(r.Body) > 0 {
		var err error
		if dst, err = c.WriteBody(dst, r.Body); err != nil {
			return dst, err
		}
	}
	if r.End {
		return c.EndResponse(dst, nil)
	}
	return dst, nil
}

// WriteBody appends body bytes framed as the head announced. For HEAD, 204 and 304
// nothing is appended. Bytes past the Content-Length give ErrBodyTooLong: the bytes
// up to the length are appended, the rest dropped, and the response is over.
func (c *Conn) WriteBody(dst, p []byte) ([]byte, error) {
	if !c.inRequest || c.resp != rsBody {
		return dst, ErrState
	}
	if c.framing == fLength && int64(len(p)) > c.length-c.written {
		c.mustClose = true
		dst = c.appendBody(dst, p[:c.length-c.written])
		dst, _ = c.EndResponse(dst, nil)
		return dst, ErrBodyTooLong
	}
	return c.appendBody(dst, p), nil
}

func (c *Conn) appendBody(dst, p []byte) []byte {
	switch c.framing {
	case fLength:
		c.written += int64(len(p))
		return append(dst, p...)
	case fClose:
		return append(dst, p...)
	case fChunked:
		if len(p) == 0 {
			return dst // an empty chunk would end the body
		}
		dst = strconv.AppendInt(dst, int64(len(p)), 16)
		dst = append(dst, "\r\n"...)
		dst = append(dst, p...)
		return append(dst, "\r\n"...)
	}
	return dst
}

// EndResponse finishes the response: the last chunk and trailers for a chunked body
// (trailers are ignored otherwise). Afterwards KeepAlive tells whether Next may read
// another request. A body shorter than its Content-Length forbids reuse and gives
// ErrBodyTooShort, the response finished all the same.
func (c *Conn) EndResponse(dst []byte, trailers []Field) ([]byte, error) {
	if !c.inRequest || c.resp != rsBody {
		return dst, ErrState
	}
	if c.framing == fChunked {
		for i := range trailers {
			if !isToken(trailers[i].Name) || !all(trailers[i].Value, cValue) {
				return dst, ErrHeader
			}
		}
		dst = append(dst, "0\r\n"...)
		for i := range trailers {
			dst = appendField(dst, trailers[i].Name, trailers[i].Value)
		}
		dst = append(dst, "\r\n"...)
	}
	short := c.framing == fLength && c.written < c.length
	if short || c.mustClose {
		c.keepAlive = false
	}
	c.resp = rsNone
	c.inRequest = false
	switch {
	case !c.keepAlive:
		c.state = stClosed
	case c.state == stPaused:
		c.state = stHead
	case c.state == stBody:
		// Unread rest of a short Content-Length body (ensured at WriteResponse).
		c.state = stDiscard
	}
	if short {
		return dst, ErrBodyTooShort
	}
	return dst, nil
}

// WriteContinue appends "100 Continue" once, if the request asked for it and neither
// a response nor any body byte has been seen yet; else dst is returned unchanged.
func (c *Conn) WriteContinue(dst []byte) []byte {
	if !c.inRequest || !c.expect100 || c.resp != rsNone || c.continueSent || c.sawData || c.bodyDone {
		return dst
	}
	c.continueSent = true
	return append(dst, "HTTP/1.1 100 Continue\r\n\r\n"...)
}

// WriteInformational appends an interim response such as 103 Early Hints (status
// 100-199 except 101, which is final here: see WriteResponse). HTTP/1.0 clients get
// nothing (dst unchanged, nil).
func (c *Conn) WriteInformational(dst []byte, status int, fields []Field) ([]byte, error) {
	if !c.inRequest || c.resp != rsNone {
		return dst, ErrState
	}
	if status < 100 || status > 199 || status == 101 {
		return dst, ErrHeader
	}
	for i := range fields {
		if !isToken(fields[i].Name) || !all(fields[i].Value, cValue) {
			return dst, ErrHeader
		}
	}
	if c.req10 {
		return dst, nil
	}
	if status == 100 {
		if c.continueSent {
			return dst, nil
		}
		c.continueSent = true
	}
	dst = appendStatus(dst, status, nil)
	for i := range fields {
		dst = appendField(dst, fields[i].Name, fields[i].Value)
	}
	return append(dst, "\r\n"...), nil
}

// WriteError appends the minimal response for Err(): the host writes it and closes.
// Nothing is appended when there is no error or a response has already started.
func (c *Conn) WriteError(dst []byte) []byte {
	e := c.err
	if e == nil || c.inRequest && c.resp != rsNone {
		return dst
	}
	dst = appendStatus(dst, e.Status, nil)
	dst = append(dst, "Content-Type: text/plain\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Reason)+1), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	dst = append(dst, e.Reason...)
	dst = append(dst, '\n')
	c.resp = rsBody
	c.inRequest = true // so that nothing else is written
	c.framing = fNone
	c.keepAlive = false
	return dst
}

// ResponseLength reports the current response's declared Content-Length
// (-1 if it has none) and the body bytes appended so far against it.
func (c *Conn) ResponseLength() (declared, written int64) {
	if c.framing != fLength {
		return -1, c.written
	}
	return c.length, c.written
}

// KeepAlive reports, after EndResponse, whether the connection may read another
// request (before it: what the response head announced).
func (c *Conn) KeepAlive() bool { return c.keepAlive }

// ResponseStarted reports whether a response head was written for the current request.
func (c *Conn) ResponseStarted() bool { return c.inRequest && c.resp != rsNone }

func appendStatus(dst []byte, st int, reason []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = append(dst, byte('0'+st/100), byte('0'+st/10%10), byte('0'+st%10), ' ')
	if len(reason) > 0 {
		dst = append(dst, reason...)
	} else {
		dst = append(dst, reasonPhrase(st)...)
	}
	return append(dst, "\r\n"...)
}

// appendField writes "name: value\r\n".
func appendField(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// reasonPhrase returns the standard reason phrase (RFC 9110 15 and registry).
func reasonPhrase(st int) string {
	switch st {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 102:
		return "Processing"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 207:
		return "Multi-Status"
	case 208:
		return "Already Reported"
	case 226:
		return "IM Used"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 305:
		return "Use Proxy"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 418:
		return "I'm a teapot"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Content"
	case 423:
		return "Locked"
	case 424:
		return "Failed Dependency"
	case 425:
		return "Too Early"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 451:
		return "Unavailable For Legal Reasons"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	case 506:
		return "Variant Also Negotiates"
	case 507:
		return "Insufficient Storage"
	case 508:
		return "Loop Detected"
	case 510:
		return "Not Extended"
	case 511:
		return "Network Authentication Required"
	}
	return "Unknown"
}
