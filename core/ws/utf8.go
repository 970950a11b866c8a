package ws

import "unicode/utf8"

// Incremental UTF-8 validation for text messages that arrive in pieces
// (fragments, or one frame split across reads). RFC 6455 8.1 lets an endpoint
// fail as soon as the bytes cannot be a prefix of valid UTF-8; Autobahn 6.x
// checks that we do ("fail fast"), so a whole-message check is not enough.
//
// The automaton is Bjoern Hoehrmann's DFA (http://bjoern.hoehrmann.de/utf-8/decoder/dfa/):
// it rejects at the first byte that makes the sequence impossible (overlong
// forms, surrogates, code points above U+10FFFF), which is exactly fail-fast.

const (
	utf8Accept utf8State = 0
	utf8Reject utf8State = 12
)

// utf8State is 0 at a character boundary, 12 once invalid, else mid-character.
type utf8State uint8

var utf8Class = [256]uint8{
	0x80: 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0x90: 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
	0xa0: 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	0xb0: 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	0xc0: 8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	0xd0: 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	0xe0: 10, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3,
	0xf0: 11, 6, 6, 6, 5, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
}

var utf8Trans = [108]utf8State{
	0, 12, 24, 36, 60, 96, 84, 12, 12, 12, 48, 72, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
	12, 0, 12, 12, 12, 12, 12, 0, 12, 0, 12, 12, 12, 24, 12, 12, 12, 12, 12, 24, 12, 24, 12, 12,
	12, 12, 12, 12, 12, 12, 12, 24, 12, 12, 12, 12, 12, 24, 12, 12, 12, 12, 12, 12, 12, 24, 12, 12,
	12, 12, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12, 12, 36, 12, 12, 12, 12, 12, 36, 12, 36, 12, 12,
	12, 36, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
}

func (s utf8State) step(b byte) utf8State { return utf8Trans[uint8(s)+utf8Class[b]] }

// feed advances the state over p and reports false once the input is invalid.
// Between character boundaries the bulk goes through utf8.Valid (vectorised
// ASCII path); only the last partial character and a character left open by the
// previous piece go through the DFA.
func (s *utf8State) feed(p []byte) bool {
	st := *s
	i := 0
	for st != utf8Accept && i < len(p) {
		st = st.step(p[i])
		i++
		if st == utf8Reject {
			*s = st
			return false
		}
	}
	p = p[i:]
	if len(p) == 0 {
		*s = st
		return true
	}
	// Cut at the start of the last (possibly incomplete) character: four
	// continuation bytes in a row are invalid anyway, so looking back 4 is enough.
	k := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-4; j-- {
		if utf8.RuneStart(p[j]) {
			k = j
			break
		}
	}
	if k == len(p) && len(p) >= 4 {
		*s = utf8Reject
		return false
	}
	if k == len(p) {
		k = 0
	}
	if !utf8.Valid(p[:k]) {
		*s = utf8Reject
		return false
	}
	for _, b := range p[k:] {
		st = st.step(b)
		if st == utf8Reject {
			*s = st
			return false
		}
	}
	*s = st
	return true
}

// complete reports whether the bytes fed so far end on a character boundary.
func (s utf8State) complete() bool { return s == utf8Accept }
