package h1

// Character classes of RFC 9110 5.6.2 / 5.5 / 9112 as lookup tables: one indexed
// load per byte, no branches on ranges, no regexp.

const (
	cToken  = 1 << iota // tchar
	cValue              // field-vchar, SP or HTAB (obs-text allowed)
	cTarget             // request-target octet: anything but CTL and SP (obs-text allowed)
	cHost               // reg-name / IP-literal / port characters
	cReason             // reason-phrase: HTAB / SP / VCHAR / obs-text
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		isCTL := b < 0x20 || b == 0x7f
		if !isCTL {
			t[c] |= cValue | cReason
			if b != ' ' {
				t[c] |= cTarget
			}
		}
		if b == '\t' {
			t[c] |= cValue | cReason
		}
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if alnum {
			t[c] |= cToken | cHost
		}
	}
	for _, b := range []byte("!#$%&'*+-.^_`|~") {
		t[b] |= cToken
	}
	for _, b := range []byte("-._~%!$&'()*+,;=:[]") {
		t[b] |= cHost
	}
	return t
}()

// lower maps ASCII upper case to lower case and every other byte to itself.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// all reports whether every byte of b is in class k.
func all(b []byte, k uint8) bool {
	for _, c := range b {
		if class[c]&k == 0 {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool { return len(b) > 0 && all(b, cToken) }

// IsTokenByte reports a tchar (RFC 9110 5.6.2), the bytes of a method.
func IsTokenByte(b byte) bool { return class[b]&cToken != 0 }

// eqFold compares b with an all-lower-case ASCII constant, case-insensitively,
// without allocating.
func eqFold(b []byte, lc string) bool {
	if len(b) != len(lc) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower[b[i]] != lc[i] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS strips optional whitespace (SP / HTAB) on both sides.
func trimOWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isOWS(b[i]) {
		i++
	}
	for j > i && isOWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

// nextElem splits the first element off a comma-separated list (RFC 9110 5.6.1),
// trimming OWS. Empty elements are returned as empty slices; callers skip them.
func nextElem(list []byte) (elem, rest []byte) {
	for i, c := range list {
		if c == ',' {
			return trimOWS(list[:i]), list[i+1:]
		}
	}
	return trimOWS(list), nil
}

// HasToken reports whether the comma-separated list v contains tok, given
// in lower case (compared case-insensitively, as RFC 9110 tokens are).
func HasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var e []byte
		e, v = nextElem(v)
		if eqFold(e, tok) {
			return true
		}
	}
	return false
}

// parseDecimal parses 1*DIGIT, refusing signs, blanks and values over 2^62.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > maxLength/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > maxLength {
			return 0, false
		}
	}
	return n, true
}

// maxLength bounds Content-Length and chunk sizes: far beyond any real body,
// and far from int64 overflow when sums are taken.
const maxLength = 1 << 62
