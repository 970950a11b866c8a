package h2

import (
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-http/portico/core/internal/needs"
)

// A minimal driver around the sans-I/O Conn, as core/server will do it: one
// goroutine per TCP connection, every request answered with 200 and a small body
// once its body was read (and Consumed).

var testBody = []byte("hello from portico h2\n")

type pendingSend struct {
	rest []byte
}

func serveTestConn(nc net.Conn, lim Limits) {
	defer nc.Close()
	c := NewServerConn(lim)
	out := make([]byte, 0, 64<<10)
	pending := map[uint32]*pendingSend{}
	respond := func(id uint32) {
		if err := c.Respond(id, 200, []Field{
			{Name: []byte("content-type"), Value: []byte("text/plain")},
			{Name: []byte("content-length"), Value: []byte(strconv.Itoa(len(testBody)))},
		}, false); err != nil {
			return
		}
		n, err := c.SendData(id, testBody, true)
		if err == nil && n < len(testBody) {
			pending[id] = &pendingSend{rest: testBody[n:]}
		}
	}
	retry := func(id uint32) {
		p := pending[id]
		if p == nil {
			return
		}
		n, err := c.SendData(id, p.rest, true)
		if err != nil || n == len(p.rest) {
			delete(pending, id)
			return
		}
		p.rest = p.rest[n:]
	}
	flush := func() bool {
		if !c.HasOutput() {
			return true
		}
		out = c.Output(out[:0])
		_, err := nc.Write(out)
		return err == nil
	}
	for {
		buf := c.RecvBuffer(16 << 10)
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := nc.Read(buf)
		if err != nil {
			n = 0
		}
		c.Commit(n, time.Now())
		for {
			ev := c.Next()
			switch ev {
			case RequestEvent:
				if r := c.Request(); r.EndStream {
					respond(r.StreamID)
				}
			case DataEvent:
				c.Consumed(c.StreamID(), len(c.Data()))
			case EndStreamEvent:
				respond(c.StreamID())
			case ResetEvent:
				delete(pending, c.StreamID())
			case WindowEvent:
				if id := c.StreamID(); id != 0 {
					retry(id)
				} else {
					for id := range pending {
						retry(id)
					}
				}
			case ConnErrorEvent, ClosedEvent:
				flush()
				if tc, ok := nc.(*net.TCPConn); ok {
					tc.CloseWrite()
					// Let the peer read the GOAWAY before the socket goes away.
					nc.SetReadDeadline(time.Now().Add(time.Second))
					var sink [4096]byte
					for {
						if _, err := nc.Read(sink[:]); err != nil {
							break
						}
					}
				}
				return
			}
			if ev == NeedData {
				break
			}
		}
		if !flush() {
			return
		}
	}
}

// startTestServer listens on 127.0.0.1:0 and serves each connection with serveTestConn.
func startTestServer(t testing.TB, lim Limits) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go serveTestConn(nc, lim)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

func findH2spec() string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("GOPATH"), "bin"), filepath.Join(home, "go", "bin")} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "h2spec")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

type junitSuites struct {
	Suites []struct {
		Package string `xml:"package,attr"`
		Tests   int    `xml:"tests,attr"`
		Cases   []struct {
			Package string    `xml:"package,attr"`
			Name    string    `xml:"classname,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestH2spec runs h2spec in strict mode against the driver above: all 146 cases must pass.
func TestH2spec(t *testing.T) {
	bin := findH2spec()
	if bin == "" {
		needs.Missing(t, "h2spec not found; install: make build/tools/h2spec (it puts h2spec on the tests' PATH)")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	ln := startTestServer(t, Limits{})
	port := ln.Addr().(*net.TCPAddr).Port
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-S", "-j", report}
	if sel := os.Getenv("H2SPEC_SELECT"); sel != "" {
		args = append(args, strings.Fields(sel)...)
	}
	out, runErr := exec.Command(bin, args...).CombinedOutput()
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no report (%v): %s", runErr, out)
	}
	var rep junitSuites
	if err := xml.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	total, passed := 0, 0
	var failed []string
	for _, s := range rep.Suites {
		for _, tc := range s.Cases {
			total++
			if tc.Failure != nil || tc.Error != nil || tc.Skipped != nil {
				failed = append(failed, tc.Package+" "+tc.Name)
				continue
			}
			passed++
		}
	}
	t.Logf("h2spec strict: %d/%d passed", passed, total)
	if os.Getenv("H2SPEC_VERBOSE") != "" {
		t.Logf("%s", out)
	}
	if len(failed) > 0 || runErr != nil {
		t.Errorf("failing cases:\n  %s\n%s", strings.Join(failed, "\n  "), tail(string(out), 4000))
	}
	if os.Getenv("H2SPEC_SELECT") == "" && total != 146 {
		t.Errorf("h2spec ran %d cases, want 146", total)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestServeManual serves the test driver on $H2_SERVE (e.g. 127.0.0.1:8443) until the
// test times out, for trying clients by hand: nghttp -nv, curl --http2-prior-knowledge, h2load.
func TestServeManual(t *testing.T) {
	addr := os.Getenv("H2_SERVE")
	if addr == "" {
		t.Skip("set H2_SERVE=host:port to serve the test driver")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go serveTestConn(nc, Limits{EnableConnectProtocol: true})
	}
}
