/*
 * portico.h - the stable C interface of libportico (soname libportico.so.0).
 *
 * Portico is an HTTP/1.x, HTTP/2 and WebSocket engine for Python web serving.
 * This header is the whole contract between the library and its hosts (C
 * containers, the ctypes binding). Rules that hold for every function:
 *
 *  - Opaque types are made with *_new and released with *_free. A NULL, freed,
 *    stale or forged pointer or id gives PORTICO_ERR_INVALID; it never crashes
 *    the process and never reaches another object.
 *  - Errors are negative ints from enum portico_error; portico_strerror()
 *    names each one. PORTICO_ERR_DONE means "nothing more now".
 *  - Buffers belong to the caller. The library keeps no pointer passed to it
 *    after the call returns: data is copied in or out before returning.
 *  - No callbacks. Server mode is pull: the host asks for the next request.
 *  - The library must be loaded after fork(), never before: the Go runtime it
 *    carries does not survive fork. In a process forked after loading, every
 *    call returns PORTICO_ERR_FORKED instead of hanging.
 *  - The library never takes SIGINT or SIGTERM from its host.
 */
#ifndef PORTICO_H
#define PORTICO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; compare with portico_abi_version(). */
#define PORTICO_ABI_VERSION 1

/* Error codes. Every fallible function returns one of these (or a
 * non-negative result). */
enum portico_error {
    PORTICO_OK = 0,
    PORTICO_ERR_DONE = -1,      /* nothing more now: timed out, nothing pending */
    PORTICO_ERR_INVALID = -2,   /* NULL, stale, freed or forged handle; bad argument */
    PORTICO_ERR_BUFFER = -3,    /* the caller's buffer is too small; nothing was lost */
    PORTICO_ERR_CLOSED = -4,    /* the server was shut down or the connection is gone */
    PORTICO_ERR_STATE = -5,     /* not valid now (e.g. respond twice, write after end) */
    PORTICO_ERR_HEADER = -6,    /* a response status or header is malformed */
    PORTICO_ERR_LISTEN = -7,    /* could not listen on the address (see last_error) */
    PORTICO_ERR_OPTION = -8,    /* unknown option name or bad option value */
    PORTICO_ERR_IO = -9,        /* the peer went away or a socket call failed */
    PORTICO_ERR_FORKED = -10,   /* called in a process forked after the library loaded */
    PORTICO_ERR_INTERNAL = -11, /* a bug in the library, caught at the boundary */
    PORTICO_ERR_TOO_LARGE = -12, /* the request body is over max_body_size (413 sent) */
    PORTICO_ERR_THREAD = -13,   /* a connection used from a thread other than its owner */
    PORTICO_ERR_LENGTH = -14    /* the response body disagreed with its Content-Length: the
                                   declared bytes went out (never more), then the response
                                   was cut (HTTP/1.x: connection closed; HTTP/2: stream reset
                                   INTERNAL_ERROR); the request is finished */
};

/* Flags for portico_request_respond and portico_request_write. */
#define PORTICO_END 1 /* this call completes the response body */

/* Flags in a request record (see portico_server_next). */
#define PORTICO_REQ_BODY_COMPLETE 1 /* the record holds the whole request body */
#define PORTICO_REQ_CHUNKED 2       /* the body length is unknown (chunked) */
#define PORTICO_REQ_EXPECT_CONTINUE 4 /* the client sent Expect: 100-continue */
#define PORTICO_REQ_WEBSOCKET 8     /* a valid WebSocket opening handshake */
#define PORTICO_REQ_PUSH 16         /* HTTP/2 and the client allows server push */
#define PORTICO_REQ_TRAILERS 32     /* response trailers reach this client (HTTP/2,
                                       or HTTP/1.1 with TE: trailers) */
#define PORTICO_REQ_PUSHED 64       /* this request was made by portico_request_push */
#define PORTICO_REQ_TLS 128         /* came over TLS: see portico_request_tls */
#define PORTICO_REQ_ANSWERED 256    /* not a request: with report_answers, an answer the
                                       library made itself, for the host's logs (see
                                       portico_server_next) */

/* WebSocket message kinds (portico_ws_recv, portico_ws_send). */
#define PORTICO_WS_TEXT 1   /* UTF-8 text */
#define PORTICO_WS_BINARY 2 /* bytes */
#define PORTICO_WS_CLOSE 8  /* received only: 2-byte big-endian code, then the reason */
#define PORTICO_WS_PING 9   /* sent only: a ping (at most 125 bytes) */

/* ---- library ---------------------------------------------------------- */

/* The ABI version of the loaded library (PORTICO_ABI_VERSION it was built
 * with). Any thread. */
int portico_abi_version(void);

/* The library's version string, static storage. Any thread. */
const char *portico_version(void);

/* A static English description of an error code. Any thread. */
const char *portico_strerror(int code);

/* ---- options ------------------------------------------------------------ */

/* Settings for a server, by name. Not thread-safe: one thread at a time. */
typedef struct portico_options portico_options;

/* A new options object holding the defaults; NULL only if the process was
 * forked after load. Free with portico_options_free. */
portico_options *portico_options_new(void);

/* Set option NAME to VALUE (both NUL-terminated, copied). Names and defaults:
 * max_head_size 65536 (bytes; 431 beyond), max_body_size 0 (bytes, 0 =
 * unlimited; 413 beyond), header_timeout_ms 10000, keepalive_timeout_ms
 * 5000, body_timeout_ms 30000 (a request body that brings no byte this
 * long, or a response write that stalls: 408 Request Timeout and close on
 * HTTP/1.x, RST_STREAM CANCEL on HTTP/2, a log line on stderr, and
 * PORTICO_ERR_DONE to a portico_request_read waiting with TIMEOUT_MS
 * negative), min_body_rate 240 (bytes/s; 0: off; past the grace, a request
 * body whose average rate over the time spent waiting for it falls below
 * this ends like a stalled one), min_body_rate_grace_ms 5000, worker_threads
 * 0 (the host's worker pool, set by a threaded host; 0: unknown),
 * max_worker_streams 0 (HTTP/2 streams of one connection handed to the
 * host at once; more wait in the library, holding no worker; 0: half of
 * worker_threads, at least 1, or no cap when worker_threads is 0),
 * graceful_timeout_ms
 * 30000, queue_size 1024 (requests waiting for the host), prefetch_size
 * 65536 (body bytes carried in a request record; a request with a body
 * reaches the host only once all of it, or this much of it, has arrived
 * (a body of unknown length, chunked or HTTP/2 without content-length:
 * its first bytes), so a client that announces a body and sends none holds
 * no worker; except with Expect: 100-continue, where the 100 goes out when
 * the host reads; an HTTP/2 stream reset or lost before the host took its
 * request, and a request whose client leaves before its body is in, never
 * reach it), server_header "" (empty: none), certfile and keyfile "" (PEM files for TLS listeners),
 * ca_certs "" (PEM CAs that client certificates must chain to),
 * verify_client "none" (client certificates: "optional" verifies one if
 * sent, "required" refuses a handshake without a valid one; both need
 * ca_certs, checked by portico_server_listen),
 * ws_max_message_size 16777216 (bytes; close 1009 beyond),
 * ws_max_queued 4194304 (bytes of WebSocket output, pongs included, waiting
 * for a peer that does not read them, beyond the largest message the host
 * has waiting; past it the session closes with 1008 Policy Violation, its
 * reason "peer does not read: output queue over its limit", and the
 * connection (HTTP/2: the stream) is dropped without sending the rest;
 * a host that waits when a send is pending never reaches it by itself),
 * ws_ping_interval_ms 20000 (ping a quiet WebSocket; 0: never),
 * ws_ping_timeout_ms 20000 (close one silent that much longer with 1011),
 * h2c_upgrade 1 (honour "Upgrade: h2c"; 0: ignore it), request_timeout_ms
 * 0 (off; from queueing to the end of the response: past it a request with
 * nothing sent gets 503 and its connection closes, a started response is
 * cut, and the id answers PORTICO_ERR_INVALID from then on), inline_io 1
 * (cleartext HTTP/1.1 is read, parsed and written on the host's own thread:
 * portico_server_next runs the I/O loop and the
 * answer is written by the responding call; 0: library threads do it, as
 * for TLS, HTTP/2 and WebSocket), report_answers 0 (1: the answers the
 * library makes itself come as records flagged PORTICO_REQ_ANSWERED, see
 * portico_server_next). Returns PORTICO_OK or PORTICO_ERR_OPTION. */
int portico_options_set(portico_options *opts, const char *name, const char *value);

/* Release an options object. A server made from it keeps its own copy. */
int portico_options_free(portico_options *opts);

/* ---- server mode ---------------------------------------------------------
 * The library owns the listeners and connections; the host pulls requests
 * with portico_server_next and answers each with portico_request_* calls. */

typedef struct portico_server portico_server;

/* A new server with a copy of OPTS (NULL: defaults). NULL on failure. */
portico_server *portico_server_new(const portico_options *opts);

/* Listen on ADDR and start accepting at once: "HOST:PORT" (port 0 picks a
 * free one; TLS when certfile is set), "http://HOST:PORT" (plaintext),
 * "https://HOST:PORT" (TLS, needs certfile and keyfile), "unix:PATH", or
 * "fd://N" (an inherited listening socket). Returns the listener's index
 * (>= 0) or an error; portico_server_last_error says why. Any thread. */
int portico_server_listen(portico_server *srv, const char *addr);

/* Write listener INDEX's bound address ("127.0.0.1:43121",
 * "https://127.0.0.1:8443", "unix:/p"),
 * NUL-terminated, into BUF. Returns its length, PORTICO_ERR_BUFFER if CAP is
 * too small, PORTICO_ERR_INVALID for a bad index. Any thread. */
int portico_server_address(portico_server *srv, int index, char *buf, size_t cap);

/* Copy the server's last error message (NUL-terminated) into BUF. Returns its
 * length (0: none). Any thread. */
int portico_server_last_error(portico_server *srv, char *buf, size_t cap);

/* Wait up to TIMEOUT_MS (negative: forever) for the next request and write
 * its record into BUF. Returns the record's length, PORTICO_ERR_DONE on
 * timeout, PORTICO_ERR_CLOSED once the server is shut down and drained, or
 * PORTICO_ERR_BUFFER if CAP cannot hold the head (the request stays queued;
 * max_head_size + 4096 always suffices). Thread-safe, but let one thread at
 * a time wait here: many waiters only contend. With inline_io, this call
 * also accepts and reads cleartext HTTP/1.1 connections; while no thread
 * pulls, a library thread does so about every 100 ms.
 *
 * Record layout, little-endian:
 *   uint64 request id | uint32 flags (PORTICO_REQ_*) | uint32 head length
 *   | head | body bytes received so far (the rest of the record).
 * The head is NUL-separated latin-1 text:
 *   method, path (raw, still percent-encoded), query, protocol
 *   ("HTTP/1.0" or "HTTP/1.1"), scheme, remote address, remote port, local
 *   address, local port, then name and value for each header field in the
 *   order received. A Unix-socket peer has an empty address and port 0.
 *
 * With the option report_answers 1, a record flagged PORTICO_REQ_ANSWERED
 * tells of an answer the library made itself, for the host's logs: a head
 * it refused (400, 413, 431, 501, 505, a broken WebSocket handshake) or a
 * request answered 503 by request_timeout_ms before the host took it. Its
 * head is laid out as above as far as it is known (a head that did not
 * parse has an empty method and protocol, its request line as received,
 * at most 1 KiB, in place of the path, and no fields); its body is the
 * status, a space and the reason ("400 invalid Content-Length"). Its id
 * names nothing: answer nothing. A request the host had already taken and
 * the request timeout then ended comes back too, under its own id, with a
 * head of nine empty fields, and status 503, or 0 if the response had
 * started and was cut (the host's calls on it give PORTICO_ERR_INVALID).
 * Status 0 with a request's head is no answer of the library's own but a
 * fault it cut short, for the error log: e.g. a response body that
 * disagreed with its Content-Length (the call got PORTICO_ERR_LENGTH; the
 * reason gives the declared and the given sizes). When the queue is full
 * such a record is dropped rather than waited for. */
int64_t portico_server_next(portico_server *srv, int timeout_ms, uint8_t *buf, size_t cap);

/* The server's readiness descriptor (owned by the server, closed by
 * portico_server_free). It becomes readable when a request may be waiting
 * after portico_server_next with TIMEOUT_MS 0 found none, and when a
 * shutdown completes. A host then waits in its own loop (select, epoll,
 * asyncio) and calls portico_server_next with 0 again, which is cheaper
 * than blocking inside the library. With inline_io 1 (the default) it is
 * the I/O loop's epoll descriptor: do not read it, portico_server_next
 * (or portico_server_poll) clears it. With inline_io 0 it is an eventfd: read 8 bytes to clear it.
 * Returns the descriptor or an error. Any thread. */
int portico_server_fd(portico_server *srv);

/* Stop accepting, close idle connections, let in-flight requests finish for
 * up to graceful_timeout_ms, then close the rest. Blocks until done. After
 * it, portico_server_next returns PORTICO_ERR_CLOSED once the queue is empty.
 * Any thread; calling it twice is harmless. */
int portico_server_shutdown(portico_server *srv);

/* Shut down (if not yet) and release the server. Requests still open become
 * invalid. */
int portico_server_free(portico_server *srv);

/* ---- requests (server mode) ---------------------------------------------
 * A request id comes from a record. Ids are never reused; one that is
 * finished or unknown gives PORTICO_ERR_INVALID. Calls on one request must
 * not overlap (one thread at a time per request); different requests may be
 * used from different threads at once. */

/* Read up to CAP bytes of the request body into BUF, waiting up to
 * TIMEOUT_MS (negative: body_timeout_ms). Bytes already given in the record
 * are not repeated. Returns the count, 0 at the end of the body,
 * PORTICO_ERR_DONE on timeout (past body_timeout_ms or below min_body_rate
 * the library has also ended the request: 408 or RST_STREAM; TIMEOUT_MS
 * alone ends only this call), PORTICO_ERR_TOO_LARGE over max_body_size, or
 * PORTICO_ERR_IO if the client went away or sent a bad body. The first read
 * sends "100 Continue" when the client asked for it. */
int64_t portico_request_read(uint64_t req, uint8_t *buf, size_t cap, int timeout_ms);

/* Start the response. HEAD is NUL-separated latin-1 text: the status line
 * ("200 OK"), then name and value for each header field. BODY (BODY_LEN
 * bytes, may be empty) is the first part of the body. With PORTICO_END it is
 * the whole body: Content-Length is added when absent, and the request is
 * finished. Returns PORTICO_OK, PORTICO_ERR_HEADER, PORTICO_ERR_STATE or
 * PORTICO_ERR_CLOSED. */
int portico_request_respond(uint64_t req, const uint8_t *head, size_t head_len,
                            const uint8_t *body, size_t body_len, int flags);

/* Write more of the body after portico_request_respond; with PORTICO_END,
 * finish the request (DATA may be empty). Blocks only while the client is
 * slower than the app. Returns PORTICO_OK or an error; after an error the
 * request is finished. PORTICO_ERR_IO once the client is gone: HTTP/2 reset
 * the stream or lost the connection; HTTP/1.x read EOF or a reset while the
 * request was being answered (a half-close counts, unless a pipelined request
 * followed; then portico_request_respond without PORTICO_END fails too, and
 * a whole answer, with PORTICO_END, is still sent). */
int portico_request_write(uint64_t req, const uint8_t *data, size_t len, int flags);

/* Send 103 Early Hints with FIELDS (NUL-separated name and value pairs)
 * before the response; several calls are fine. HTTP/1.0 clients get nothing
 * (and PORTICO_OK). Returns PORTICO_ERR_STATE after portico_request_respond,
 * PORTICO_ERR_HEADER for a bad field. */
int portico_request_early_hints(uint64_t req, const uint8_t *fields, size_t fields_len);

/* Set response trailers (NUL-separated name and value pairs), sent when the
 * response ends: as a HEADERS frame on HTTP/2, after the last chunk on
 * HTTP/1.1. Only where the record has PORTICO_REQ_TRAILERS, before the end
 * of the response; a later call replaces the fields. Returns PORTICO_OK,
 * PORTICO_ERR_STATE or PORTICO_ERR_HEADER. */
int portico_request_set_trailers(uint64_t req, const uint8_t *fields, size_t fields_len);

/* Copy the request's trailers (NUL-separated name and value pairs) into
 * BUF once the body has been read to its end. Returns their length (0:
 * none), PORTICO_ERR_STATE if the body is not finished, PORTICO_ERR_BUFFER
 * if CAP is too small. */
int64_t portico_request_trailers(uint64_t req, uint8_t *buf, size_t cap);

/* Copy what the TLS handshake of REQ's connection settled into BUF, as
 * NUL-separated latin-1 text: version ("TLSv1.3"), cipher suite (IANA name,
 * "TLS_AES_128_GCM_SHA256"), SNI server name, ALPN protocol (these two may
 * be empty), then one PEM block per certificate the client presented, leaf
 * first (none unless verify_client asked for them). Returns the length, 0
 * on plaintext (no PORTICO_REQ_TLS), PORTICO_ERR_BUFFER if CAP is too small;
 * with BUF NULL and CAP 0, the length needed. HTTP/2 streams and pushed
 * requests share their connection's details. Same thread rules as the other
 * request calls; valid until the request is finished. */
int64_t portico_request_tls(uint64_t req, uint8_t *buf, size_t cap);

/* Push a response (HTTP/2 server push) related to REQ, which must have
 * PORTICO_REQ_PUSH and not be finished. HEAD is NUL-separated: the path
 * (with any query), then name and value pairs of request fields (method
 * GET, the scheme and authority of REQ). The promised request then arrives
 * through portico_server_next like any other, flagged PORTICO_REQ_PUSHED,
 * and is answered the same way. Returns PORTICO_OK, PORTICO_ERR_STATE
 * (push not allowed now) or PORTICO_ERR_HEADER. */
int portico_request_push(uint64_t req, const uint8_t *head, size_t head_len);

/* Give up on a request: if nothing was sent, answer STATUS (e.g. 500, 503)
 * with an empty body; otherwise close the connection, since the response
 * cannot be completed honestly. Finishes the request. */
int portico_request_abort(uint64_t req, int status);

/* ---- WebSocket (server mode) ---------------------------------------------
 * A request whose record has PORTICO_REQ_WEBSOCKET carries a valid opening
 * handshake (HTTP/1.1 Upgrade). Broken handshakes never reach the host: the
 * library answers them (426 with Sec-WebSocket-Version for other versions).
 * After accepting, the request id names the WebSocket until portico_ws_free.
 * portico_ws_send and portico_ws_close may be called from one thread while
 * another waits in portico_ws_recv. After a protocol error from the client
 * the messages before it are delivered, then a PORTICO_WS_CLOSE (1002, 1007
 * or 1009); the close frame goes out after the host's sends, once it calls
 * portico_ws_close or portico_ws_free, receives that close through
 * portico_ws_recv, or 5 s after the error (docs/websocket.md). */

/* Answer the handshake with 101 Switching Protocols. SUBPROTOCOL (NULL or
 * "": none) must be one the client offered; HEAD holds extra response fields
 * as NUL-separated name and value pairs (may be NULL). permessage-deflate is
 * negotiated when the client offers it. Returns PORTICO_OK,
 * PORTICO_ERR_HEADER (subprotocol not offered, bad field), PORTICO_ERR_STATE
 * (not a WebSocket request, or already answered) or PORTICO_ERR_CLOSED
 * (shutting down). */
int portico_request_websocket_accept(uint64_t req, const char *subprotocol,
                                     const uint8_t *head, size_t head_len);

/* Wait up to TIMEOUT_MS (negative: forever) for the next message, copy it
 * into BUF and store its PORTICO_WS_* kind in *KIND. Returns its length,
 * PORTICO_ERR_DONE on timeout, or PORTICO_ERR_BUFFER if CAP is too small
 * (the message stays; see portico_ws_next_size). A close is returned as
 * PORTICO_WS_CLOSE, again on every later call. */
int64_t portico_ws_recv(uint64_t ws, uint8_t *buf, size_t cap, int timeout_ms, int *kind);

/* The length of the message portico_ws_recv would return now, or
 * PORTICO_ERR_DONE if none is waiting. */
int64_t portico_ws_next_size(uint64_t ws);

/* Send a PORTICO_WS_TEXT (must be UTF-8), PORTICO_WS_BINARY message or a
 * PORTICO_WS_PING. Blocks only while the client reads slower than the app
 * writes. Returns PORTICO_OK, PORTICO_ERR_CLOSED once closing, or
 * PORTICO_ERR_HEADER for invalid UTF-8 or an oversized ping. */
int portico_ws_send(uint64_t ws, int kind, const uint8_t *data, size_t len);

/* Start the closing handshake with CODE (1000 normal, 1001 going away,
 * 3000-4999 for apps) and REASON (NULL or UTF-8, cut to fit). The peer's
 * answer arrives through portico_ws_recv. */
int portico_ws_close(uint64_t ws, int code, const char *reason);

/* Release the WebSocket: closes with 1000 if still open; the id stops
 * working. */
int portico_ws_free(uint64_t ws);

/* ---- connection mode -----------------------------------------------------
 * The container owns the socket and its event loop; the library is a
 * sans-I/O protocol engine for one connection (HTTP/1.x, HTTP/2, WebSocket
 * over both). Feed received bytes with portico_conn_recv, take events with
 * portico_conn_poll until PORTICO_ERR_DONE, answer with the commands below,
 * and write out what portico_conn_send gives. No callbacks, no threads, no
 * timers: time-outs are the container's.
 *
 * Threads: a connection belongs to the thread that made it. Every
 * portico_conn_* call from another thread returns PORTICO_ERR_THREAD and
 * touches nothing; different connections may live on different threads.
 *
 * Streams: each request has a stream id (> 0): the HTTP/2 stream id, or 1,
 * 2, 3... in order on HTTP/1.x, where one request is answered at a time.
 * A finished or unknown stream id gives PORTICO_ERR_INVALID. */

typedef struct portico_conn portico_conn;

/* Flags for portico_conn_new. */
#define PORTICO_CONN_TLS 1 /* the container terminated TLS: no h2c, https scheme */

/* Event kinds (portico_event.kind). */
#define PORTICO_EV_REQUEST 1    /* a request head; flags: PORTICO_REQ_*; payload: the head */
#define PORTICO_EV_DATA 2       /* request body bytes; payload: the bytes */
#define PORTICO_EV_END 3        /* the request body is complete; payload: trailers (pairs) */
#define PORTICO_EV_RESET 4      /* the stream is gone (code: HTTP/2 error code); stop answering it */
#define PORTICO_EV_WRITABLE 5   /* send window grew on stream (0: all): retry short writes */
#define PORTICO_EV_WS_MESSAGE 6 /* a whole WebSocket message; flags: PORTICO_WS_TEXT or _BINARY */
#define PORTICO_EV_WS_CLOSE 7   /* the WebSocket is over; code: close code; payload: reason */
#define PORTICO_EV_GOAWAY 8     /* the client sent GOAWAY; stream: its last id; code: error code */
#define PORTICO_EV_CLOSED 9     /* the connection is finished: send what is left, then close;
                                   comes once, after it poll gives PORTICO_ERR_DONE */

/* One event from portico_conn_poll; its payload goes to the caller's buffer.
 * A request head payload is NUL-separated latin-1 text: method, path (raw),
 * query, protocol ("HTTP/1.0", "HTTP/1.1", "HTTP/2.0"), scheme, authority,
 * then name and value for each header field, each followed by a NUL. An
 * HTTP/2 WebSocket (extended CONNECT) is shown as GET with
 * PORTICO_REQ_WEBSOCKET, like an HTTP/1.1 one. */
typedef struct portico_event {
    int kind;        /* PORTICO_EV_* */
    uint32_t stream; /* the stream it concerns (0: the connection) */
    int flags;       /* PORTICO_REQ_* for a request, PORTICO_WS_* for a message */
    int code;        /* reset, GOAWAY or WebSocket close code */
    size_t len;      /* payload length: the size needed when PORTICO_ERR_BUFFER */
} portico_event;

/* A new connection for a freshly accepted socket, with a copy of the limits
 * in OPTS (NULL: defaults; max_head_size, max_body_size, ws_max_message_size,
 * ws_max_queued (output not yet taken by portico_conn_send), h2c_upgrade
 * apply). FLAGS: PORTICO_CONN_TLS if the container terminated
 * TLS; ALPN (NULL or "") is the protocol it chose ("h2" starts HTTP/2 at
 * once). On cleartext the HTTP/2 preface is sniffed and Upgrade: h2c is
 * honoured. The calling thread becomes its owner. NULL on failure or in a
 * process forked after load. Free with portico_conn_free. */
portico_conn *portico_conn_new(const portico_options *opts, int flags, const char *alpn);

/* Feed LEN received bytes (copied); LEN 0 means the peer closed its side
 * (EOF). Returns PORTICO_OK, or PORTICO_ERR_CLOSED once the connection reads
 * no more (the bytes are dropped). Owner thread only. */
int portico_conn_recv(portico_conn *conn, const uint8_t *data, size_t len);

/* Take the next event: fill *EV and copy its payload into BUF. Returns the
 * payload length, PORTICO_ERR_DONE when nothing is pending (feed more bytes
 * or give a command), or PORTICO_ERR_BUFFER when CAP < ev->len: the event
 * stays and the next call returns it (CAP 0 is a size query). Request body
 * bytes count as consumed when polled: an HTTP/2 client gets its window
 * back then, so a container applies backpressure by polling later. Owner
 * thread only. */
int64_t portico_conn_poll(portico_conn *conn, portico_event *ev, uint8_t *buf, size_t cap);

/* Copy up to CAP pending output bytes into BUF for the container to write to
 * the socket; what is copied is gone from the library. Returns the count (0:
 * nothing to send). Owner thread only. */
int64_t portico_conn_send(portico_conn *conn, uint8_t *buf, size_t cap);

/* 1 if the connection still reads from the peer, else 0 (EOF seen, or it is
 * closing): stop watching the socket for input then. The connection is
 * finished once PORTICO_EV_CLOSED was polled and portico_conn_want_write is
 * 0: close the socket and free. (0 before PORTICO_EV_CLOSED: the peer
 * half-closed and a response is still owed.) Owner thread only. */
int portico_conn_want_read(portico_conn *conn);

/* 1 if output is pending (call portico_conn_send), else 0. Owner thread. */
int portico_conn_want_write(portico_conn *conn);

/* Start the response on STREAM. HEAD is NUL-separated latin-1 text: the
 * status line ("200 OK"), then name and value for each field (copied).
 * BODY is the first part of the body; with PORTICO_END it is all of it.
 * Returns how many BODY bytes were taken: HTTP/2 flow control may take
 * fewer, and then the response is not ended: write the rest after
 * PORTICO_EV_WRITABLE. Rejecting a WebSocket request is a plain respond.
 * Errors: PORTICO_ERR_HEADER, _STATE, _INVALID. Owner thread only. */
int64_t portico_conn_respond(portico_conn *conn, uint32_t stream, const uint8_t *head,
                             size_t head_len, const uint8_t *body, size_t body_len, int flags);

/* Write body bytes after portico_conn_respond (copied). Returns how many were
 * taken (HTTP/1.x: all; HTTP/2: what the send windows allow, maybe 0); with
 * PORTICO_END the response ends once everything was taken. Owner thread. */
int64_t portico_conn_write(portico_conn *conn, uint32_t stream, const uint8_t *data, size_t len,
                           int flags);

/* Set trailers (NUL-separated name and value pairs, copied) sent when the
 * response ends; only where the request had PORTICO_REQ_TRAILERS. A later
 * call replaces them. Owner thread only. */
int portico_conn_set_trailers(portico_conn *conn, uint32_t stream, const uint8_t *fields,
                              size_t len);

/* Send 103 Early Hints with FIELDS (NUL-separated pairs) before the
 * response; an HTTP/1.0 client gets nothing. PORTICO_ERR_STATE after the
 * response started. Owner thread only. */
int portico_conn_early_hints(portico_conn *conn, uint32_t stream, const uint8_t *fields,
                             size_t len);

/* HTTP/2 server push on STREAM (which must have PORTICO_REQ_PUSH): HEAD is
 * NUL-separated, the path (with any query) then request field pairs; the
 * method is GET, scheme and authority are STREAM's. Returns the promised
 * stream id, answered like any other stream with portico_conn_respond;
 * PORTICO_ERR_STATE if push is not possible (HTTP/1.x, client forbids it).
 * Owner thread only. */
int64_t portico_conn_push(portico_conn *conn, uint32_t stream, const uint8_t *head,
                          size_t head_len);

/* Abandon STREAM: RST_STREAM(CANCEL) on HTTP/2; on HTTP/1.x the connection
 * is closed (nothing else can end a response honestly). Owner thread. */
int portico_conn_reset(portico_conn *conn, uint32_t stream);

/* Accept the WebSocket request on STREAM (PORTICO_REQ_WEBSOCKET): 101 on
 * HTTP/1.1, 200 on HTTP/2 (RFC 8441). SUBPROTOCOL (NULL or "": none) must be
 * one the client offered; HEAD holds extra response fields as NUL-separated
 * pairs (may be NULL). permessage-deflate is taken when offered. Messages
 * then arrive as PORTICO_EV_WS_MESSAGE on STREAM. Owner thread only. */
int portico_conn_ws_accept(portico_conn *conn, uint32_t stream, const char *subprotocol,
                           const uint8_t *head, size_t head_len);

/* Send a PORTICO_WS_TEXT (UTF-8), PORTICO_WS_BINARY message or a
 * PORTICO_WS_PING (<= 125 bytes) on the WebSocket STREAM (copied). Returns
 * PORTICO_OK, PORTICO_ERR_CLOSED once closing, PORTICO_ERR_HEADER for bad
 * UTF-8 or a big ping. Owner thread only. */
int portico_conn_ws_send(portico_conn *conn, uint32_t stream, int kind, const uint8_t *data,
                         size_t len);

/* Start the WebSocket closing handshake with CODE (1000, 1001, 3000-4999)
 * and REASON (NULL or UTF-8); the peer's answer comes as
 * PORTICO_EV_WS_CLOSE. Owner thread only. */
int portico_conn_ws_close(portico_conn *conn, uint32_t stream, int code, const char *reason);

/* Close politely: GOAWAY on HTTP/2 (open streams may finish), close 1001 on
 * a WebSocket over HTTP/1.1, on HTTP/1.x after the response in progress.
 * Keep polling and sending until PORTICO_EV_CLOSED. Owner thread only. */
int portico_conn_close(portico_conn *conn);

/* Release the connection (the socket stays the container's to close); the
 * pointer stops working (PORTICO_ERR_INVALID). Owner thread only. */
int portico_conn_free(portico_conn *conn);

/* ---- debugging ------------------------------------------------------------
 * Counters for leak checks and soak runs; not needed to serve. */

/* Write up to N of these process-wide counts into OUT, in this order: live
 * request and WebSocket ids, open client connections (all servers), Go
 * goroutines. Returns how many were written (3 at most; later versions may
 * add more at the end). Any thread. */
int portico_debug_stats(int64_t *out, size_t n);

/* ---- event mode (server mode, for event loops) -----------------------------
 * For a host that runs an event loop (asyncio, libuv, epoll) and must never
 * block inside the library: it waits on portico_server_fd, then drains
 * portico_server_poll, which hands over new requests and the events of
 * requests it asked to watch, many per call. Nothing here waits; what would
 * (body bytes, WebSocket messages, a slow client) comes back as an event.
 * Use it instead of portico_server_next for a server, not beside it. Calls
 * on one request still must not overlap; the loop's thread makes them all. */

/* Event types in a poll batch. */
#define PORTICO_POLL_REQUEST 1 /* a new request; the payload is its record, laid out as
                                portico_server_next's (id, flags, head length, head, body) */
#define PORTICO_POLL_BODY 2    /* after portico_request_want_body: body bytes (code 0), the end
                                of the body (code 1, no bytes), or a PORTICO_ERR_* (code < 0:
                                ERR_IO client gone or bad body, ERR_DONE body timeout,
                                ERR_TOO_LARGE over max_body_size) */
#define PORTICO_POLL_WS 3      /* a message of a watched WebSocket; code is its PORTICO_WS_* kind
                                (PORTICO_WS_CLOSE last, once) */
#define PORTICO_POLL_WRITTEN 4 /* a write that returned PORTICO_WRITE_PENDING is done: code
                                PORTICO_OK, or the error (the request is then finished) */

/* A *_nowait write queued its data but the client is behind: it completes
 * in the background and a PORTICO_POLL_WRITTEN event follows. Write nothing
 * more to that request (or WebSocket) before the event. */
#define PORTICO_WRITE_PENDING 1

/* Copy the pending events into BUF without waiting. Each event: uint64 id,
 * uint16 type (PORTICO_POLL_*), int16 code, uint32 payload length, then the
 * payload (little-endian, no padding). Events of one request come in order;
 * an id the host no longer knows may be ignored. After any call the
 * readiness descriptor fires when events are pending (left over or new), so
 * a host polls once per wake-up. Returns the bytes written,
 * PORTICO_ERR_DONE when nothing is pending, PORTICO_ERR_CLOSED once shut down and drained,
 * or PORTICO_ERR_BUFFER when the first event alone does not fit (its size is
 * stored in BUF's first 8 bytes when CAP >= 8; nothing is lost). With
 * inline_io 1 (the default) each call first runs one non-blocking pass of
 * the I/O loop on the calling thread: cleartext HTTP/1.1 requests and their
 * WebSockets are read, and answered, on the host's thread. One thread at a
 * time. */
int64_t portico_server_poll(portico_server *srv, uint8_t *buf, size_t cap);

/* portico_request_respond that never blocks: returns PORTICO_OK,
 * PORTICO_WRITE_PENDING (not with PORTICO_END: the end is always left to the
 * library) or an error as portico_request_respond. HEAD and BODY are copied
 * before it returns. The request's thread (one at a time per request). */
int portico_request_respond_nowait(uint64_t req, const uint8_t *head, size_t head_len,
                                   const uint8_t *body, size_t body_len, int flags);

/* portico_request_write that never blocks: returns PORTICO_OK,
 * PORTICO_WRITE_PENDING or an error as portico_request_write. DATA is copied
 * before it returns. The request's thread (one at a time per request). */
int portico_request_write_nowait(uint64_t req, const uint8_t *data, size_t len, int flags);

/* Ask for the next request body bytes (at most MAX) as one PORTICO_POLL_BODY
 * event; "100 Continue" goes out if the client asked for it. One request at
 * a time per call; call again after each event. Returns PORTICO_OK,
 * PORTICO_ERR_STATE (request finished) or PORTICO_ERR_INVALID. The bytes
 * arrive in the event, copied into the poll buffer. The request's thread. */
int portico_request_want_body(uint64_t req, size_t max);

/* Ask for one PORTICO_POLL_BODY event with code PORTICO_ERR_IO if the client
 * goes away before the response ends (HTTP/2: stream reset or connection
 * lost; HTTP/1.x: EOF or a reset, as portico_request_write says), at once if
 * it has. Returns PORTICO_OK, or PORTICO_ERR_STATE when the response is
 * over. The request's thread. */
int portico_request_watch_gone(uint64_t req);

/* ON non-zero: deliver this accepted WebSocket's messages as PORTICO_POLL_WS
 * events; zero: hold them in the library (past a backlog of 1 MiB the
 * client is no longer read: backpressure). Not to be mixed with
 * portico_ws_recv on the same WebSocket. Returns PORTICO_OK or an error.
 * The WebSocket's thread (the one that polls). */
int portico_ws_watch(uint64_t ws, int on);

/* portico_ws_send that never blocks: PORTICO_OK, PORTICO_WRITE_PENDING
 * (sent, but the client is behind: wait for PORTICO_POLL_WRITTEN before the
 * next send) or an error as portico_ws_send. DATA is copied before it
 * returns. Any thread, like ws_send. */
int portico_ws_send_nowait(uint64_t ws, int kind, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PORTICO_H */
