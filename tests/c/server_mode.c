/* server_mode.c - a C host of libportico in server mode.
 *
 * Links the library through include/portico.h, listens on a free loopback
 * port, and, from a client thread, sends a keep-alive GET and a POST with a
 * body. The main thread pulls each request, reads its body, answers, and
 * checks what the client received. It also checks that bad handles and
 * small buffers give error codes. Exit status 0 means every check held.
 * Run under valgrind by `make test`.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static const char REQUESTS[] =
    "GET /hello?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: c-test\r\n\r\n"
    "POST /echo HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\n"
    "Connection: close\r\n\r\nhello world";

static int port_of(const char *addr) {
    const char *colon = strrchr(addr, ':');
    return colon ? atoi(colon + 1) : -1;
}

/* The client: send both requests at once (pipelined), read until close. */
static void *client(void *arg) {
    int port = *(int *)arg;
    static char reply[8192];
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return NULL;
    }
    if (write(fd, REQUESTS, sizeof REQUESTS - 1) != (ssize_t)(sizeof REQUESTS - 1))
        perror("write");
    size_t got = 0;
    ssize_t n;
    while (got < sizeof reply - 1 && (n = read(fd, reply + got, sizeof reply - 1 - got)) > 0)
        got += (size_t)n;
    reply[got] = 0;
    close(fd);
    return reply;
}

/* Field I of a NUL-separated head. */
static const char *head_field(const uint8_t *head, uint32_t len, int i) {
    const char *p = (const char *)head;
    const char *end = p + len;
    while (i-- > 0) {
        p = memchr(p, 0, (size_t)(end - p));
        if (!p)
            return "";
        p++;
    }
    return p;
}

static void serve(portico_server *srv, const char *want_method, const char *reply_body) {
    static uint8_t buf[65536 + 4096];
    int64_t n = portico_server_next(srv, 10000, buf, sizeof buf);
    CHECK(n >= 16, "server_next: %s", portico_strerror((int)n));
    if (n < 16)
        return;
    uint64_t id;
    uint32_t flags, hlen;
    memcpy(&id, buf, 8);
    memcpy(&flags, buf + 8, 4);
    memcpy(&hlen, buf + 12, 4);
    const uint8_t *head = buf + 16;
    /* NUL-separated fields are not NUL-terminated at the end: copy. */
    char method[16] = {0};
    const char *m = head_field(head, hlen, 0);
    memcpy(method, m, strnlen(m, sizeof method - 1));
    CHECK(strcmp(method, want_method) == 0, "method %s, want %s", method, want_method);

    /* Body: what the record carries, then portico_request_read. */
    char body[64] = {0};
    size_t blen = (size_t)n - 16 - hlen;
    memcpy(body, buf + 16 + hlen, blen < sizeof body ? blen : sizeof body - 1);
    if (!(flags & PORTICO_REQ_BODY_COMPLETE)) {
        int64_t r;
        while ((r = portico_request_read(id, (uint8_t *)body + blen, sizeof body - 1 - blen, 5000)) > 0)
            blen += (size_t)r;
        CHECK(r == 0, "request_read: %s", portico_strerror((int)r));
    }
    if (strcmp(method, "POST") == 0)
        CHECK(strcmp(body, "hello world") == 0, "body '%s'", body);

    static const char status_and_fields[] = "200 OK\0Content-Type\0text/plain";
    int rc = portico_request_respond(id, (const uint8_t *)status_and_fields, sizeof status_and_fields - 1,
                                     (const uint8_t *)reply_body, strlen(reply_body), PORTICO_END);
    CHECK(rc == PORTICO_OK, "respond: %s", portico_strerror(rc));
    /* The id is finished now: a second answer is refused, not a crash. */
    rc = portico_request_respond(id, (const uint8_t *)status_and_fields, sizeof status_and_fields - 1, NULL, 0,
                                 PORTICO_END);
    CHECK(rc == PORTICO_ERR_INVALID, "respond twice gave %d", rc);
}

int main(void) {
    CHECK(portico_abi_version() == PORTICO_ABI_VERSION, "abi %d", portico_abi_version());

    portico_options *opts = portico_options_new();
    CHECK(opts != NULL, "options_new");
    CHECK(portico_options_set(opts, "header_timeout_ms", "5000") == PORTICO_OK, "set option");
    CHECK(portico_options_set(opts, "no_such_option", "1") == PORTICO_ERR_OPTION, "unknown option");
    CHECK(portico_options_set(opts, "max_head_size", "-3") == PORTICO_ERR_OPTION, "bad value");
    portico_server *srv = portico_server_new(opts);
    portico_options_free(opts);
    CHECK(portico_options_free(opts) == PORTICO_ERR_INVALID, "double free of options");
    CHECK(srv != NULL, "server_new");

    CHECK(portico_server_listen(srv, "no-port") == PORTICO_ERR_LISTEN, "bad address");
    char msg[256];
    CHECK(portico_server_last_error(srv, msg, sizeof msg) > 0, "last_error empty");
    int idx = portico_server_listen(srv, "127.0.0.1:0");
    CHECK(idx >= 0, "listen: %s", portico_strerror(idx));
    char addr[64];
    char tiny[4];
    CHECK(portico_server_address(srv, idx, tiny, sizeof tiny) == PORTICO_ERR_BUFFER, "small buffer");
    CHECK(portico_server_address(srv, idx, addr, sizeof addr) > 0, "address");
    CHECK(portico_server_address(srv, 99, addr, sizeof addr) == PORTICO_ERR_INVALID, "bad index");

    /* Forged and stale handles are errors, never crashes. */
    uint8_t small[8];
    CHECK(portico_server_next((portico_server *)(uintptr_t)123456789, 0, small, sizeof small) ==
              PORTICO_ERR_INVALID,
          "forged server handle");
    CHECK(portico_server_next(srv, 0, small, sizeof small) == PORTICO_ERR_DONE, "empty queue");
    CHECK(portico_request_write(987654321, NULL, 0, PORTICO_END) == PORTICO_ERR_INVALID, "unknown request");

    int port = port_of(addr);
    pthread_t th;
    pthread_create(&th, NULL, client, &port);
    serve(srv, "GET", "hello from C\n");
    serve(srv, "POST", "echoed\n");
    char *reply = NULL;
    pthread_join(th, (void **)&reply);
    CHECK(reply && strstr(reply, "HTTP/1.1 200 OK\r\n") == reply, "first status line: %.40s", reply);
    CHECK(reply && strstr(reply, "hello from C\n") != NULL, "first body missing");
    CHECK(reply && strstr(reply, "Content-Length: 7\r\n") != NULL, "second Content-Length missing");
    CHECK(reply && strstr(reply, "echoed\n") != NULL, "second body missing");

    /* A child forked after the library loaded must get PORTICO_ERR_FORKED
     * at once instead of hanging in the Go runtime (which does not survive
     * fork). */
    pid_t child = fork();
    if (child == 0) {
        int bad = 0;
        bad |= portico_server_address(srv, idx, addr, sizeof addr) != PORTICO_ERR_FORKED;
        bad |= portico_options_new() != NULL;
        bad |= portico_server_next(srv, 1000, small, sizeof small) != PORTICO_ERR_FORKED;
        _exit(bad);
    }
    int status = -1;
    CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "forked child did not get PORTICO_ERR_FORKED (status %d)", status);

    CHECK(portico_server_shutdown(srv) == PORTICO_OK, "shutdown");
    CHECK(portico_server_next(srv, 100, small, sizeof small) == PORTICO_ERR_CLOSED, "next after shutdown");
    CHECK(portico_server_free(srv) == PORTICO_OK, "free");
    CHECK(portico_server_free(srv) == PORTICO_ERR_INVALID, "double free");
    CHECK(strcmp(portico_strerror(PORTICO_ERR_DONE), "nothing more now") == 0, "strerror");

    if (failures) {
        fprintf(stderr, "server_mode: %d check(s) failed\n", failures);
        return 1;
    }
    printf("server_mode: all checks passed\n");
    return 0;
}
