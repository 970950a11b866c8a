package server

import (
	"sync/atomic"
	"time"
)

// imfFixdate is the HTTP date layout (RFC 9110 5.6.7).
const imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"

// dateCache formats the Date field once per second, not once per response.
type dateCache struct {
	v atomic.Pointer[dateValue]
}

type dateValue struct {
	sec  int64
	text []byte
}

func (d *dateCache) get() []byte {
	now := time.Now()
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.text
	}
	v := &dateValue{sec: sec, text: []byte(now.UTC().Format(imfFixdate))}
	d.v.Store(v)
	return v.text
}
