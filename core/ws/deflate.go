package ws

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
)

// permessage-deflate (RFC 7692) on compress/flate.
//
// Context takeover. compress/flate can keep a compression context across
// messages (Flush instead of Reset) and can decompress with a preset window
// (Resetter.Reset with a dictionary), so both directions are possible:
//   - client to server: we honour client context takeover. The last 32 KiB of
//     inflated output is kept per connection and given as the dictionary to the
//     next message; if the client offers client_no_context_takeover we echo it
//     and keep nothing.
//   - server to client: we always reply server_no_context_takeover, which RFC
//     7692 7.1.1.1 lets the server choose. A flate.Writer weighs several hundred
//     KiB; without takeover one pooled writer serves every connection in turn
//     instead of one per connection. (An Endpoint built by hand with
//     ServerNoContextTakeover=false does keep its own writer.)
// Window bits. Our inflater accepts any window (8-15), so client_max_window_bits
// is only echoed. server_max_window_bits=N is honoured by compressing only
// messages of at most 2^N bytes (without takeover no back-reference can reach
// further); longer messages go uncompressed, which RFC 7692 allows per message.

// DeflateParams are the negotiated permessage-deflate parameters.
type DeflateParams struct {
	ServerNoContextTakeover bool
	ClientNoContextTakeover bool
	ServerMaxWindowBits     int // 8-15; 0 = not negotiated (15)
	ClientMaxWindowBits     int // 8-15; 0 = not negotiated (15)
}

func (p DeflateParams) response() string {
	var b strings.Builder
	b.WriteString("permessage-deflate")
	if p.ServerNoContextTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if p.ClientNoContextTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if p.ServerMaxWindowBits != 0 {
		b.WriteString("; server_max_window_bits=")
		b.WriteString(strconv.Itoa(p.ServerMaxWindowBits))
	}
	if p.ClientMaxWindowBits != 0 {
		b.WriteString("; client_max_window_bits=")
		b.WriteString(strconv.Itoa(p.ClientMaxWindowBits))
	}
	return b.String()
}

type extParam struct {
	name, value string
	hasValue    bool
}

type extOffer struct {
	name   string
	params []extParam
}

// parseExtensions parses Sec-WebSocket-Extensions (RFC 6455 9.1):
// ext *("," ext), ext = token *(";" token ["=" (token | quoted-string)]).
func parseExtensions(s []byte) ([]extOffer, bool) {
	var offers []extOffer
	i := 0
	skipWS := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() string {
		j := i
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		return string(s[j:i])
	}
	for {
		skipWS()
		if i < len(s) && s[i] == ',' { // empty list elements are allowed
			i++
			continue
		}
		if i == len(s) {
			return offers, true
		}
		var o extOffer
		if o.name = token(); o.name == "" {
			return nil, false
		}
		skipWS()
		for i < len(s) && s[i] == ';' {
			i++
			skipWS()
			var p extParam
			if p.name = token(); p.name == "" {
				return nil, false
			}
			skipWS()
			if i < len(s) && s[i] == '=' {
				i++
				skipWS()
				p.hasValue = true
				if i < len(s) && s[i] == '"' {
					i++
					var v []byte
					for i < len(s) && s[i] != '"' {
						if s[i] == '\\' && i+1 < len(s) {
							i++
						}
						v = append(v, s[i])
						i++
					}
					if i == len(s) {
						return nil, false
					}
					i++
					p.value = string(v)
				} else if p.value = token(); p.value == "" {
					return nil, false
				}
				skipWS()
			}
			o.params = append(o.params, p)
		}
		offers = append(offers, o)
		if i < len(s) && s[i] != ',' {
			return nil, false
		}
	}
}

func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

// parseBits parses a window-bits value: 8-15, digits only, no leading zero.
func parseBits(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 {
		return 0, false
	}
	return n, true
}

// negotiateDeflate accepts the first permessage-deflate offer we can honour
// (RFC 7692 5: offers are in preference order; a bad one is skipped).
func negotiateDeflate(ext []byte) (DeflateParams, bool) {
	offers, ok := parseExtensions(ext)
	if !ok {
		return DeflateParams{}, false
	}
next:
	for _, o := range offers {
		if !strings.EqualFold(o.name, "permessage-deflate") {
			continue
		}
		p := DeflateParams{ServerNoContextTakeover: true}
		seen := map[string]bool{}
		for _, prm := range o.params {
			name := strings.ToLower(prm.name)
			if seen[name] {
				continue next // RFC 7692 7: a duplicated parameter makes the offer invalid
			}
			seen[name] = true
			switch name {
			case "server_no_context_takeover":
				if prm.hasValue {
					continue next
				}
			case "client_no_context_takeover":
				if prm.hasValue {
					continue next
				}
				p.ClientNoContextTakeover = true
			case "server_max_window_bits":
				b, ok := parseBits(prm.value)
				if !prm.hasValue || !ok {
					continue next
				}
				p.ServerMaxWindowBits = b
			case "client_max_window_bits":
				if prm.hasValue {
					b, ok := parseBits(prm.value)
					if !ok {
						continue next
					}
					p.ClientMaxWindowBits = b
				}
			default:
				continue next
			}
		}
		return p, true
	}
	return DeflateParams{}, false
}

// deflateTail ends every compressed message on the wire minus its last 4 bytes
// (RFC 7692 7.2.1): an empty stored block from a sync flush.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

const windowSize = 1 << 15

var errInflate = errors.New("invalid compressed data")
var errTooBig = errors.New("message too big")

var flateReaders sync.Pool // io.ReadCloser implementing flate.Resetter

// inflater holds the per-connection decompression state: the source reader and,
// with client context takeover, the last 32 KiB of output.
type inflater struct {
	src      bytes.Reader
	takeover bool
	window   []byte
}

// inflate appends the inflated form of comp (which must have room for the
// 4-byte tail appended by the caller) to dst. It stops with errTooBig as soon
// as the output passes limit, so a compression bomb costs at most limit+1 bytes.
func (f *inflater) inflate(dst, comp []byte, limit int64) ([]byte, error) {
	f.src.Reset(comp)
	var dict []byte
	if f.takeover {
		dict = f.window
	}
	var fr io.ReadCloser
	if v := flateReaders.Get(); v != nil {
		fr = v.(io.ReadCloser)
		fr.(flate.Resetter).Reset(&f.src, dict)
	} else {
		fr = flate.NewReaderDict(&f.src, dict)
	}
	defer flateReaders.Put(fr)
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			n := 2 * cap(dst)
			if n < 512 {
				n = 512
			}
			if max := int64(start) + limit + 1; int64(n) > max {
				n = int(max)
			}
			if n <= len(dst) {
				return dst, errTooBig
			}
			nd := make([]byte, len(dst), n)
			copy(nd, dst)
			dst = nd
		}
		room := cap(dst) - len(dst)
		if rem := int64(start) + limit + 1 - int64(len(dst)); int64(room) > rem {
			room = int(rem)
		}
		n, err := fr.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			return dst, errTooBig
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			// ErrUnexpectedEOF is the normal end: the stream stops after the
			// sync-flush block, without a final block.
			break
		}
		if err != nil {
			return dst, errInflate
		}
	}
	if f.takeover {
		f.remember(dst[start:])
	}
	return dst, nil
}

// remember keeps the last 32 KiB of inflated output as the next dictionary.
func (f *inflater) remember(out []byte) {
	if f.window == nil {
		f.window = make([]byte, 0, windowSize)
	}
	if len(out) >= windowSize {
		f.window = append(f.window[:0], out[len(out)-windowSize:]...)
		return
	}
	if keep := windowSize - len(out); len(f.window) > keep {
		copy(f.window, f.window[len(f.window)-keep:])
		f.window = f.window[:keep]
	}
	f.window = append(f.window, out...)
}

var flateWriters sync.Pool // *flate.Writer

// compressLevel: BestSpeed. Per-message compression of chatty traffic is
// dominated by CPU, not by the last few percent of ratio.
const compressLevel = flate.BestSpeed

// minCompress: shorter messages are sent uncompressed; deflate cannot win on
// them and costs a flate pass.
const minCompress = 64

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// deflater holds the per-connection compression state.
type deflater struct {
	takeover bool
	maxLen   int // longest message we may compress (server_max_window_bits)
	own      *flate.Writer
	out      sliceWriter
}

func newDeflater(p *DeflateParams) *deflater {
	d := &deflater{maxLen: -1}
	if p.ServerMaxWindowBits != 0 && p.ServerMaxWindowBits < 15 {
		d.maxLen = 1 << p.ServerMaxWindowBits
	} else {
		d.takeover = !p.ServerNoContextTakeover
	}
	return d
}

func (d *deflater) want(n int) bool {
	return n >= minCompress && (d.maxLen < 0 || n <= d.maxLen)
}

// compress returns the compressed payload without the deflateTail. The result
// is valid until the next call.
func (d *deflater) compress(p []byte) []byte {
	d.out.b = d.out.b[:0]
	var w *flate.Writer
	if d.takeover {
		if d.own == nil {
			d.own, _ = flate.NewWriter(&d.out, compressLevel)
		}
		w = d.own
	} else if v := flateWriters.Get(); v != nil {
		w = v.(*flate.Writer)
		w.Reset(&d.out)
	} else {
		w, _ = flate.NewWriter(&d.out, compressLevel)
	}
	w.Write(p) // writes to a slice cannot fail
	w.Flush()
	if !d.takeover {
		w.Reset(nil) // drop the reference to d.out before pooling
		flateWriters.Put(w)
	}
	b := d.out.b
	if bytes.HasSuffix(b, deflateTail) {
		b = b[:len(b)-4]
	}
	if cap(d.out.b) > retainMax {
		d.out.b = nil
	}
	return b
}
