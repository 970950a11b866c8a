package h2

import (
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func TestContinuationLimit(t *testing.T) {
	for _, n := range []int{8, 9} {
		tc := newClient(t, Limits{})
		b := tc.block(getReq("/")...)
		tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:1], EndStream: true})
		for i := 0; i < n; i++ {
			var frag []byte
			if i == n-1 {
				frag = b[1:]
			}
			tc.fr.WriteContinuation(1, i == n-1, frag)
		}
		tc.flush()
		if n == 8 && len(tc.eventsOf(RequestEvent)) != 1 {
			t.Fatalf("8 CONTINUATIONs refused: %s", tc.summary())
		}
		if n == 9 && tc.goaway() != http2.ErrCodeEnhanceYourCalm {
			t.Fatalf("9 CONTINUATIONs accepted: %s", tc.summary())
		}
	}
	// An endless block of empty CONTINUATIONs is cut off.
	tc := newClient(t, Limits{MaxContinuation: 100})
	tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: nil})
	for i := 0; i < 1000; i++ {
		tc.fr.WriteContinuation(1, false, nil)
	}
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("%s", tc.summary())
	}
}

func TestRapidReset(t *testing.T) {
	tc := newClient(t, Limits{ResetBurst: 50, ResetRate: 10})
	id := uint32(1)
	open := func(n int) {
		for i := 0; i < n; i++ {
			tc.headers(id, false, postReq("/")...)
			tc.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			id += 2
		}
	}
	open(50)
	tc.flush()
	if tc.goaway() != noFrame || len(tc.eventsOf(ResetEvent)) != 50 {
		t.Fatalf("burst not allowed: %s", tc.summary())
	}
	// Time refills the bucket: 1 s = 10 more.
	tc.now = tc.now.Add(time.Second)
	tc.reset()
	open(9)
	tc.flush()
	if tc.goaway() != noFrame {
		t.Fatalf("refill not applied: %s", tc.summary())
	}
	tc.reset()
	open(5)
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("rapid reset not stopped: %s", tc.summary())
	}
}

// Streams the engine must reset because of the client spend the same budget.
func TestMalformedStreamsSpendResetBudget(t *testing.T) {
	tc := newClient(t, Limits{ResetBurst: 20})
	for i := 0; i < 21; i++ {
		tc.headers(uint32(1+2*i), true, append(getReq("/"), "connection", "x")...)
	}
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("%s", tc.summary())
	}
}

func TestPingFlood(t *testing.T) {
	tc := newClient(t, Limits{FloodBudget: 100})
	for i := 0; i < 100; i++ {
		tc.fr.WritePing(false, [8]byte{byte(i)})
	}
	// Fed without draining Output in between: 100 ACKs may wait.
	tc.c.Recv(tc.wbuf.Bytes(), tc.now)
	tc.wbuf.Reset()
	for ev := tc.c.Next(); ev != NeedData; ev = tc.c.Next() {
		if ev == ClosedEvent || ev == ConnErrorEvent {
			t.Fatal("closed before the bound")
		}
	}
	if !tc.c.HasOutput() {
		t.Fatal("no ACKs")
	}
	tc.fr.WritePing(false, [8]byte{1})
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("101 unanswered PINGs accepted: %s", tc.summary())
	}
}

func TestSettingsFlood(t *testing.T) {
	tc := newClient(t, Limits{FloodBudget: 100})
	for i := 0; i < 101; i++ {
		tc.fr.WriteSettings()
	}
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("%s", tc.summary())
	}
}

// Drained ACKs do not count: a client pinging once per round trip is fine.
func TestPingsDrainedAreFine(t *testing.T) {
	tc := newClient(t, Limits{FloodBudget: 100})
	for i := 0; i < 1000; i++ {
		tc.fr.WritePing(false, [8]byte{})
		tc.flush()
	}
	if tc.goaway() != noFrame || len(tc.framesOf(http2.FramePing)) != 1000 {
		t.Fatalf("%s", tc.summary()[:200])
	}
}

// Empty DATA frames are rate limited: FloodBudget, refilled at FloodBudget/10 per second.
func TestEmptyDataRefill(t *testing.T) {
	tc := newClient(t, Limits{FloodBudget: 100})
	tc.headers(1, false, postReq("/")...)
	for i := 0; i < 100; i++ {
		tc.data(1, false, "")
	}
	tc.flush()
	tc.now = tc.now.Add(time.Second)
	for i := 0; i < 9; i++ {
		tc.data(1, false, "")
	}
	tc.flush()
	if tc.goaway() != noFrame {
		t.Fatalf("%s", tc.summary())
	}
	for i := 0; i < 3; i++ {
		tc.data(1, false, "")
	}
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("%s", tc.summary())
	}
}

func TestEmptyDataFlood(t *testing.T) {
	tc := newClient(t, Limits{FloodBudget: 100})
	tc.headers(1, false, postReq("/")...)
	for i := 0; i < 101; i++ {
		tc.data(1, false, "")
	}
	tc.flush()
	if tc.goaway() != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("%s", tc.summary())
	}
}

func TestConcurrentStreamsLimit(t *testing.T) {
	tc := newClient(t, Limits{MaxConcurrentStreams: 3})
	for i := uint32(0); i < 5; i++ {
		tc.headers(1+2*i, false, postReq("/")...)
	}
	tc.flush()
	if len(tc.eventsOf(RequestEvent)) != 3 || tc.rst(7) != http2.ErrCodeRefusedStream || tc.rst(9) != http2.ErrCodeRefusedStream {
		t.Fatalf("%s", tc.summary())
	}
	// Finishing one stream makes room.
	tc.reset()
	tc.c.Reset(1, http2.ErrCodeCancel)
	tc.headers(11, true, getReq("/")...)
	tc.flush()
	if len(tc.eventsOf(RequestEvent)) != 1 {
		t.Fatalf("%s", tc.summary())
	}
}
