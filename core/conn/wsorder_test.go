package conn

import (
	"bytes"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Autobahn 3.2's input in one write (a text message, a frame with a reserved bit,
// a ping) to a host that answers each message as it polls it: the echo, then the
// 1002 close, never the other way round.
func TestWebSocketEchoBeforeProtocolErrorClose(t *testing.T) {
	addr := listen(t, Config{})
	for run := 0; run < 20; run++ {
		nc, br, _, err := ws.Dialer{Timeout: 5 * time.Second}.Dial(t.Context(), "ws://"+addr+"/ws")
		if err != nil {
			t.Fatal(err)
		}
		if br != nil {
			t.Fatal("unexpected bytes after the handshake")
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		var in bytes.Buffer
		for _, f := range []ws.Frame{ws.NewTextFrame([]byte("Hello, world!")),
			{Header: ws.Header{Fin: true, Rsv: ws.Rsv(false, true, false), OpCode: ws.OpText, Length: 13}, Payload: []byte("Hello, world!")},
			ws.NewPingFrame([]byte("x"))} {
			ws.WriteFrame(&in, ws.MaskFrame(f))
		}
		nc.Write(in.Bytes())
		f, err := ws.ReadFrame(nc)
		if err != nil || f.Header.OpCode != ws.OpText || string(f.Payload) != "Hello, world!" {
			t.Fatalf("run %d: first frame %v %q %v, want the echo", run, f.Header.OpCode, f.Payload, err)
		}
		f, err = ws.ReadFrame(nc)
		if code, _ := ws.ParseCloseFrameData(f.Payload); err != nil || f.Header.OpCode != ws.OpClose || code != 1002 {
			t.Fatalf("run %d: second frame %v %q %v, want close 1002", run, f.Header.OpCode, f.Payload, err)
		}
		nc.Close()
	}
}
