package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
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
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if err := s.clientAuth(cfg); err != nil {
		return nil, err
	}
	s.tls = cfg
	return s.tls, nil
}

// clientAuth sets up client certificates from ca_certs and verify_client.
// "optional" verifies a certificate the client chooses to send, "required"
// refuses the handshake without a valid one. ca_certs without verify_client
// asks for nothing, as in gunicorn and uvicorn.
func (s *Server) clientAuth(cfg *tls.Config) error {
	mode := s.opts.VerifyClient
	if mode == "" || mode == "none" {
		return nil
	}
	if s.opts.CACerts == "" {
		return fmt.Errorf("verify_client %s needs ca_certs (the CAs client certificates chain to)", mode)
	}
	data, err := os.ReadFile(s.opts.CACerts)
	if err != nil {
		return fmt.Errorf("reading ca_certs: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("ca_certs %s holds no PEM certificate", s.opts.CACerts)
	}
	cfg.ClientCAs = pool
	if mode == "required" {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return nil
}
