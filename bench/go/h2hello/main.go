// Command h2hello is the pure-Go ceiling for the benchmarks: net/http with
// x/net's h2c handler answering the same 14 bytes as the Python apps.
package main

import (
	"flag"
	"log"
	"net/http"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "14")
		w.Write([]byte("Hello, world!\n"))
	})
	log.Fatal(http.ListenAndServe(*addr, h2c.NewHandler(hello, &http2.Server{})))
}
