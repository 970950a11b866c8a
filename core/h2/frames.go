package h2

import (
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/net/http2"
)

// The Framer reads whole frames only (a partial frame would be consumed and lost), so
// step checks that a frame is complete in the buffer before handing it over. DATA and
// CONTINUATION are cut by hand: DATA so its payload can be handed to the host without
// a copy, CONTINUATION because we count them and check the block order ourselves
// (the Framer's own order check is off: AllowIllegalReads).

const frameHeaderLen = 9

// step consumes the preface or one frame. It reports false when more bytes are needed.
func (c *Conn) step() bool {
	buf := c.in[c.r:]
	if c.preface < len(clientPreface) {
		n := len(clientPreface) - c.preface
		if n > len(buf) {
			n = len(buf)
		}
		if n == 0 {
			return false
		}
		if string(buf[:n]) != clientPreface[c.preface:c.preface+n] {
			c.connError(http2.ErrCodeProtocol, "invalid connection preface")
			return true
		}
		c.preface += n
		c.r += n
		return true
	}
	if len(buf) < frameHeaderLen {
		return false
	}
	length := uint32(buf[0])<<16 | uint32(buf[1])<<8 | uint32(buf[2])
	if length > c.lim.MaxFrameSize {
		c.connError(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
		return true
	}
	end := frameHeaderLen + int(length)
	if len(buf) < end {
		return false
	}
	c.r += end
	c.handleFrame(buf[:end])
	return true
}

func (c *Conn) handleFrame(frame []byte) {
	typ := http2.FrameType(frame[3])
	flags := http2.Flags(frame[4])
	id := binary.BigEndian.Uint32(frame[5:9]) & (1<<31 - 1)
	payload := frame[frameHeaderLen:]

	if !c.gotFirst {
		// The client preface ends with a SETTINGS frame (RFC 9113 3.4).
		if typ != http2.FrameSettings || flags.Has(http2.FlagSettingsAck) {
			c.connError(http2.ErrCodeProtocol, "client preface must be followed by SETTINGS")
			return
		}
		c.gotFirst = true
	}
	if c.hblock.active() {
		// Nothing may come between HEADERS and its last CONTINUATION (RFC 9113 6.10).
		if typ != http2.FrameContinuation || id != c.hblock.id {
			c.connError(http2.ErrCodeProtocol, "expected CONTINUATION")
			return
		}
		c.onContinuation(flags, payload)
		return
	}
	switch typ {
	case http2.FrameData:
		c.onData(flags, id, payload)
	case http2.FrameContinuation:
		c.connError(http2.ErrCodeProtocol, "CONTINUATION without HEADERS")
	case http2.FramePushPromise:
		c.connError(http2.ErrCodeProtocol, "client sent PUSH_PROMISE")
	case http2.FrameHeaders, http2.FramePriority, http2.FrameRSTStream, http2.FrameSettings,
		http2.FramePing, http2.FrameGoAway, http2.FrameWindowUpdate:
		c.rd.Reset(frame)
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.frameError(typ, err)
			return
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			c.onHeaders(f)
		case *http2.PriorityFrame:
			c.onPriority(f)
		case *http2.RSTStreamFrame:
			c.onRSTStream(f)
		case *http2.SettingsFrame:
			c.onSettings(f)
		case *http2.PingFrame:
			c.onPing(f)
		case *http2.GoAwayFrame:
			c.onGoAway(f)
		case *http2.WindowUpdateFrame:
			c.onWindowUpdate(f)
		}
	default:
		// Unknown and extension frame types (PRIORITY_UPDATE, ALTSVC, ORIGIN...) are
		// ignored (RFC 9113 4.1, 5.5).
	}
}

// frameError maps a Framer parse error to our answer.
func (c *Conn) frameError(typ http2.FrameType, err error) {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		if typ == http2.FrameHeaders {
			// Bad padding on HEADERS: the header block was not decoded, so the HPACK
			// state cannot be trusted any more.
			c.connError(http2.ErrCodeProtocol, "invalid HEADERS padding")
		} else if c.isIdle(se.StreamID) {
			c.connError(http2.ErrCodeProtocol, "frame on idle stream")
		} else {
			c.streamError(se.StreamID, se.Code)
		}
	case errors.As(err, &ce):
		reason := "invalid " + typ.String() + " frame"
		if d := c.fr.ErrorDetail(); d != nil {
			reason = d.Error()
		}
		c.connError(http2.ErrCode(ce), reason)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.connError(http2.ErrCodeFrameSize, "truncated "+typ.String()+" frame")
	default:
		c.connError(http2.ErrCodeProtocol, err.Error())
	}
}

// Writers. Frames are appended straight to the output buffer: no intermediate copy,
// no allocation once the buffer has grown.

func appendFrameHeader(dst []byte, length int, typ http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (c *Conn) writeRST(id uint32, code http2.ErrCode) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameRSTStream, 0, id)
	c.out = appendUint32(c.out, uint32(code))
}

func (c *Conn) writeWindowUpdate(id uint32, inc uint32) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameWindowUpdate, 0, id)
	c.out = appendUint32(c.out, inc)
}

func (c *Conn) sendGoAway(code http2.ErrCode, debug []byte) {
	c.goAwaySent = true
	c.goAwayLast = c.maxClientID
	c.out = appendFrameHeader(c.out, 8+len(debug), http2.FrameGoAway, 0, 0)
	c.out = appendUint32(c.out, c.maxClientID)
	c.out = appendUint32(c.out, uint32(code))
	c.out = append(c.out, debug...)
}

// writeBlock writes a header block as HEADERS (or PUSH_PROMISE, with the promised
// stream id as prefix) plus CONTINUATION frames, cut at the peer's MAX_FRAME_SIZE.
func (c *Conn) writeBlock(typ http2.FrameType, id uint32, promised uint32, block []byte, endStream bool) {
	max := int(c.peerMaxFrame)
	prefix := 0
	if typ == http2.FramePushPromise {
		prefix = 4
	}
	first := true
	for {
		room := max
		if first {
			room -= prefix
		}
		n := len(block)
		if n > room {
			n = room
		}
		var flags http2.Flags
		if n == len(block) {
			flags |= http2.FlagHeadersEndHeaders // same bit for PUSH_PROMISE and CONTINUATION
		}
		if first {
			if endStream {
				flags |= http2.FlagHeadersEndStream
			}
			c.out = appendFrameHeader(c.out, n+prefix, typ, flags, id)
			if prefix > 0 {
				c.out = appendUint32(c.out, promised)
			}
		} else {
			c.out = appendFrameHeader(c.out, n, http2.FrameContinuation, flags, id)
		}
		c.out = append(c.out, block[:n]...)
		block = block[n:]
		first = false
		if len(block) == 0 {
			return
		}
	}
}

// writeEncoded writes the encoder's block.
func (c *Conn) writeEncoded(typ http2.FrameType, id, promised uint32, endStream bool) {
	c.writeBlock(typ, id, promised, c.enc.buf, endStream)
	c.enc.pendingUpdate = false
}

// writeData writes p as DATA frames no larger than the peer's MAX_FRAME_SIZE.
func (c *Conn) writeData(id uint32, p []byte, endStream bool) {
	max := int(c.peerMaxFrame)
	for {
		n := len(p)
		if n > max {
			n = max
		}
		var flags http2.Flags
		if n == len(p) && endStream {
			flags = http2.FlagDataEndStream
		}
		c.out = appendFrameHeader(c.out, n, http2.FrameData, flags, id)
		c.out = append(c.out, p[:n]...)
		p = p[n:]
		if len(p) == 0 {
			return
		}
	}
}
