package server

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// listen opens a listener for one of the address forms the C header names:
// "HOST:PORT", "unix:PATH" or "fd://N".
func listen(addr string) (net.Listener, error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		path := strings.TrimPrefix(addr, "unix:")
		if path == "" {
			return nil, fmt.Errorf("listen %q: empty socket path", addr)
		}
		// A stale socket file from a previous run would make bind fail;
		// remove it only if it is a socket nobody answers on.
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", path); err == nil {
				c.Close()
				return nil, fmt.Errorf("listen %q: another server is using the socket", addr)
			}
			os.Remove(path)
		}
		return net.Listen("unix", path)
	case strings.HasPrefix(addr, "fd://"):
		n, err := strconv.Atoi(strings.TrimPrefix(addr, "fd://"))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("listen %q: want fd://N with N a file descriptor", addr)
		}
		f := os.NewFile(uintptr(n), addr)
		defer f.Close() // FileListener dups the descriptor
		return net.FileListener(f)
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("listen %q: want HOST:PORT, unix:PATH or fd://N", addr)
		}
		return net.Listen("tcp", addr)
	}
}

// listenerAddress names a bound listener the way listen accepts it.
func listenerAddress(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return l.Addr().String()
}
