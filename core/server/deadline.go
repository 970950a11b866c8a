package server

import (
	"net"
	"time"
)

// deadlineSlack: a deadline moves only when it would change by more than
// this. On a busy keep-alive connection that saves a timer update per read
// and per write; timeouts stay exact to within the slack.
const deadlineSlack = 250 * time.Millisecond

// deadlines caches what a connection's socket deadlines are set to.
type deadlines struct {
	read, write time.Time
}

func near(a, b time.Time) bool {
	d := a.Sub(b)
	return d < deadlineSlack && d > -deadlineSlack && !a.IsZero() && !b.IsZero()
}

// setRead moves the read deadline to about t. The caller serializes calls
// (for conn: under mu).
func (d *deadlines) setRead(nc net.Conn, t time.Time) {
	if !near(t, d.read) {
		nc.SetReadDeadline(t)
		d.read = t
	}
}

// forceRead sets the read deadline to exactly t.
func (d *deadlines) forceRead(nc net.Conn, t time.Time) {
	nc.SetReadDeadline(t)
	d.read = t
}

// setWrite moves the write deadline to about t (writer goroutine only).
func (d *deadlines) setWrite(nc net.Conn, t time.Time) {
	if !near(t, d.write) {
		nc.SetWriteDeadline(t)
		d.write = t
	}
}
