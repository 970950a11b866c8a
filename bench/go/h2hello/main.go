// Command h2hello is the pure-Go ceiling for the HTTP benchmarks: net/http
// with the same logic as bench/wsgi_hello.py, path for path:
//
//	/      200, text/plain, 14 bytes "Hello, world!\n"
//	/10k   200, text/plain, 10,240 bytes
//	/echo  200, application/octet-stream, the request body sent back
//
// -mode h1 is a plain net/http server, h2c wraps it in x/net's h2c handler
// (HTTP/2 with prior knowledge or Upgrade, and HTTP/1.1), and -cert/-key
// serve TLS with HTTP/2 by ALPN (net/http's bundled http2).
package main

import (
	"bytes"
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

var (
	hello = []byte("Hello, world!\n")
	body  = bytes.Repeat([]byte("x"), 10240)
)

func handle(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.URL.Path {
	case "/echo":
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	case "/10k":
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", "10240")
		w.Write(body)
	default:
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", "14")
		w.Write(hello)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	mode := flag.String("mode", "h2c", "h1 (plain net/http) or h2c (x/net h2c handler); ignored with -cert")
	cert := flag.String("cert", "", "PEM certificate: serve TLS, HTTP/2 by ALPN")
	key := flag.String("key", "", "PEM private key for -cert")
	flag.Parse()
	var handler http.Handler = http.HandlerFunc(handle)
	if *cert != "" {
		log.Fatal(http.ListenAndServeTLS(*addr, *cert, *key, handler))
	}
	switch *mode {
	case "h1":
	case "h2c":
		handler = h2c.NewHandler(handler, &http2.Server{})
	default:
		log.Fatalf("h2hello: unknown -mode %q", *mode)
	}
	log.Fatal(http.ListenAndServe(*addr, handler))
}
