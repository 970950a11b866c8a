package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// Close codes (RFC 6455 7.4.1, IANA registry).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupported     = 1003
	CloseNoStatus        = 1005 // never on the wire: the peer's close had no code
	CloseAbnormal        = 1006 // never on the wire: the transport ended without a close
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseMandatoryExt    = 1010
	CloseInternalError   = 1011
	CloseServiceRestart  = 1012
	CloseTryAgainLater   = 1013
	CloseBadGateway      = 1014
)

// maxCloseReason: a control frame carries at most 125 bytes, 2 of them the code.
const maxCloseReason = 123

// validWireCode reports whether code may appear in a close frame. 1004, 1005,
// 1006 and 1015 are reserved or local-only; 1016-2999 are unassigned; 3000-3999
// are registered by IANA and 4000-4999 private, both usable by applications.
func validWireCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// parseClose validates a received close payload. It returns the code
// (1005 when absent), the reason, and the error code to fail with (0 if valid).
func parseClose(p []byte) (code int, reason []byte, fail int) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, nil, 0
	case len(p) == 1:
		return 0, nil, CloseProtocolError
	}
	code = int(binary.BigEndian.Uint16(p))
	if !validWireCode(code) {
		return 0, nil, CloseProtocolError
	}
	reason = p[2:]
	if !utf8.Valid(reason) {
		return 0, nil, CloseInvalidPayload
	}
	return code, reason, 0
}

// truncateReason cuts reason to fit a close frame without splitting a character.
func truncateReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	n := maxCloseReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}

// appendClose appends a close frame; code 0 or 1005 sends an empty payload.
func appendClose(dst []byte, code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return appendHeader(dst, true, 0, OpClose, 0)
	}
	reason = truncateReason(reason)
	dst = appendHeader(dst, true, 0, OpClose, 2+len(reason))
	dst = append(dst, byte(code>>8), byte(code))
	return append(dst, reason...)
}
