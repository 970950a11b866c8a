module github.com/portico-http/portico

go 1.26.0

toolchain go1.26.8

require (
	github.com/gobwas/httphead v0.1.0
	github.com/gobwas/ws v1.5.0
	golang.org/x/net v0.62.0
)

require golang.org/x/text v0.43.0 // indirect
