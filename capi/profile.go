package main

import (
	"os"
	"runtime/pprof"
	"sync"
)

// PORTICO_CPUPROFILE=FILE profiles the library's Go side from load until
// the first server is freed (for `go tool pprof`): the engine's costs are
// otherwise invisible from a Python host.
var profile struct {
	once sync.Once
	f    *os.File
}

func init() {
	path := os.Getenv("PORTICO_CPUPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if pprof.StartCPUProfile(f) != nil {
		f.Close()
		return
	}
	profile.f = f
}

func stopProfile() {
	profile.once.Do(func() {
		if profile.f != nil {
			pprof.StopCPUProfile()
			profile.f.Close()
		}
	})
}
