package server

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Request ids are handed to the host across the C boundary. They come from
// one counter and are never reused, so a stale id can only miss: it can never
// reach another request (design.md section 3).
var lastID atomic.Uint64

// exchanges maps live request ids to their Exchange. Sharded so that hosts
// finishing requests on several threads do not all queue on one lock.
var exchanges registry

const registryShards = 64

type registry struct {
	shards [registryShards]struct {
		mu sync.Mutex
		m  map[uint64]*Exchange
		_  [40]byte // keep shards on separate cache lines
	}
}

func (r *registry) add(ex *Exchange) {
	ex.id = lastID.Add(1)
	s := &r.shards[ex.id%registryShards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]*Exchange)
	}
	s.m[ex.id] = ex
	s.mu.Unlock()
}

func (r *registry) remove(id uint64) {
	s := &r.shards[id%registryShards]
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// Lookup returns the live request with this id, or nil.
func Lookup(id uint64) *Exchange {
	s := &exchanges.shards[id%registryShards]
	s.mu.Lock()
	ex := s.m[id]
	s.mu.Unlock()
	return ex
}

// openConns counts accepted connections not yet closed, in all servers.
var openConns atomic.Int64

// DebugStats reports, for the whole process: requests and WebSockets whose
// ids are live, open client connections, and goroutines. Leak checks and
// soak runs watch these return to their baseline.
func DebugStats() (requests, connections, goroutines int) {
	return liveExchanges(), int(openConns.Load()), runtime.NumGoroutine()
}

// liveExchanges counts requests not yet finished (for tests and leak checks).
func liveExchanges() int {
	n := 0
	for i := range exchanges.shards {
		s := &exchanges.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
