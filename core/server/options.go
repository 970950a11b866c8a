package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/portico-http/portico/core/ws"
)

// Options are a server's settings. The zero value is not usable: start from
// DefaultOptions. Names for Set match the C header's option names.
type Options struct {
	MaxHeadSize      int           // request line + fields; 431 beyond
	MaxBodySize      int64         // 0 = unlimited; 413 beyond
	HeaderTimeout    time.Duration // from the first byte of a head to its end
	KeepAliveTimeout time.Duration // idle time between requests
	BodyTimeout      time.Duration // one stalled body read or response write
	MinBodyRate      int           // request body bytes/s a client must keep up (after MinBodyRateGrace); 0: off
	MinBodyRateGrace time.Duration // waiting for a body is free this long
	WorkerThreads    int           // the host's worker pool (set by the binding); 0: unknown
	MaxWorkerStreams int           // HTTP/2 streams of one connection with the host at once; 0: WorkerThreads/2, at least 1
	GracefulTimeout  time.Duration // how long Shutdown lets requests finish
	RequestTimeout   time.Duration // queued to finished, else 503 or cut; 0: none
	QueueSize        int           // requests waiting for the host
	PrefetchSize     int           // body bytes carried with a request
	ServerHeader     string        // "" = no Server field
	WSMaxMessage     int64         // WebSocket message limit; 1009 beyond
	WSMaxQueued      int64         // WebSocket output waiting for a peer that does not read; 1008 beyond
	WSPingInterval   time.Duration // ping a quiet WebSocket this often; 0: never
	WSPingTimeout    time.Duration // then close one silent this much longer (1011)
	H2CUpgrade       bool          // honour "Upgrade: h2c" on cleartext HTTP/1.1
	InlineIO         bool          // cleartext HTTP/1.1 runs on the host's thread (inline.go)
	ReportAnswers    bool          // the server's own answers come to the host as records (answered.go)
	CertFile         string        // PEM certificate chain for TLS listeners
	KeyFile          string        // PEM private key for CertFile
	CACerts          string        // PEM CA certificates that client certificates must chain to
	VerifyClient     string        // client certificates: "none" (default), "optional", "required"
}

// DefaultOptions returns the protective defaults of design.md section 6.
func DefaultOptions() Options {
	return Options{
		MaxHeadSize:      64 << 10,
		HeaderTimeout:    10 * time.Second,
		KeepAliveTimeout: 5 * time.Second,
		BodyTimeout:      30 * time.Second,
		MinBodyRate:      240,
		MinBodyRateGrace: 5 * time.Second,
		GracefulTimeout:  30 * time.Second,
		QueueSize:        1024,
		PrefetchSize:     64 << 10,
		WSMaxMessage:     16 << 20,
		WSMaxQueued:      ws.DefaultMaxQueued,
		WSPingInterval:   20 * time.Second,
		WSPingTimeout:    20 * time.Second,
		H2CUpgrade:       true,
		InlineIO:         true,
	}
}

// Set changes one option by its C name.
func (o *Options) Set(name, value string) error {
	switch name {
	case "server_header":
		o.ServerHeader = value
		return nil
	case "h2c_upgrade", "inline_io", "report_answers":
		var on bool
		switch value {
		case "1", "true", "on":
			on = true
		case "0", "false", "off":
		default:
			return fmt.Errorf("option %s: want 1 or 0, got %q", name, value)
		}
		switch name {
		case "h2c_upgrade":
			o.H2CUpgrade = on
		case "inline_io":
			o.InlineIO = on
		default:
			o.ReportAnswers = on
		}
		return nil
	case "certfile":
		o.CertFile = value
		return nil
	case "keyfile":
		o.KeyFile = value
		return nil
	case "ca_certs":
		o.CACerts = value
		return nil
	case "verify_client":
		switch value {
		case "none", "optional", "required":
			o.VerifyClient = value
			return nil
		}
		return fmt.Errorf("option %s: want none, optional or required, got %q", name, value)
	case "min_body_rate", "worker_threads", "max_worker_streams":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 1<<30 {
			return fmt.Errorf("option %s: want an integer >= 0, got %q", name, value)
		}
		switch name {
		case "min_body_rate":
			o.MinBodyRate = n
		case "worker_threads":
			o.WorkerThreads = n
		default:
			o.MaxWorkerStreams = n
		}
		return nil
	case "max_head_size", "queue_size", "prefetch_size":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > 1<<30 {
			return fmt.Errorf("option %s: want a positive integer, got %q", name, value)
		}
		switch name {
		case "max_head_size":
			o.MaxHeadSize = n
		case "queue_size":
			o.QueueSize = n
		default:
			o.PrefetchSize = n
		}
		return nil
	case "max_body_size", "ws_max_message_size", "ws_max_queued":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 || (n == 0 && name != "max_body_size") {
			return fmt.Errorf("option %s: want a byte count, got %q", name, value)
		}
		switch name {
		case "max_body_size":
			o.MaxBodySize = n
		case "ws_max_message_size":
			o.WSMaxMessage = n
		default:
			o.WSMaxQueued = n
		}
		return nil
	case "header_timeout_ms", "keepalive_timeout_ms", "body_timeout_ms", "graceful_timeout_ms",
		"ws_ping_interval_ms", "ws_ping_timeout_ms", "request_timeout_ms", "min_body_rate_grace_ms":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("option %s: want milliseconds >= 0, got %q", name, value)
		}
		d := time.Duration(n) * time.Millisecond
		switch name {
		case "header_timeout_ms":
			o.HeaderTimeout = d
		case "keepalive_timeout_ms":
			o.KeepAliveTimeout = d
		case "body_timeout_ms":
			o.BodyTimeout = d
		case "ws_ping_interval_ms":
			o.WSPingInterval = d
		case "ws_ping_timeout_ms":
			o.WSPingTimeout = d
		case "request_timeout_ms":
			o.RequestTimeout = d
		case "min_body_rate_grace_ms":
			o.MinBodyRateGrace = d
		default:
			o.GracefulTimeout = d
		}
		return nil
	}
	return fmt.Errorf("unknown option %q", name)
}

// workerStreams is how many streams of one HTTP/2 connection may be with
// the host at once: MaxWorkerStreams, else half the host's pool (at least
// 1); 0 means no cap (an event-loop host has no pool to protect).
func (o *Options) workerStreams() int {
	if o.MaxWorkerStreams > 0 {
		return o.MaxWorkerStreams
	}
	if o.WorkerThreads > 0 {
		return max(o.WorkerThreads/2, 1)
	}
	return 0
}
