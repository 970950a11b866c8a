package ws

import (
	"math/rand"
	"testing"
	"unicode/utf8"
)

func dfaValid(p []byte) bool {
	var s utf8State
	for _, b := range p {
		if s = s.step(b); s == utf8Reject {
			return false
		}
	}
	return s == utf8Accept
}

// The DFA tables are checked against the standard library on every sequence of
// up to 3 bytes and on all 4-byte sequences over representative bytes.
func TestUTF8DFAMatchesStdlib(t *testing.T) {
	var b [4]byte
	for i := 0; i < 256; i++ {
		b[0] = byte(i)
		if dfaValid(b[:1]) != utf8.Valid(b[:1]) {
			t.Fatalf("%x", b[:1])
		}
		for j := 0; j < 256; j++ {
			b[1] = byte(j)
			if dfaValid(b[:2]) != utf8.Valid(b[:2]) {
				t.Fatalf("%x", b[:2])
			}
			for k := 0; k < 256; k++ {
				b[2] = byte(k)
				if dfaValid(b[:3]) != utf8.Valid(b[:3]) {
					t.Fatalf("%x", b[:3])
				}
			}
		}
	}
	reps := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff}
	for i := 0; i < 256; i++ {
		for _, x := range reps {
			for _, y := range reps {
				for _, z := range reps {
					b = [4]byte{byte(i), x, y, z}
					if dfaValid(b[:]) != utf8.Valid(b[:]) {
						t.Fatalf("%x", b)
					}
				}
			}
		}
	}
}

// canExtend reports whether p is a prefix of some valid UTF-8 string.
func canExtend(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	conts := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	for _, a := range conts {
		q := append(append([]byte{}, p...), a)
		if utf8.Valid(q) {
			return true
		}
		for _, b := range conts {
			if utf8.Valid(append(q, b)) {
				return true
			}
			for _, c := range conts {
				if utf8.Valid(append(append(q, b), c)) {
					return true
				}
			}
		}
	}
	return false
}

// Fail fast: the DFA rejects exactly when the prefix can no longer become valid.
func TestUTF8FailFastExact(t *testing.T) {
	for i := 0; i < 256; i++ {
		for j := 0; j < 256; j++ {
			for _, p := range [][]byte{{byte(i)}, {byte(i), byte(j)}} {
				var s utf8State
				for _, c := range p {
					s = s.step(c)
					if s == utf8Reject {
						break
					}
				}
				if (s != utf8Reject) != canExtend(p) {
					t.Fatalf("%x: rejected=%v", p, s == utf8Reject)
				}
			}
		}
	}
	for _, lead := range []byte{0xe0, 0xed, 0xf0, 0xf4} {
		for j := 0x80; j < 0xc0; j++ {
			for k := 0; k < 256; k++ {
				p := []byte{lead, byte(j), byte(k)}
				var s utf8State
				ok := s.feed(p)
				if ok != canExtend(p) {
					t.Fatalf("%x: ok=%v", p, ok)
				}
			}
		}
	}
}

// feed over arbitrary splits agrees with utf8.Valid on the whole.
func TestUTF8FeedSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "é", "€", "𝄞", "\xed\xa0\x80", "\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xff", "ok ", "\xe0\xa0"}
	for n := 0; n < 20000; n++ {
		var p []byte
		for i := rng.Intn(12); i >= 0; i-- {
			if rng.Intn(8) == 0 {
				p = append(p, alphabet[rng.Intn(len(alphabet))]...)
			} else {
				p = append(p, alphabet[rng.Intn(4)]...)
			}
		}
		var s utf8State
		ok := true
		rest := p
		for len(rest) > 0 && ok {
			k := rng.Intn(len(rest)) + 1
			ok = s.feed(rest[:k])
			rest = rest[k:]
		}
		got := ok && s.complete()
		if got != utf8.Valid(p) {
			t.Fatalf("%x: got %v", p, got)
		}
	}
}
