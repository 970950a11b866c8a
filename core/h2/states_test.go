package h2

import (
	"testing"

	"golang.org/x/net/http2"
)

// expectation of one table case: a GOAWAY code (connection error), or a RST_STREAM
// code on a stream, or neither (ok).
type want struct {
	goaway http2.ErrCode // noFrame: no GOAWAY
	rstID  uint32
	rst    http2.ErrCode // noFrame: no RST_STREAM on rstID
}

var (
	ok         = want{goaway: noFrame, rst: noFrame}
	connErr    = func(c http2.ErrCode) want { return want{goaway: c, rst: noFrame} }
	streamErr  = func(id uint32, c http2.ErrCode) want { return want{goaway: noFrame, rstID: id, rst: c} }
	pingMarker = [8]byte{'m', 'a', 'r', 'k', 'e', 'r', 0, 1}
)

type frameCase struct {
	name  string
	lim   Limits
	setup func(tc *tclient) // frames sent before the flush
	after func(tc *tclient) // frames sent in a second flush (optional)
	want  want
}

func runFrameCases(t *testing.T, cases []frameCase) {
	t.Helper()
	for _, fc := range cases {
		t.Run(fc.name, func(t *testing.T) {
			tc := newClient(t, fc.lim)
			fc.setup(tc)
			tc.flush()
			if fc.after != nil {
				tc.reset()
				fc.after(tc)
				tc.flush()
			}
			// A PING after the frames shows whether the connection is still alive.
			tc.fr.WritePing(false, pingMarker)
			tc.flush()
			if got := tc.goaway(); got != fc.want.goaway {
				t.Fatalf("GOAWAY %v, want %v: %s", got, fc.want.goaway, tc.summary())
			}
			if fc.want.goaway != noFrame {
				if len(tc.eventsOf(ConnErrorEvent)) != 1 || tc.c.Err() == nil || tc.c.Err().Code != fc.want.goaway {
					t.Fatalf("no ConnErrorEvent: %s", tc.summary())
				}
				if p := tc.framesOf(http2.FramePing); len(p) != 0 {
					t.Fatalf("frames processed after a connection error: %s", tc.summary())
				}
				return
			}
			if fc.want.rst != noFrame || fc.want.rstID != 0 {
				if got := tc.rst(fc.want.rstID); got != fc.want.rst {
					t.Fatalf("RST_STREAM(%d) %v, want %v: %s", fc.want.rstID, got, fc.want.rst, tc.summary())
				}
			}
			if p := tc.framesOf(http2.FramePing); len(p) == 0 || p[len(p)-1].data != string(pingMarker[:]) {
				t.Fatalf("connection not alive: %s", tc.summary())
			}
		})
	}
}

func TestStreamStates(t *testing.T) {
	get := func(tc *tclient) { tc.headers(1, true, getReq("/")...) }
	post := func(tc *tclient) { tc.headers(1, false, postReq("/")...) }
	finish := func(tc *tclient) { tc.c.Respond(1, 200, nil, true) }
	runFrameCases(t, []frameCase{
		{"idle DATA", Limits{}, func(tc *tclient) { tc.data(1, true, "x") }, nil, connErr(http2.ErrCodeProtocol)},
		{"idle RST_STREAM", Limits{}, func(tc *tclient) { tc.fr.WriteRSTStream(1, http2.ErrCodeCancel) }, nil, connErr(http2.ErrCodeProtocol)},
		{"idle WINDOW_UPDATE", Limits{}, func(tc *tclient) { tc.fr.WriteWindowUpdate(1, 10) }, nil, connErr(http2.ErrCodeProtocol)},
		{"idle WINDOW_UPDATE 0", Limits{}, func(tc *tclient) { tc.fr.WriteWindowUpdate(1, 0) }, nil, connErr(http2.ErrCodeProtocol)},
		{"idle CONTINUATION", Limits{}, func(tc *tclient) { tc.fr.WriteContinuation(1, true, tc.block(getReq("/")...)) }, nil, connErr(http2.ErrCodeProtocol)},
		{"idle PRIORITY ok", Limits{}, func(tc *tclient) { tc.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 5}) }, nil, ok},
		{"idle even DATA", Limits{}, func(tc *tclient) { tc.data(2, true, "x") }, nil, connErr(http2.ErrCodeProtocol)},
		{"even HEADERS", Limits{}, func(tc *tclient) { tc.headers(2, true, getReq("/")...) }, nil, connErr(http2.ErrCodeProtocol)},
		{"lower stream id", Limits{}, func(tc *tclient) { tc.headers(5, true, getReq("/")...); tc.headers(3, true, getReq("/")...) }, nil, connErr(http2.ErrCodeProtocol)},
		{"half-closed remote DATA", Limits{}, get, func(tc *tclient) { tc.data(1, true, "x") }, streamErr(1, http2.ErrCodeStreamClosed)},
		{"half-closed remote HEADERS", Limits{}, get, func(tc *tclient) { tc.headers(1, true, "x", "y") }, streamErr(1, http2.ErrCodeStreamClosed)},
		{"half-closed remote WINDOW_UPDATE ok", Limits{}, get, func(tc *tclient) { tc.fr.WriteWindowUpdate(1, 5) }, ok},
		{"half-closed remote PRIORITY ok", Limits{}, get, func(tc *tclient) { tc.fr.WritePriority(1, http2.PriorityParam{Weight: 1}) }, ok},
		{"half-closed remote RST ok", Limits{}, get, func(tc *tclient) { tc.fr.WriteRSTStream(1, http2.ErrCodeCancel) }, ok},
		{"closed by client RST then DATA", Limits{}, post, func(tc *tclient) {
			tc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			tc.data(1, true, "x")
		}, streamErr(1, http2.ErrCodeStreamClosed)},
		{"closed by client RST then HEADERS", Limits{}, post, func(tc *tclient) {
			tc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			tc.headers(1, true, "x", "y")
		}, connErr(http2.ErrCodeStreamClosed)},
		{"closed normally then DATA", Limits{}, func(tc *tclient) { get(tc) }, func(tc *tclient) {
			finish(tc)
			tc.data(1, true, "x")
		}, streamErr(1, http2.ErrCodeStreamClosed)},
		{"closed normally then HEADERS", Limits{}, get, func(tc *tclient) {
			finish(tc)
			tc.headers(1, true, getReq("/")...)
		}, connErr(http2.ErrCodeStreamClosed)},
		{"closed normally then WINDOW_UPDATE ok", Limits{}, get, func(tc *tclient) {
			finish(tc)
			tc.fr.WriteWindowUpdate(1, 1)
			tc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			tc.fr.WritePriority(1, http2.PriorityParam{Weight: 1})
		}, ok},
		{"closed by our reset then DATA ignored", Limits{}, post, func(tc *tclient) {
			tc.c.Reset(1, http2.ErrCodeInternal)
			tc.data(1, false, "x")
			tc.headers(1, true, "x-late", "trailer")
		}, streamErr(1, http2.ErrCodeInternal)},
		{"second HEADERS without END_STREAM", Limits{}, post, func(tc *tclient) {
			tc.data(1, false, "x")
			tc.headers(1, false, "x-t", "1")
		}, streamErr(1, http2.ErrCodeProtocol)},
		{"client PUSH_PROMISE", Limits{}, get, func(tc *tclient) {
			tc.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: tc.block(getReq("/")...), EndHeaders: true})
		}, connErr(http2.ErrCodeProtocol)},
		{"too many streams refused", Limits{MaxConcurrentStreams: 2}, func(tc *tclient) {
			tc.headers(1, false, postReq("/")...)
			tc.headers(3, false, postReq("/")...)
			tc.headers(5, false, postReq("/")...)
		}, nil, streamErr(5, http2.ErrCodeRefusedStream)},
		{"refused stream late DATA ignored", Limits{MaxConcurrentStreams: 1}, func(tc *tclient) {
			tc.headers(1, false, postReq("/")...)
			tc.headers(3, false, postReq("/")...)
		}, func(tc *tclient) { tc.data(3, true, "x") }, ok},
	})
}

func TestFrameValidation(t *testing.T) {
	open := func(tc *tclient) { tc.headers(1, false, postReq("/")...) }
	raw := func(typ http2.FrameType, flags http2.Flags, id uint32, p string) func(*tclient) {
		return func(tc *tclient) { tc.fr.WriteRawFrame(typ, flags, id, []byte(p)) }
	}
	then := func(a, b func(*tclient)) func(*tclient) { return func(tc *tclient) { a(tc); b(tc) } }
	runFrameCases(t, []frameCase{
		{"DATA stream 0", Limits{}, raw(http2.FrameData, 0, 0, "x"), nil, connErr(http2.ErrCodeProtocol)},
		{"DATA pad too long", Limits{}, then(open, raw(http2.FrameData, http2.FlagDataPadded, 1, "\x06Test")), nil, connErr(http2.ErrCodeProtocol)},
		{"DATA pad equal to length", Limits{}, then(open, raw(http2.FrameData, http2.FlagDataPadded, 1, "\x05Test")), nil, connErr(http2.ErrCodeProtocol)},
		{"DATA all padding ok", Limits{}, then(open, raw(http2.FrameData, http2.FlagDataPadded, 1, "\x04Test")), nil, ok},
		{"DATA padded ok", Limits{}, then(open, raw(http2.FrameData, http2.FlagDataPadded, 1, "\x02Te\x00\x00")), nil, ok},
		{"DATA too large", Limits{}, then(open, raw(http2.FrameData, 0, 1, string(make([]byte, 16385)))), nil, connErr(http2.ErrCodeFrameSize)},
		{"DATA max size ok", Limits{}, then(open, raw(http2.FrameData, 0, 1, string(make([]byte, 16384)))), nil, ok},
		{"HEADERS stream 0", Limits{}, raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 0, ""), nil, connErr(http2.ErrCodeProtocol)},
		{"HEADERS pad too long", Limits{}, func(tc *tclient) {
			b := tc.block(getReq("/")...)
			tc.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersPadded, 1, append([]byte{byte(len(b) + 2)}, b...))
		}, nil, connErr(http2.ErrCodeProtocol)},
		{"HEADERS priority too short", Limits{}, raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersPriority, 1, "\x00\x00"), nil, connErr(http2.ErrCodeFrameSize)},
		{"HEADERS with priority and padding ok", Limits{}, func(tc *tclient) {
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: tc.block(getReq("/")...), EndStream: true, EndHeaders: true,
				PadLength: 3, Priority: http2.PriorityParam{StreamDep: 0, Weight: 200, Exclusive: true}})
		}, nil, ok},
		{"HEADERS depends on itself", Limits{}, func(tc *tclient) {
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: tc.block(getReq("/")...), EndStream: true, EndHeaders: true,
				Priority: http2.PriorityParam{StreamDep: 1, Weight: 1}})
		}, nil, streamErr(1, http2.ErrCodeProtocol)},
		{"HEADERS too large frame", Limits{}, func(tc *tclient) {
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: tc.block(append(getReq("/"), "x", string(make([]byte, 17000)))...), EndStream: true, EndHeaders: true})
		}, nil, connErr(http2.ErrCodeFrameSize)},
		{"PRIORITY stream 0", Limits{}, raw(http2.FramePriority, 0, 0, "\x00\x00\x00\x01\x01"), nil, connErr(http2.ErrCodeProtocol)},
		{"PRIORITY bad length", Limits{}, then(open, raw(http2.FramePriority, 0, 1, "\x80\x00\x00\x01")), nil, connErr(http2.ErrCodeFrameSize)},
		{"PRIORITY on itself", Limits{}, then(open, func(tc *tclient) { tc.fr.WritePriority(1, http2.PriorityParam{StreamDep: 1}) }), nil, streamErr(1, http2.ErrCodeProtocol)},
		{"RST_STREAM stream 0", Limits{}, raw(http2.FrameRSTStream, 0, 0, "\x00\x00\x00\x08"), nil, connErr(http2.ErrCodeProtocol)},
		{"RST_STREAM bad length", Limits{}, then(open, raw(http2.FrameRSTStream, 0, 1, "\x00\x00\x00")), nil, connErr(http2.ErrCodeFrameSize)},
		{"RST_STREAM unknown code ok", Limits{}, then(open, func(tc *tclient) { tc.fr.WriteRSTStream(1, 0xff) }), nil, ok},
		{"SETTINGS ACK with payload", Limits{}, raw(http2.FrameSettings, http2.FlagSettingsAck, 0, "\x00"), nil, connErr(http2.ErrCodeFrameSize)},
		{"SETTINGS on stream", Limits{}, raw(http2.FrameSettings, 0, 1, "\x00\x03\x00\x00\x00\x64"), nil, connErr(http2.ErrCodeProtocol)},
		{"SETTINGS bad length", Limits{}, raw(http2.FrameSettings, 0, 0, "\x00\x03\x00"), nil, connErr(http2.ErrCodeFrameSize)},
		{"SETTINGS ENABLE_PUSH 2", Limits{}, func(tc *tclient) { tc.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 2}) }, nil, connErr(http2.ErrCodeProtocol)},
		{"SETTINGS window too large", Limits{}, func(tc *tclient) {
			tc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}, nil, connErr(http2.ErrCodeFlowControl)},
		{"SETTINGS MAX_FRAME_SIZE small", Limits{}, func(tc *tclient) { tc.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16383}) }, nil, connErr(http2.ErrCodeProtocol)},
		{"SETTINGS MAX_FRAME_SIZE large", Limits{}, func(tc *tclient) { tc.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 24}) }, nil, connErr(http2.ErrCodeProtocol)},
		{"SETTINGS unknown and duplicate ok", Limits{}, func(tc *tclient) {
			tc.fr.WriteSettings(http2.Setting{ID: 0xff, Val: 1}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		}, nil, ok},
		{"PING on stream", Limits{}, raw(http2.FramePing, 0, 1, "12345678"), nil, connErr(http2.ErrCodeProtocol)},
		{"PING bad length", Limits{}, raw(http2.FramePing, 0, 0, "123456"), nil, connErr(http2.ErrCodeFrameSize)},
		{"PING undefined flag ok", Limits{}, raw(http2.FramePing, 0x16, 0, "12345678"), nil, ok},
		{"GOAWAY on stream", Limits{}, raw(http2.FrameGoAway, 0, 1, "\x00\x00\x00\x00\x00\x00\x00\x00"), nil, connErr(http2.ErrCodeProtocol)},
		{"GOAWAY short", Limits{}, raw(http2.FrameGoAway, 0, 0, "\x00\x00\x00\x00"), nil, connErr(http2.ErrCodeFrameSize)},
		{"WINDOW_UPDATE 0 on connection", Limits{}, func(tc *tclient) { tc.fr.WriteWindowUpdate(0, 0) }, nil, connErr(http2.ErrCodeProtocol)},
		{"WINDOW_UPDATE 0 on stream", Limits{}, then(open, func(tc *tclient) { tc.fr.WriteWindowUpdate(1, 0) }), nil, streamErr(1, http2.ErrCodeProtocol)},
		{"WINDOW_UPDATE bad length", Limits{}, raw(http2.FrameWindowUpdate, 0, 0, "\x00\x00\x01"), nil, connErr(http2.ErrCodeFrameSize)},
		{"WINDOW_UPDATE connection overflow", Limits{}, func(tc *tclient) {
			tc.fr.WriteWindowUpdate(0, 1<<31-1)
			tc.fr.WriteWindowUpdate(0, 1<<31-1)
		}, nil, connErr(http2.ErrCodeFlowControl)},
		{"WINDOW_UPDATE stream overflow", Limits{}, then(open, func(tc *tclient) {
			tc.fr.WriteWindowUpdate(1, 1<<31-1)
			tc.fr.WriteWindowUpdate(1, 1<<31-1)
		}), nil, streamErr(1, http2.ErrCodeFlowControl)},
		{"CONTINUATION sequence ok", Limits{}, func(tc *tclient) {
			b := tc.block(getReq("/")...)
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3], EndStream: true})
			tc.fr.WriteContinuation(1, false, b[3:6])
			tc.fr.WriteContinuation(1, true, b[6:])
		}, nil, ok},
		{"CONTINUATION interleaved with DATA", Limits{}, func(tc *tclient) {
			b := tc.block(getReq("/")...)
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3]})
			tc.data(1, true, "x")
		}, nil, connErr(http2.ErrCodeProtocol)},
		{"CONTINUATION interleaved with PRIORITY", Limits{}, func(tc *tclient) {
			b := tc.block(getReq("/")...)
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3]})
			tc.fr.WritePriority(1, http2.PriorityParam{Weight: 1})
		}, nil, connErr(http2.ErrCodeProtocol)},
		{"CONTINUATION unknown frame between", Limits{}, func(tc *tclient) {
			b := tc.block(getReq("/")...)
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3]})
			tc.fr.WriteRawFrame(0x16, 0, 0, []byte("12345678"))
		}, nil, connErr(http2.ErrCodeProtocol)},
		{"CONTINUATION other stream", Limits{}, func(tc *tclient) {
			b := tc.block(getReq("/")...)
			tc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3]})
			tc.fr.WriteContinuation(3, true, b[3:])
		}, nil, connErr(http2.ErrCodeProtocol)},
		{"CONTINUATION after END_HEADERS", Limits{}, func(tc *tclient) {
			tc.headers(1, false, postReq("/")...)
			tc.fr.WriteContinuation(1, true, tc.block("x", "y"))
		}, nil, connErr(http2.ErrCodeProtocol)},
		{"HPACK invalid", Limits{}, raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, "\x40"), nil, connErr(http2.ErrCodeCompression)},
		{"HPACK index 0", Limits{}, raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, "\x80"), nil, connErr(http2.ErrCodeCompression)},
		{"HPACK index too large", Limits{}, raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, "\xff\x7f"), nil, connErr(http2.ErrCodeCompression)},
		{"HPACK table size update too large", Limits{}, func(tc *tclient) {
			b := append([]byte{0x3f, 0xe2, 0x1f}, tc.block(getReq("/")...)...) // 4097
			tc.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, b)
		}, nil, connErr(http2.ErrCodeCompression)},
		{"HPACK table size updates ok", Limits{}, func(tc *tclient) {
			b := append([]byte{0x20, 0x3f, 0xe1, 0x1f}, tc.block(getReq("/")...)...) // 0 then 4096
			tc.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, b)
		}, nil, ok},
	})
}
