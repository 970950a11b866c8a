package h2

import (
	"encoding/binary"
	"errors"

	"golang.org/x/net/http2"
)

// ErrSettings is returned by Upgrade for an invalid HTTP2-Settings payload.
var ErrSettings = errors.New("h2: invalid HTTP2-Settings")

// settingEnableConnectProtocol is RFC 8441's SETTINGS_ENABLE_CONNECT_PROTOCOL.
const settingEnableConnectProtocol http2.SettingID = 0x8

// writeSettings queues our SETTINGS (the server preface) and, if our connection
// window is larger than the default, the WINDOW_UPDATE that opens it.
func (c *Conn) writeSettings() {
	l := &c.lim
	start := len(c.out)
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, 0, 0)
	put := func(id http2.SettingID, v uint32) {
		c.out = append(c.out, byte(id>>8), byte(id))
		c.out = appendUint32(c.out, v)
	}
	put(http2.SettingMaxConcurrentStreams, l.MaxConcurrentStreams)
	if l.InitialWindowSize != defaultWindow {
		put(http2.SettingInitialWindowSize, l.InitialWindowSize)
	}
	if l.MaxFrameSize != minMaxFrameSize {
		put(http2.SettingMaxFrameSize, l.MaxFrameSize)
	}
	if l.HeaderTableSize != 4096 {
		put(http2.SettingHeaderTableSize, l.HeaderTableSize)
	}
	put(http2.SettingMaxHeaderListSize, l.MaxHeaderListSize)
	if l.EnableConnectProtocol {
		put(settingEnableConnectProtocol, 1)
	}
	n := len(c.out) - start - frameHeaderLen
	c.out[start], c.out[start+1], c.out[start+2] = byte(n>>16), byte(n>>8), byte(n)

	// Until the peer ACKs, it may still use the default 65535 per stream; a larger
	// window applies to it at once.
	c.streamRecvIWS = int64(l.InitialWindowSize)
	if c.streamRecvIWS < defaultWindow {
		c.streamRecvIWS = defaultWindow
	}
	if c.connTarget > defaultWindow {
		c.writeWindowUpdate(0, uint32(c.connTarget-defaultWindow))
		c.recvWindow = c.connTarget
	}
}

func (c *Conn) onSettings(f *http2.SettingsFrame) {
	if f.IsAck() {
		if !c.settingsAcked {
			c.settingsAcked = true
			c.adjustRecvWindows()
		}
		return
	}
	if !c.spendAck() {
		return
	}
	oldIWS := c.peerIWS
	for i := 0; i < f.NumSettings(); i++ {
		s := f.Setting(i)
		if code, reason := c.applySetting(s.ID, s.Val); code != http2.ErrCodeNo {
			c.connError(code, reason)
			return
		}
	}
	// Duplicates are legal and applied in order (RFC 9113 6.5.3); only the net
	// change of the initial window matters.
	if !c.adjustSendWindows(c.peerIWS - oldIWS) {
		return
	}
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
	if c.peerIWS > oldIWS {
		c.wakeBlocked()
	}
}

// applySetting applies one peer setting; it returns the connection error code, or
// NO_ERROR.
func (c *Conn) applySetting(id http2.SettingID, v uint32) (http2.ErrCode, string) {
	switch id {
	case http2.SettingHeaderTableSize:
		c.peerTableSize = v
		c.enc.setPeerLimit(v)
	case http2.SettingEnablePush:
		if v > 1 {
			return http2.ErrCodeProtocol, "SETTINGS_ENABLE_PUSH not 0 or 1"
		}
		c.peerPush = v == 1
	case http2.SettingMaxConcurrentStreams:
		c.peerMaxStreams = v
	case http2.SettingInitialWindowSize:
		if v > maxWindow {
			return http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1"
		}
		c.peerIWS = int64(v)
	case http2.SettingMaxFrameSize:
		if v < minMaxFrameSize || v > maxMaxFrameSize {
			return http2.ErrCodeProtocol, "SETTINGS_MAX_FRAME_SIZE out of range"
		}
		c.peerMaxFrame = v
	}
	// SETTINGS_MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
	return http2.ErrCodeNo, ""
}

func (c *Conn) onPing(f *http2.PingFrame) {
	if f.IsAck() {
		return // we never send PINGs, so there is nothing to match
	}
	if !c.spendAck() {
		return
	}
	c.out = appendFrameHeader(c.out, 8, http2.FramePing, http2.FlagPingAck, 0)
	c.out = append(c.out, f.Data[:]...)
}

// applySettingsPayload applies the decoded HTTP2-Settings of an h2c Upgrade.
func (c *Conn) applySettingsPayload(p []byte) error {
	if len(p)%6 != 0 {
		return ErrSettings
	}
	oldIWS := c.peerIWS
	for ; len(p) > 0; p = p[6:] {
		id := http2.SettingID(binary.BigEndian.Uint16(p))
		if code, _ := c.applySetting(id, binary.BigEndian.Uint32(p[2:])); code != http2.ErrCodeNo {
			return ErrSettings
		}
	}
	c.adjustSendWindows(c.peerIWS - oldIWS)
	return nil
}
