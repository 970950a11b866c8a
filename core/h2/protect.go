package h2

import "golang.org/x/net/http2"

// Protections (design.md section 6). Each answers abuse with GOAWAY
// ENHANCE_YOUR_CALM so that one connection cannot make the server do unbounded work:
//   - rapid reset (CVE-2023-44487): client RST_STREAMs and streams we reset for the
//     client's faults spend tokens of a bucket (ResetBurst, refilled at ResetRate/s
//     from the time passed to Recv);
//   - SETTINGS/PING floods: at most FloodBudget ACKs may wait in the output until
//     the host drains it (Output), as nghttp2 and Go bound queued control frames;
//     no rate limit, since clients that estimate bandwidth ping once per round trip;
//   - empty frames (DATA without payload or END_STREAM): flood tokens, a bucket of
//     FloodBudget refilled at FloodBudget/10 per second;
//   - CONTINUATION (CVE-2024-27316) and header list size: see headers.go.

func (c *Conn) refill() {
	if c.now.IsZero() || !c.now.After(c.lastRefill) {
		return
	}
	dt := c.now.Sub(c.lastRefill).Seconds()
	c.lastRefill = c.now
	c.resetTokens += dt * c.lim.ResetRate
	if max := float64(c.lim.ResetBurst); c.resetTokens > max {
		c.resetTokens = max
	}
	c.floodTokens += dt * float64(c.lim.FloodBudget) / 10
	if max := float64(c.lim.FloodBudget); c.floodTokens > max {
		c.floodTokens = max
	}
}

// spendReset takes a reset token; false (and a connection error) when empty.
func (c *Conn) spendReset() bool {
	c.refill()
	if c.resetTokens < 1 {
		c.connError(http2.ErrCodeEnhanceYourCalm, "too many stream resets")
		return false
	}
	c.resetTokens--
	return true
}

// spendFlood takes a flood token; false (and a connection error) when empty.
func (c *Conn) spendFlood() bool {
	c.refill()
	if c.floodTokens < 1 {
		c.connError(http2.ErrCodeEnhanceYourCalm, "flood of control or empty frames")
		return false
	}
	c.floodTokens--
	return true
}

// spendAck accounts for an ACK we are about to queue.
func (c *Conn) spendAck() bool {
	c.acksPending++
	if c.acksPending > c.lim.FloodBudget {
		c.connError(http2.ErrCodeEnhanceYourCalm, "too many unanswered SETTINGS/PING")
		return false
	}
	return true
}
