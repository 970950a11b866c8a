/* conn_misuse.c - connection mode at its boundary: every misuse gives an
 * error code, never a crash, and never reaches another connection.
 *
 * Covered: NULL, forged, freed (double free), stale and wrong-type handles;
 * use from a thread that does not own the connection; undersized and NULL
 * buffers (the event stays until a big enough buffer comes); bad stream
 * ids, bad heads and commands out of order; a process forked after load.
 * Exit status 0 means every check held. Run under valgrind by `make test-c`.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portico.h"

static int failures = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            failures++;                                                        \
        }                                                                      \
    } while (0)

#define GET "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
static const uint8_t OK_HEAD[] = "200 OK\0content-type\0text/plain";

static int feed(portico_conn *c, const char *s) {
    return portico_conn_recv(c, (const uint8_t *)s, strlen(s));
}

/* Every function on one handle: all must give WANT. */
static void all_calls(portico_conn *c, int want, const char *what) {
    uint8_t buf[64];
    portico_event ev;
    CHECK(portico_conn_recv(c, (const uint8_t *)"x", 1) == want, "%s: recv", what);
    CHECK(portico_conn_poll(c, &ev, buf, sizeof buf) == want, "%s: poll", what);
    CHECK(portico_conn_send(c, buf, sizeof buf) == want, "%s: send", what);
    CHECK(portico_conn_want_read(c) == want, "%s: want_read", what);
    CHECK(portico_conn_want_write(c) == want, "%s: want_write", what);
    CHECK(portico_conn_respond(c, 1, OK_HEAD, sizeof OK_HEAD, NULL, 0, PORTICO_END) == want, "%s: respond", what);
    CHECK(portico_conn_write(c, 1, buf, 1, 0) == want, "%s: write", what);
    CHECK(portico_conn_set_trailers(c, 1, (const uint8_t *)"a\0b", 3) == want, "%s: set_trailers", what);
    CHECK(portico_conn_early_hints(c, 1, (const uint8_t *)"a\0b", 3) == want, "%s: early_hints", what);
    CHECK(portico_conn_push(c, 1, (const uint8_t *)"/x", 2) == want, "%s: push", what);
    CHECK(portico_conn_reset(c, 1) == want, "%s: reset", what);
    CHECK(portico_conn_ws_accept(c, 1, NULL, NULL, 0) == want, "%s: ws_accept", what);
    CHECK(portico_conn_ws_send(c, 1, PORTICO_WS_TEXT, buf, 1) == want, "%s: ws_send", what);
    CHECK(portico_conn_ws_close(c, 1, 1000, "") == want, "%s: ws_close", what);
    CHECK(portico_conn_close(c) == want, "%s: close", what);
    CHECK(portico_conn_free(c) == want, "%s: free", what);
}

struct thread_arg {
    portico_conn *c;
    int ok;
};

static void *other_thread(void *p) {
    struct thread_arg *a = p;
    a->ok = 1;
    /* Not the owner: every call is refused, nothing is touched. */
    uint8_t buf[64];
    portico_event ev;
    a->ok &= portico_conn_recv(a->c, (const uint8_t *)GET, strlen(GET)) == PORTICO_ERR_THREAD;
    a->ok &= portico_conn_poll(a->c, &ev, buf, sizeof buf) == PORTICO_ERR_THREAD;
    a->ok &= portico_conn_respond(a->c, 1, OK_HEAD, sizeof OK_HEAD, NULL, 0, PORTICO_END) == PORTICO_ERR_THREAD;
    a->ok &= portico_conn_send(a->c, buf, sizeof buf) == PORTICO_ERR_THREAD;
    a->ok &= portico_conn_close(a->c) == PORTICO_ERR_THREAD;
    a->ok &= portico_conn_free(a->c) == PORTICO_ERR_THREAD;
    /* A thread may own connections of its own. */
    portico_conn *mine = portico_conn_new(NULL, 0, NULL);
    a->ok &= mine != NULL && portico_conn_free(mine) == PORTICO_OK;
    return NULL;
}

int main(void) {
    uint8_t buf[4096];
    portico_event ev;

    /* NULL, forged, wrong-type. */
    all_calls(NULL, PORTICO_ERR_INVALID, "NULL");
    all_calls((portico_conn *)(uintptr_t)0xdeadbeef, PORTICO_ERR_INVALID, "forged");
    all_calls((portico_conn *)(uintptr_t)-1, PORTICO_ERR_INVALID, "forged -1");
    portico_options *opts = portico_options_new();
    CHECK(opts != NULL, "options_new");
    all_calls((portico_conn *)opts, PORTICO_ERR_INVALID, "options as conn");
    CHECK(portico_options_set(opts, "max_head_size", "512") == PORTICO_OK, "options_set");

    /* A, then B made from options; B must not see anything done to A. */
    portico_conn *a = portico_conn_new(NULL, 0, NULL);
    portico_conn *b = portico_conn_new(opts, 0, NULL);
    CHECK(a != NULL && b != NULL && a != b, "conn_new");
    CHECK(portico_options_free(opts) == PORTICO_OK, "options_free (b keeps its copy)");
    CHECK(feed(a, GET) == PORTICO_OK && feed(b, GET) == PORTICO_OK, "recv");

    /* Undersized buffers: size query, the event stays, then it comes whole. */
    CHECK(portico_conn_poll(a, NULL, buf, sizeof buf) == PORTICO_ERR_INVALID, "poll NULL event");
    CHECK(portico_conn_poll(a, &ev, NULL, 10) == PORTICO_ERR_INVALID, "poll NULL buffer with cap");
    CHECK(portico_conn_poll(a, &ev, NULL, 0) == PORTICO_ERR_BUFFER, "size query");
    size_t need = ev.len;
    CHECK(ev.kind == PORTICO_EV_REQUEST && ev.stream == 1 && need > 10, "size query fills the event");
    CHECK(portico_conn_poll(a, &ev, buf, need - 1) == PORTICO_ERR_BUFFER && ev.len == need, "one byte short");
    CHECK(portico_conn_poll(a, &ev, buf, need) == (int64_t)need && ev.kind == PORTICO_EV_REQUEST, "whole event");
    CHECK(memcmp(buf, "GET\0/a\0\0HTTP/1.1\0http\0t\0Host\0t\0", need) == 0, "request head payload");
    CHECK(portico_conn_poll(a, &ev, buf, sizeof buf) == 0 && ev.kind == PORTICO_EV_END, "end");
    CHECK(portico_conn_poll(a, &ev, buf, sizeof buf) == PORTICO_ERR_DONE, "done");

    /* Bad streams, heads and states. */
    CHECK(portico_conn_respond(a, 0, OK_HEAD, sizeof OK_HEAD, NULL, 0, PORTICO_END) == PORTICO_ERR_INVALID, "stream 0");
    CHECK(portico_conn_respond(a, 7, OK_HEAD, sizeof OK_HEAD, NULL, 0, PORTICO_END) == PORTICO_ERR_INVALID, "unknown stream");
    CHECK(portico_conn_respond(a, 1, NULL, 5, NULL, 0, 0) == PORTICO_ERR_INVALID, "NULL head");
    CHECK(portico_conn_respond(a, 1, (const uint8_t *)"OK", 2, NULL, 0, 0) == PORTICO_ERR_HEADER, "no status");
    CHECK(portico_conn_respond(a, 1, (const uint8_t *)"200 OK\0lonely", 13, NULL, 0, 0) == PORTICO_ERR_HEADER, "odd fields");
    CHECK(portico_conn_respond(a, 1, (const uint8_t *)"200 OK\0bad name\0v", 17, NULL, 0, 0) == PORTICO_ERR_HEADER, "bad field name");
    CHECK(portico_conn_respond(a, 1, OK_HEAD, sizeof OK_HEAD, NULL, 3, 0) == PORTICO_ERR_INVALID, "NULL body with length");
    CHECK(portico_conn_write(a, 1, (const uint8_t *)"x", 1, 0) == PORTICO_ERR_STATE, "write before respond");
    CHECK(portico_conn_ws_accept(a, 1, NULL, NULL, 0) == PORTICO_ERR_STATE, "ws_accept of plain request");
    CHECK(portico_conn_ws_send(a, 1, PORTICO_WS_TEXT, (const uint8_t *)"x", 1) == PORTICO_ERR_INVALID, "ws_send, no websocket");
    CHECK(portico_conn_push(a, 1, (const uint8_t *)"/x", 2) == PORTICO_ERR_STATE, "push on HTTP/1.1");
    CHECK(portico_conn_set_trailers(a, 1, (const uint8_t *)"x-t\0v", 5) == PORTICO_ERR_STATE, "trailers without TE");
    CHECK(portico_conn_respond(a, 1, OK_HEAD, sizeof OK_HEAD, (const uint8_t *)"hi", 2, PORTICO_END) == 2, "respond");
    CHECK(portico_conn_respond(a, 1, OK_HEAD, sizeof OK_HEAD, NULL, 0, PORTICO_END) == PORTICO_ERR_INVALID, "respond twice");
    CHECK(portico_conn_send(a, NULL, 10) == PORTICO_ERR_INVALID, "send NULL");
    CHECK(portico_conn_send(a, buf, 0) == PORTICO_ERR_INVALID, "send 0");

    /* Undersized send buffer: output comes out in pieces, nothing lost. */
    char out[512];
    size_t got = 0;
    while (portico_conn_want_write(a) == 1 && got < sizeof out) {
        int64_t n = portico_conn_send(a, (uint8_t *)out + got, 5);
        CHECK(n > 0 && n <= 5, "send piece %lld", (long long)n);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    CHECK(got > 20 && memcmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0 && memcmp(out + got - 2, "hi", 2) == 0,
          "response in pieces (%zu bytes)", got);

    /* B was not touched: its request is still the first event, and B's
     * own limit (max_head_size 512) applies to B only. */
    CHECK(portico_conn_poll(b, &ev, buf, sizeof buf) > 0 && ev.kind == PORTICO_EV_REQUEST && ev.stream == 1,
          "other connection untouched");
    CHECK(portico_conn_want_write(b) == 0, "other connection has no output");

    /* Wrong thread. */
    struct thread_arg ta = {b, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, &ta) == 0 && pthread_join(t, NULL) == 0, "thread");
    CHECK(ta.ok == 1, "calls from a non-owner thread must give PORTICO_ERR_THREAD");
    CHECK(portico_conn_poll(b, &ev, buf, sizeof buf) == 0 && ev.kind == PORTICO_EV_END, "owner goes on after");

    /* Freed, double free, stale: A's handle stays dead even after new ones. */
    CHECK(portico_conn_free(a) == PORTICO_OK, "free");
    all_calls(a, PORTICO_ERR_INVALID, "freed");
    portico_conn *c = portico_conn_new(NULL, PORTICO_CONN_TLS, "h2");
    CHECK(c != NULL && c != a, "handles are not reused");
    all_calls(a, PORTICO_ERR_INVALID, "stale");
    CHECK(portico_conn_want_write(c) == 1, "TLS + h2: our SETTINGS are queued at once");

    /* A process forked after the library loaded gets PORTICO_ERR_FORKED. */
    pid_t child = fork();
    if (child == 0) {
        int bad = 0;
        bad |= portico_conn_new(NULL, 0, NULL) != NULL;
        bad |= portico_conn_poll(b, &ev, buf, sizeof buf) != PORTICO_ERR_FORKED;
        bad |= portico_conn_recv(c, (const uint8_t *)"x", 1) != PORTICO_ERR_FORKED;
        bad |= portico_conn_free(c) != PORTICO_ERR_FORKED;
        _exit(bad);
    }
    int status = -1;
    CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "forked child did not get PORTICO_ERR_FORKED (status %d)", status);

    CHECK(portico_conn_free(b) == PORTICO_OK && portico_conn_free(c) == PORTICO_OK, "free");
    CHECK(strcmp(portico_strerror(PORTICO_ERR_THREAD), "unknown error code") != 0, "strerror names THREAD");

    if (failures) {
        fprintf(stderr, "conn_misuse: %d check(s) failed\n", failures);
        return 1;
    }
    printf("conn_misuse: all checks passed\n");
    return 0;
}
