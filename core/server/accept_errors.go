package server

import (
	"errors"
	"syscall"
)

// isTemporaryAcceptError reports accept failures that pass: running out of
// descriptors or memory, or a connection reset before it was accepted.
func isTemporaryAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
