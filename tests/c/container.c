/* container.c - a small epoll-based C container that serves through
 * libportico's connection mode only.
 *
 *   container LIBRARY [PORT [WORKERS]]
 *
 * The master binds 127.0.0.1:PORT (0 or absent: a free port), prints
 * "port N", and forks WORKERS (default 2) workers. It never loads the
 * library: each worker dlopen()s LIBRARY after the fork (the Go runtime in it
 * does not survive fork) and runs its own epoll loop on the shared listening
 * socket. The app: POST /echo answers the request body, /ws is a WebSocket
 * echo, /unread answers at once without reading the body, anything else
 * answers "hello\n" (bodies are read and dropped); over HTTP/1.1, h2c (prior
 * knowledge and Upgrade) and WebSocket over HTTP/1.1 and HTTP/2. SIGTERM to the master
 * stops the workers, which free everything and exit; the master exits 0 only
 * if every worker did.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "portico.h"

/* The library's functions, looked up after dlopen (never linked: see above). */
static struct {
    portico_conn *(*conn_new)(const portico_options *, int, const char *);
    int (*conn_recv)(portico_conn *, const uint8_t *, size_t);
    int64_t (*conn_poll)(portico_conn *, portico_event *, uint8_t *, size_t);
    int64_t (*conn_send)(portico_conn *, uint8_t *, size_t);
    int (*conn_want_read)(portico_conn *);
    int (*conn_want_write)(portico_conn *);
    int64_t (*conn_respond)(portico_conn *, uint32_t, const uint8_t *, size_t, const uint8_t *, size_t, int);
    int64_t (*conn_write)(portico_conn *, uint32_t, const uint8_t *, size_t, int);
    int (*conn_ws_accept)(portico_conn *, uint32_t, const char *, const uint8_t *, size_t);
    int (*conn_ws_send)(portico_conn *, uint32_t, int, const uint8_t *, size_t);
    int (*conn_close)(portico_conn *);
    int (*conn_free)(portico_conn *);
    const char *(*strerror)(int);
} P;

static void *lib;

static int load(const char *path) {
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
#define SYM(field, name)                                                       \
    do {                                                                       \
        *(void **)&P.field = dlsym(lib, name);                                 \
        if (!P.field) {                                                        \
            fprintf(stderr, "dlsym %s: %s\n", name, dlerror());                \
            return -1;                                                         \
        }                                                                      \
    } while (0)
    SYM(conn_new, "portico_conn_new");
    SYM(conn_recv, "portico_conn_recv");
    SYM(conn_poll, "portico_conn_poll");
    SYM(conn_send, "portico_conn_send");
    SYM(conn_want_read, "portico_conn_want_read");
    SYM(conn_want_write, "portico_conn_want_write");
    SYM(conn_respond, "portico_conn_respond");
    SYM(conn_write, "portico_conn_write");
    SYM(conn_ws_accept, "portico_conn_ws_accept");
    SYM(conn_ws_send, "portico_conn_ws_send");
    SYM(conn_close, "portico_conn_close");
    SYM(conn_free, "portico_conn_free");
    SYM(strerror, "portico_strerror");
    int (*abi)(void);
    *(void **)&abi = dlsym(lib, "portico_abi_version");
    if (!abi || abi() != PORTICO_ABI_VERSION) {
        fprintf(stderr, "libportico ABI mismatch\n");
        return -1;
    }
    return 0;
}

/* ---- per-connection state ------------------------------------------------ */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static int buf_append(struct buf *b, const uint8_t *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* A request the app is still working on: an echo body being gathered, or a
 * response body the send window has not taken yet (HTTP/2). */
struct stream {
    uint32_t id;
    int echo;       /* POST /echo: gather the body, answer at its end */
    int hello;      /* anything else: answer "hello" once the request is whole */
    int responding; /* body.p[sent:] still to write */
    size_t sent;
    struct buf body;
    struct stream *next;
};

struct client {
    int fd;
    portico_conn *pc;
    struct buf out; /* bytes taken from the library, not yet written */
    size_t out_off;
    int closed;     /* PORTICO_EV_CLOSED was polled */
    int lingering;  /* finished: half-closed, reading until EOF or timeout */
    time_t linger_until;
    struct stream *streams;
    struct client *next;
};

static struct client *clients;
static int epfd;
static volatile sig_atomic_t stopping;
static uint8_t *evbuf; /* event payloads; grows to the largest seen */
static size_t evcap;

static struct stream *find_stream(struct client *c, uint32_t id, int create) {
    for (struct stream *s = c->streams; s; s = s->next)
        if (s->id == id)
            return s;
    if (!create)
        return NULL;
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id = id;
    s->next = c->streams;
    c->streams = s;
    return s;
}

static void drop_stream(struct client *c, uint32_t id) {
    for (struct stream **pp = &c->streams; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct stream *s = *pp;
            *pp = s->next;
            free(s->body.p);
            free(s);
            return;
        }
    }
}

static void free_client(struct client *c) {
    for (struct client **pp = &clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    while (c->streams)
        drop_stream(c, c->streams->id);
    if (c->pc)
        P.conn_free(c->pc);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out.p);
    free(c);
}

/* ---- the app ------------------------------------------------------------- */

static const uint8_t TEXT_HEAD[] = "200 OK\0content-type\0text/plain";

/* Field N (0: method, 1: path, ...) of a NUL-separated request head. */
static const char *head_part(const uint8_t *p, size_t len, int n) {
    size_t i = 0;
    for (; n > 0 && i < len; i++)
        if (p[i] == 0)
            n--;
    return i < len ? (const char *)p + i : "";
}

/* Answer with BODY; what HTTP/2 flow control does not take now is written on
 * PORTICO_EV_WRITABLE. */
static void reply(struct client *c, uint32_t id, const uint8_t *body, size_t len) {
    int64_t n = P.conn_respond(c->pc, id, TEXT_HEAD, sizeof TEXT_HEAD, body, len, PORTICO_END);
    if (n < 0) {
        fprintf(stderr, "respond: %s\n", P.strerror((int)n));
        return;
    }
    if ((size_t)n == len) {
        drop_stream(c, id);
        return;
    }
    struct stream *s = find_stream(c, id, 1);
    if (!s)
        return;
    if (!s->echo) { /* keep our own copy of the rest */
        s->body.len = 0;
        buf_append(&s->body, body, len);
    }
    s->echo = s->hello = 0;
    s->responding = 1;
    s->sent = (size_t)n;
}

static void write_more(struct client *c, struct stream *s) {
    int64_t n = P.conn_write(c->pc, s->id, s->body.p + s->sent, s->body.len - s->sent, PORTICO_END);
    if (n < 0) {
        drop_stream(c, s->id);
        return;
    }
    s->sent += (size_t)n;
    if (s->sent == s->body.len)
        drop_stream(c, s->id);
}

static void on_event(struct client *c, const portico_event *ev, const uint8_t *p, size_t len) {
    struct stream *s;
    switch (ev->kind) {
    case PORTICO_EV_REQUEST: {
        const char *method = head_part(p, len, 0), *path = head_part(p, len, 1);
        if ((ev->flags & PORTICO_REQ_WEBSOCKET) && strcmp(path, "/ws") == 0) {
            int rc = P.conn_ws_accept(c->pc, ev->stream, NULL, NULL, 0);
            if (rc != PORTICO_OK)
                fprintf(stderr, "ws_accept: %s\n", P.strerror(rc));
        } else if (strcmp(path, "/unread") == 0) {
            /* Answered before the body (RFC 9113 8.1): h2spec runs against
             * it too, so the rest of such a request is still checked. */
            reply(c, ev->stream, (const uint8_t *)"unread\n", 7);
        } else if (strcmp(method, "POST") == 0 && strcmp(path, "/echo") == 0) {
            s = find_stream(c, ev->stream, 1);
            if (s)
                s->echo = 1;
        } else {
            /* Answered at PORTICO_EV_END, like an app that reads its request
             * first: a request that turns out malformed (HTTP/2 content-length
             * mismatch, pseudo-header trailers) is reset before any answer. */
            s = find_stream(c, ev->stream, 1);
            if (s)
                s->hello = 1;
        }
        break;
    }
    case PORTICO_EV_DATA:
        s = find_stream(c, ev->stream, 0);
        if (s && s->echo)
            buf_append(&s->body, p, len);
        break;
    case PORTICO_EV_END:
        s = find_stream(c, ev->stream, 0);
        if (s && s->echo)
            reply(c, ev->stream, s->body.p, s->body.len);
        else if (s && s->hello)
            reply(c, ev->stream, (const uint8_t *)"hello\n", 6);
        break;
    case PORTICO_EV_WRITABLE:
        for (s = c->streams; s;) {
            struct stream *next = s->next;
            if (s->responding && (ev->stream == 0 || ev->stream == s->id))
                write_more(c, s);
            s = next;
        }
        break;
    case PORTICO_EV_WS_MESSAGE:
        P.conn_ws_send(c->pc, ev->stream, ev->flags, p, len);
        break;
    case PORTICO_EV_RESET:
        drop_stream(c, ev->stream);
        break;
    case PORTICO_EV_CLOSED:
        c->closed = 1;
        break;
    default: /* END of a plain request, WS_CLOSE (the engine answers), GOAWAY, CLOSED */
        break;
    }
}

/* ---- I/O ----------------------------------------------------------------- */

static void set_events(struct client *c, uint32_t events) {
    struct epoll_event e = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Take every pending event; the payload buffer grows on PORTICO_ERR_BUFFER. */
static void run_events(struct client *c) {
    portico_event ev;
    for (;;) {
        int64_t n = P.conn_poll(c->pc, &ev, evbuf, evcap);
        if (n == PORTICO_ERR_BUFFER) {
            uint8_t *nb = realloc(evbuf, ev.len);
            if (!nb)
                return;
            evbuf = nb;
            evcap = ev.len;
            continue;
        }
        if (n < 0)
            return; /* PORTICO_ERR_DONE */
        on_event(c, &ev, evbuf, (size_t)n);
    }
}

/* Write what the library has; returns 0 when all went out, 1 when the socket
 * is full, -1 on error. */
static int flush(struct client *c) {
    for (;;) {
        if (c->out_off == c->out.len) {
            c->out.len = c->out_off = 0;
            if (c->out.cap < 65536) {
                uint8_t *np = realloc(c->out.p, 65536);
                if (!np)
                    return -1;
                c->out.p = np;
                c->out.cap = 65536;
            }
            int64_t n = P.conn_send(c->pc, c->out.p, c->out.cap);
            if (n <= 0)
                return 0;
            c->out.len = (size_t)n;
        }
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
}

/* After any input or command: run events, write, decide what to wait for. */
static void progress(struct client *c) {
    run_events(c);
    int f = flush(c);
    if (f < 0) {
        free_client(c);
        return;
    }
    if (f == 1) {
        set_events(c, EPOLLOUT); /* backpressure: read no more until it drains */
        return;
    }
    if (!c->closed) {
        /* want_read 0 before PORTICO_EV_CLOSED: the peer half-closed and an
         * answer is owed (this app answers at once, so only for a moment). */
        set_events(c, P.conn_want_read(c->pc) == 1 ? EPOLLIN : 0);
        return;
    }
    /* Finished. Half-close and read until the peer closes, so that a last
     * frame (a GOAWAY) is not destroyed by a reset of unread input. */
    P.conn_free(c->pc);
    c->pc = NULL;
    shutdown(c->fd, SHUT_WR);
    c->lingering = 1;
    c->linger_until = time(NULL) + 2;
    set_events(c, EPOLLIN);
}

static void on_readable(struct client *c) {
    if (!c->lingering && P.conn_want_read(c->pc) != 1) {
        free_client(c); /* woken with no input wanted: the peer is gone (EPOLLHUP, EPOLLERR) */
        return;
    }
    uint8_t in[65536];
    ssize_t n = read(c->fd, in, sizeof in);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (c->lingering) {
        if (n <= 0)
            free_client(c);
        return;
    }

    if (n < 0)
        n = 0; /* a reset is an end of input too */
    P.conn_recv(c->pc, in, (size_t)n);
    progress(c);
}

static void accept_all(int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: another worker took it, or none left */
        struct client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->pc = P.conn_new(NULL, 0, NULL);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (!c->pc || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            if (c->pc)
                P.conn_free(c->pc);
            close(fd);
            free(c);
            continue;
        }
        c->next = clients;
        clients = c;
    }
}

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

static int worker(int lfd, const char *library) {
    if (load(library) < 0)
        return 1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    /* EPOLLEXCLUSIVE: one worker wakes per new connection. */
    struct epoll_event le = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le) < 0) {
        perror("epoll");
        return 1;
    }
    struct epoll_event evs[64];
    while (!stopping) {
        int n = epoll_wait(epfd, evs, 64, 200);
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;
            if (!c) {
                accept_all(lfd);
            } else if (evs[i].events & EPOLLOUT) {
                progress(c);
            } else {
                on_readable(c);
            }
        }
        time_t now = time(NULL);
        for (struct client *c = clients, *next; c; c = next) {
            next = c->next;
            if (c->lingering && now >= c->linger_until)
                free_client(c);
        }
    }
    while (clients)
        free_client(clients);
    free(evbuf);
    close(epfd);
    close(lfd);
    dlclose(lib);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: container LIBRARY [PORT [WORKERS]]\n");
        return 2;
    }
    int port = argc > 2 ? atoi(argv[2]) : 0;
    int nworkers = argc > 3 ? atoi(argv[3]) : 2;
    if (nworkers < 1 || nworkers > 64)
        nworkers = 2;

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
        perror("listen");
        return 1;
    }

    struct sigaction act = {.sa_handler = on_term};
    sigemptyset(&act.sa_mask);
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    pid_t pids[64];
    for (int i = 0; i < nworkers; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            int rc = worker(lfd, argv[1]);
            fflush(NULL);
            _exit(rc);
        }
        if (pids[i] < 0) {
            perror("fork");
            return 1;
        }
    }
    close(lfd);
    printf("port %d\n", ntohs(sa.sin_port));
    fflush(stdout);

    int failed = 0, left = nworkers;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                if (stopping)
                    for (int i = 0; i < nworkers; i++)
                        kill(pids[i], SIGTERM);
                continue;
            }
            break;
        }
        left--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %d ended with status %d\n", (int)pid, status);
            failed = 1;
        }
    }
    return failed;
}
