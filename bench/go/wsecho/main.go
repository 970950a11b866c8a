// Command wsecho is the pure-Go WebSocket ceiling for the benchmarks: a
// gobwas/ws echo server, one goroutine per connection.
package main

import (
	"flag"
	"log"
	"net"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			if _, err := ws.Upgrade(c); err != nil {
				return
			}
			for {
				msg, op, err := wsutil.ReadClientData(c)
				if err != nil {
					return
				}
				if wsutil.WriteServerMessage(c, op, msg) != nil {
					return
				}
			}
		}()
	}
}
