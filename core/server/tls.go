package server

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// splitScheme reads the optional scheme of a TCP listen address:
// "https://H:P" is TLS, "http://H:P" plain, and a bare "H:P" is TLS exactly
// when the server has a certificate (as gunicorn and hypercorn do).
func (s *Server) splitScheme(addr string) (string, bool) {
	switch {
	case strings.HasPrefix(addr, "https://"):
		return strings.TrimPrefix(addr, "https://"), true
	case strings.HasPrefix(addr, "http://"):
		return strings.TrimPrefix(addr, "http://"), false
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "fd://"):
		return addr, false
	}
	return addr, s.opts.CertFile != ""
}

// tlsConfig loads the certificate once, at the first TLS listener, so that
// a bad file fails Listen with a message rather than every handshake.
func (s *Server) tlsConfig() (*tls.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tls != nil {
		return s.tls, nil
	}
	if s.opts.CertFile == "" || s.opts.KeyFile == "" {
		return nil, fmt.Errorf("a TLS listener needs the certfile and keyfile options")
	}
	cert, err := tls.LoadX509KeyPair(s.opts.CertFile, s.opts.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading certfile %s / keyfile %s: %v", s.opts.CertFile, s.opts.KeyFile, err)
	}
	// ALPN: h2 first, as browsers expect; http/1.1 for the rest.
	s.tls = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	return s.tls, nil
}
