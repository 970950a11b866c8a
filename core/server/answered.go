package server

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"sync/atomic"

	"github.com/portico-http/portico/core/h1"
)

// The server's own answers, told to the host for its logs (option
// report_answers): a request refused before the host saw it (400, 413,
// 431, 505, a broken WebSocket handshake) or answered 503 by the request
// timeout while it waited in the queue comes through Next and Poll as a
// record flagged reqAnswered. Its head is laid out as a request's as far as
// it is known: a head that did not parse has an empty method and protocol,
// and its request line as received in place of the path. Its body is
// "STATUS reason". Its id names nothing: calls on it give ErrInvalid.
const reqAnswered = 256 // PORTICO_REQ_ANSWERED

// answersDropped counts answer records lost to a full queue: a flood of bad
// requests must not make the server wait for its own logs.
var answersDropped atomic.Int64

// answerText is a record's body: "STATUS reason".
func answerText(status int, reason string) []byte {
	return append(strconv.AppendInt(nil, int64(status), 10), " "+reason...)
}

// reportRefusal tells the host about a head the parser refused and the
// server answered itself. addrs is the connection's packed addresses.
func (s *Server) reportRefusal(addrs []byte, p *h1.Conn) {
	if !s.opts.ReportAnswers {
		return
	}
	e := p.Err()
	line := p.FailedLine()
	head := make([]byte, 0, 4+len(line)+len(addrs))
	head = append(append(append(head, 0), line...), 0, 0, 0) // method, path, query, protocol
	head = append(head, addrs...)
	s.reportAnswer(&Exchange{srv: s, id: lastID.Add(1), head: head, answer: answerText(e.Status, e.Reason)})
}

// reportAnswer queues an answer record without waiting.
func (s *Server) reportAnswer(ex *Exchange) {
	select {
	case s.queue <- ex:
		s.ready.wake()
	default:
		answersDropped.Add(1)
	}
}

// unseenAnswer is what Next and Poll make of a request the request timeout
// answered before the host took it: its answer record, or nil.
func (s *Server) unseenAnswer(ex *Exchange) *Exchange {
	if !s.opts.ReportAnswers || !ex.reported.CompareAndSwap(false, true) {
		return nil
	}
	return &Exchange{srv: s, id: ex.id, head: ex.head, answer: answerText(503, "request timeout")}
}

// reportLength tells the host's log that the app's response body
// disagreed with its Content-Length (declared; the app gave sent bytes):
// a record with the request's head and status 0, for "no answer of the
// server's own".
func (s *Server) reportLength(ex *Exchange, declared, sent int64) {
	if !s.opts.ReportAnswers {
		return
	}
	reason := "the response body disagrees with its Content-Length: declared " +
		strconv.FormatInt(declared, 10) + ", the app gave " + strconv.FormatInt(sent, 10)
	if sent > declared {
		reason += " (cut at the declared length)"
	} else {
		reason += " (cut short)"
	}
	s.reportAnswer(&Exchange{srv: s, id: ex.id, head: ex.head, answer: answerText(0, reason)})
}

// takenHead is the head of an answer record about a request the host took:
// nine empty fields (the host knows the request by its id).
var takenHead = bytes.Repeat([]byte{0}, 8)

// reportExpired tells the host that the request timeout ended a request it
// had taken: a record with that request's id and takenHead, whose status is
// 503, or 0 when the response had started and was cut.
func (s *Server) reportExpired(ex *Exchange, started bool) {
	if !s.opts.ReportAnswers || !ex.reported.CompareAndSwap(false, true) {
		return
	}
	answer := answerText(503, "request timeout")
	if started {
		answer = answerText(0, "request timeout: the response was cut")
	}
	s.reportAnswer(&Exchange{srv: s, id: ex.id, head: takenHead, answer: answer})
}

// answerRecord writes an answer record (see record).
func (ex *Exchange) answerRecord(dst []byte) (int, error) {
	need := recordHeader + len(ex.head) + len(ex.answer)
	if len(dst) < need {
		return need, ErrBuffer
	}
	binary.LittleEndian.PutUint64(dst, ex.id)
	binary.LittleEndian.PutUint32(dst[8:], reqAnswered)
	binary.LittleEndian.PutUint32(dst[12:], uint32(len(ex.head)))
	copy(dst[recordHeader:], ex.head)
	copy(dst[recordHeader+len(ex.head):], ex.answer)
	return need, nil
}

// packRefused packs the head of a request the server refused after parsing
// it (a broken WebSocket handshake) as packHead does, without its fields.
func packRefused(req *h1.Request, addrs []byte) []byte {
	var b bytes.Buffer
	b.Write(req.Method)
	b.WriteByte(0)
	b.Write(req.Path)
	b.WriteByte(0)
	b.Write(req.Query)
	b.WriteByte(0)
	if req.Minor == 0 {
		b.WriteString("HTTP/1.0")
	} else {
		b.WriteString("HTTP/1.1")
	}
	b.WriteByte(0)
	b.Write(addrs)
	return b.Bytes()
}
