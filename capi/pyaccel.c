// The ASGI binding's batch decoder (bindings/python/portico/asgi.py): it
// turns one portico_server_poll batch into Python objects, each request's
// scope dict built here instead of by a dozen Python-level steps (1.5 us
// less per request on the Python thread, which is what bounds an ASGI
// server's rate).
//
// Not part of the C ABI (portico.h): only the Python binding calls these,
// with the GIL held: pco_py_init and pco_py_functions through ctypes.PyDLL,
// the rest as the builtin functions pco_py_functions makes (the end of this
// file). Python's functions are looked up at run time in
// the interpreter that loaded the library, and only functions of CPython's
// stable ABI are used, so one library serves every Python 3 (3.8 to 3.13
// tested). Where a lookup fails, pco_py_init says so and the binding keeps
// its pure-Python decoder. Every call that can fail is checked, nothing is
// made once one failed, and no event of a batch is lost to a failure
// (decode); tests/asgi/test_accel.py fails each call in turn (test doors).
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h" // the exports called here

typedef struct _object PyObject;
typedef intptr_t Py_ssize_t;

// The poll batch's layout (portico.h, "Event mode").
enum { EVENT_HEAD = 16, RECORD_HEAD = 16, EV_REQUEST = 1, EV_WS = 3, ADDR_CACHE = 4096 };

// A WebSocket text or binary message, decoded here into its ASGI
// websocket.receive message (a kind of this binding's, not portico.h's).
enum { WS_TEXT = 1, WS_BINARY = 2, EV_WS_MESSAGE = 0x103 };

typedef struct {
    PyObject *(*DictNew)(void);
    int (*DictSetItem)(PyObject *, PyObject *, PyObject *);
    PyObject *(*DictGetItem)(PyObject *, PyObject *); // borrowed; no error set
    Py_ssize_t (*DictSize)(PyObject *);
    void (*DictClear)(PyObject *);
    PyObject *(*ListNew)(Py_ssize_t);
    int (*ListAppend)(PyObject *, PyObject *);
    int (*ListSetItem)(PyObject *, Py_ssize_t, PyObject *); // steals
    PyObject *(*TupleNew)(Py_ssize_t);
    PyObject *(*TupleGetItem)(PyObject *, Py_ssize_t); // borrowed
    int (*TupleSetItem)(PyObject *, Py_ssize_t, PyObject *); // steals
    PyObject *(*BytesFromStringAndSize)(const char *, Py_ssize_t);
    char *(*BytesAsString)(PyObject *);
    PyObject *(*DecodeLatin1)(const char *, Py_ssize_t, const char *);
    PyObject *(*DecodeUTF8)(const char *, Py_ssize_t, const char *);
    PyObject *(*InternFromString)(const char *);
    PyObject *(*LongFromLongLong)(long long);
    PyObject *(*LongFromUnsignedLongLong)(unsigned long long);
    void (*IncRef)(PyObject *);
    void (*DecRef)(PyObject *);
    void (*ErrSetString)(PyObject *, const char *);
    void (*ErrClear)(void);
    Py_ssize_t (*ListSize)(PyObject *);
    PyObject *(*ObjectType)(PyObject *); // a new reference
    PyObject *(*ListGetItem)(PyObject *, Py_ssize_t); // borrowed
    Py_ssize_t (*TupleSize)(PyObject *);
    int (*BytesAsStringAndSize)(PyObject *, char **, Py_ssize_t *);
    PyObject *(*CFunctionNewEx)(void *, PyObject *, PyObject *);
    unsigned long long (*LongAsUnsignedLongLong)(PyObject *);
    long long (*LongAsLongLong)(PyObject *);
    PyObject *(*ErrOccurred)(void); // borrowed
    int (*DictSetItemString)(PyObject *, const char *, PyObject *);
    PyObject *(*CapsuleNew)(void *, const char *, void (*)(PyObject *));
    void *(*CapsuleGetPointer)(PyObject *, const char *);
    PyObject *(*NoMemory)(void); // sets MemoryError; returns NULL
    int (*ExceptionMatches)(PyObject *);
    PyObject **ValueError;
    PyObject **MemoryError;
    PyObject **TypeError;
} python_api;

static python_api py;

// The library's exports and the C allocator, called through these so that
// the tests can make them fail (test_doors, below).
static struct {
    int64_t (*server_poll)(uintptr_t, uint8_t *, size_t);
    int (*respond_nowait)(uint64_t, uint8_t *, size_t, uint8_t *, size_t, int);
    int (*ws_send_nowait)(uint64_t, int, uint8_t *, size_t);
    int64_t (*respond_batch)(uint8_t *, size_t, uint64_t *, size_t);
    int (*abort)(uint64_t, int);
} lib = {portico_server_poll, portico_request_respond_nowait, portico_ws_send_nowait, pco_respond_batch,
         portico_request_abort};

static struct {
    void *(*alloc)(size_t);
    void *(*grow)(void *, size_t);
} mem = {malloc, realloc};

// Interned keys and shared values, made once by pco_py_init.
enum {
    K_TYPE, K_ASGI, K_HTTP_VERSION, K_METHOD, K_SCHEME, K_PATH, K_RAW_PATH, K_QUERY,
    K_ROOT_PATH, K_HEADERS, K_CLIENT, K_SERVER, K_EXTENSIONS, V_HTTP, V_11, V_2, V_10,
    V_GET, V_POST, V_HEAD, V_SCHEME_HTTP, V_SCHEME_HTTPS, K_TEXT, K_BYTES, V_WS_RECEIVE, N_INTERNED
};
static const char *const interned_text[N_INTERNED] = {
    "type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string",
    "root_path", "headers", "client", "server", "extensions", "http", "1.1", "2", "1.0",
    "GET", "POST", "HEAD", "http", "https", "text", "bytes", "websocket.receive",
};
static PyObject *interned[N_INTERNED];
static PyObject *asgi_version; // the shared scope["asgi"] dict
static PyObject *none;
static PyObject *list_type, *tuple_type; // exactly these; subclasses take the slow path
static int ready;

#define LOOKUP(field, name)                                  \
    if (!(*(void **)&py.field = dlsym(RTLD_DEFAULT, name))) \
        return -1;

static int lookup(void) {
    LOOKUP(DictNew, "PyDict_New");
    LOOKUP(DictSetItem, "PyDict_SetItem");
    LOOKUP(DictGetItem, "PyDict_GetItem");
    LOOKUP(DictSize, "PyDict_Size");
    LOOKUP(DictClear, "PyDict_Clear");
    LOOKUP(ListNew, "PyList_New");
    LOOKUP(ListAppend, "PyList_Append");
    LOOKUP(ListSetItem, "PyList_SetItem");
    LOOKUP(TupleNew, "PyTuple_New");
    LOOKUP(TupleSetItem, "PyTuple_SetItem");
    LOOKUP(TupleGetItem, "PyTuple_GetItem");
    LOOKUP(BytesFromStringAndSize, "PyBytes_FromStringAndSize");
    LOOKUP(BytesAsString, "PyBytes_AsString");
    LOOKUP(DecodeLatin1, "PyUnicode_DecodeLatin1");
    LOOKUP(DecodeUTF8, "PyUnicode_DecodeUTF8");
    LOOKUP(InternFromString, "PyUnicode_InternFromString");
    LOOKUP(LongFromLongLong, "PyLong_FromLongLong");
    LOOKUP(LongFromUnsignedLongLong, "PyLong_FromUnsignedLongLong");
    LOOKUP(IncRef, "Py_IncRef");
    LOOKUP(DecRef, "Py_DecRef");
    LOOKUP(ErrSetString, "PyErr_SetString");
    LOOKUP(ErrClear, "PyErr_Clear");
    LOOKUP(ListSize, "PyList_Size");
    LOOKUP(ObjectType, "PyObject_Type");
    LOOKUP(ListGetItem, "PyList_GetItem");
    LOOKUP(TupleSize, "PyTuple_Size");
    LOOKUP(BytesAsStringAndSize, "PyBytes_AsStringAndSize");
    LOOKUP(CFunctionNewEx, "PyCFunction_NewEx");
    LOOKUP(LongAsUnsignedLongLong, "PyLong_AsUnsignedLongLong");
    LOOKUP(LongAsLongLong, "PyLong_AsLongLong");
    LOOKUP(ErrOccurred, "PyErr_Occurred");
    LOOKUP(DictSetItemString, "PyDict_SetItemString");
    LOOKUP(CapsuleNew, "PyCapsule_New");
    LOOKUP(CapsuleGetPointer, "PyCapsule_GetPointer");
    LOOKUP(NoMemory, "PyErr_NoMemory");
    LOOKUP(ExceptionMatches, "PyErr_ExceptionMatches");
    LOOKUP(MemoryError, "PyExc_MemoryError");
    LOOKUP(ValueError, "PyExc_ValueError");
    LOOKUP(TypeError, "PyExc_TypeError");
    return 0;
}

// ---- failure injection, for the tests ----
//
// With PORTICO_PY_TEST_HOOKS in the environment when pco_py_init runs, each
// call here that can fail (an allocation by Python or malloc, a call into
// the library) goes through a door that counts it and can be told to fail
// it, and pco_py_functions adds the builtin inject() that tells it
// (tests/asgi/test_accel.py). The variable's value N makes the Nth
// allocation of that pco_py_init fail. Without the variable the tables
// hold the real functions: nothing is added to the normal path.

enum { CALL_POLL = 1, CALL_RESPOND, CALL_WS_SEND, CALL_RESPOND_BATCH, CALL_ABORT };

static python_api real;
static struct {
    long alloc_at;           // the allocation to fail: 1 the next one, 0 none
    int call_kind;           // the library call to fail (CALL_*), its count and result
    long call_at, call_rc;
    long allocs, calls;      // doors passed since inject() last asked
    long with_error;         // of those, passed with a Python error already set
} fault;

static int fail_alloc(void) {
    fault.allocs++;
    fault.with_error += real.ErrOccurred() != NULL;
    return fault.alloc_at > 0 && --fault.alloc_at == 0;
}

static int fail_call(int kind) {
    fault.calls++;
    fault.with_error += real.ErrOccurred() != NULL;
    return fault.call_kind == kind && fault.call_at > 0 && --fault.call_at == 0;
}

#define OBJECT_DOOR(name, params, args)                 \
    static PyObject *door_##name params {               \
        return fail_alloc() ? real.NoMemory() : real.name args; \
    }
#define STATUS_DOOR(name, params, args)                       \
    static int door_##name params {                           \
        return fail_alloc() ? (real.NoMemory(), -1) : real.name args; \
    }
OBJECT_DOOR(DictNew, (void), ())
OBJECT_DOOR(ListNew, (Py_ssize_t n), (n))
OBJECT_DOOR(TupleNew, (Py_ssize_t n), (n))
OBJECT_DOOR(BytesFromStringAndSize, (const char *p, Py_ssize_t n), (p, n))
OBJECT_DOOR(DecodeLatin1, (const char *p, Py_ssize_t n, const char *e), (p, n, e))
OBJECT_DOOR(DecodeUTF8, (const char *p, Py_ssize_t n, const char *e), (p, n, e))
OBJECT_DOOR(InternFromString, (const char *p), (p))
OBJECT_DOOR(LongFromLongLong, (long long v), (v))
OBJECT_DOOR(LongFromUnsignedLongLong, (unsigned long long v), (v))
OBJECT_DOOR(CFunctionNewEx, (void *d, PyObject *s, PyObject *m), (d, s, m))
OBJECT_DOOR(CapsuleNew, (void *p, const char *n, void (*f)(PyObject *)), (p, n, f))
STATUS_DOOR(DictSetItem, (PyObject *d, PyObject *k, PyObject *v), (d, k, v))
STATUS_DOOR(ListAppend, (PyObject *l, PyObject *v), (l, v))
STATUS_DOOR(DictSetItemString, (PyObject *d, const char *k, PyObject *v), (d, k, v))

static void *door_alloc(size_t n) { return fail_alloc() ? NULL : malloc(n); }
static void *door_grow(void *p, size_t n) { return fail_alloc() ? NULL : realloc(p, n); }

static int64_t door_server_poll(uintptr_t h, uint8_t *b, size_t n) {
    return fail_call(CALL_POLL) ? fault.call_rc : portico_server_poll(h, b, n);
}
static int door_respond_nowait(uint64_t id, uint8_t *h, size_t hn, uint8_t *b, size_t bn, int flags) {
    return fail_call(CALL_RESPOND) ? (int)fault.call_rc : portico_request_respond_nowait(id, h, hn, b, bn, flags);
}
static int door_ws_send_nowait(uint64_t id, int kind, uint8_t *d, size_t n) {
    return fail_call(CALL_WS_SEND) ? (int)fault.call_rc : portico_ws_send_nowait(id, kind, d, n);
}
static int64_t door_respond_batch(uint8_t *q, size_t n, uint64_t *bad, size_t cap) {
    return fail_call(CALL_RESPOND_BATCH) ? fault.call_rc : pco_respond_batch(q, n, bad, cap);
}
static int door_abort(uint64_t id, int status) {
    return fail_call(CALL_ABORT) ? (int)fault.call_rc : portico_request_abort(id, status);
}

static int doors; // installed: inject() exists

// test_doors puts the doors in the tables if the tests asked for them.
static void test_doors(void) {
    const char *hooks = getenv("PORTICO_PY_TEST_HOOKS");
    doors = 0;
    if (!hooks) {
        return;
    }
    real = py;
    py.DictNew = door_DictNew;
    py.ListNew = door_ListNew;
    py.TupleNew = door_TupleNew;
    py.BytesFromStringAndSize = door_BytesFromStringAndSize;
    py.DecodeLatin1 = door_DecodeLatin1;
    py.DecodeUTF8 = door_DecodeUTF8;
    py.InternFromString = door_InternFromString;
    py.LongFromLongLong = door_LongFromLongLong;
    py.LongFromUnsignedLongLong = door_LongFromUnsignedLongLong;
    py.CFunctionNewEx = door_CFunctionNewEx;
    py.CapsuleNew = door_CapsuleNew;
    py.DictSetItem = door_DictSetItem;
    py.ListAppend = door_ListAppend;
    py.DictSetItemString = door_DictSetItemString;
    mem.alloc = door_alloc;
    mem.grow = door_grow;
    lib.server_poll = door_server_poll;
    lib.respond_nowait = door_respond_nowait;
    lib.ws_send_nowait = door_ws_send_nowait;
    lib.respond_batch = door_respond_batch;
    lib.abort = door_abort;
    fault.alloc_at = strtol(hooks, NULL, 10);
    doors = 1;
}

// forget undoes a pco_py_init that failed half-way.
static void forget(void) {
    for (int i = 0; i < N_INTERNED; i++) {
        if (interned[i]) {
            py.DecRef(interned[i]);
            interned[i] = NULL;
        }
    }
}

// pco_py_init readies the decoder: 1 if usable, 0 if this process has no
// Python with the functions it needs (then nothing else here may be
// called), -1 with a Python error set (out of memory: nothing is kept, and
// a later call starts afresh). ASGI is the scope's shared "asgi" dict;
// NONE is Python's None.
int pco_py_init(PyObject *asgi, PyObject *none_obj) {
    if (ready) {
        return 1;
    }
    if (lookup() != 0) {
        return 0;
    }
    test_doors();
    for (int i = 0; i < N_INTERNED; i++) {
        if (!(interned[i] = py.InternFromString(interned_text[i]))) {
            forget();
            return -1;
        }
    }
    PyObject *empty_list = py.ListNew(0);
    PyObject *empty_tuple = empty_list ? py.TupleNew(0) : NULL;
    if (!empty_tuple) {
        if (empty_list) {
            py.DecRef(empty_list);
        }
        forget();
        return -1;
    }
    list_type = py.ObjectType(empty_list); // kept: types are immortal here
    tuple_type = py.ObjectType(empty_tuple);
    py.DecRef(empty_list);
    py.DecRef(empty_tuple);
    py.IncRef(asgi);
    py.IncRef(none_obj);
    asgi_version = asgi;
    none = none_obj;
    ready = 1;
    return 1;
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8); // the batch is little-endian, as this host (amd64, arm64)
    return v;
}

static uint32_t le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

typedef struct {
    const char *p;
    Py_ssize_t n;
} span;

static void refuse(const char *why) { py.ErrSetString(*py.ValueError, why); }

static PyObject *text(span s) { return py.DecodeLatin1(s.p, s.n, NULL); }

// shared returns a new reference to interned[i] if s spells it, else NULL.
static PyObject *shared(span s, int from, int to) {
    for (int i = from; i <= to; i++) {
        const char *t = interned_text[i];
        if ((size_t)s.n == strlen(t) && memcmp(s.p, t, s.n) == 0) {
            py.IncRef(interned[i]);
            return interned[i];
        }
    }
    return NULL;
}

static PyObject *http_version(span protocol) {
    static const char *const names[] = {"HTTP/1.1", "HTTP/2.0", "HTTP/1.0"};
    for (int i = 0; i < 3; i++) {
        if ((size_t)protocol.n == 8 && memcmp(protocol.p, names[i], 8) == 0) {
            py.IncRef(interned[V_11 + i]);
            return interned[V_11 + i];
        }
    }
    span rest = {protocol.p + (protocol.n > 5 ? 5 : protocol.n), protocol.n > 5 ? protocol.n - 5 : 0};
    return text(rest);
}

// endpoint is (host, port), or None for an empty host.
static PyObject *endpoint(span host, span port) {
    if (host.n == 0) {
        py.IncRef(none);
        return none;
    }
    long long number = 0;
    for (Py_ssize_t i = 0; i < port.n; i++) {
        if (port.p[i] < '0' || port.p[i] > '9' || number > 65535) {
            refuse("bad port in a request record");
            return NULL;
        }
        number = number * 10 + (port.p[i] - '0');
    }
    PyObject *t = py.TupleNew(2);
    if (!t) {
        return NULL;
    }
    PyObject *h = text(host), *n = h ? py.LongFromLongLong(number) : NULL;
    if (h) {
        py.TupleSetItem(t, 0, h);
    }
    if (n) {
        py.TupleSetItem(t, 1, n);
    }
    if (!h || !n) {
        py.DecRef(t);
        return NULL;
    }
    return t;
}

// ends returns the (client, server) pair for the four address fields,
// cached in ADDRS under the fields' bytes (a connection repeats them).
static PyObject *ends(PyObject *addrs, const span *f) {
    PyObject *key = py.BytesFromStringAndSize(f[5].p, f[8].p + f[8].n - f[5].p);
    if (!key) {
        return NULL;
    }
    PyObject *pair = py.DictGetItem(addrs, key);
    if (pair) {
        py.IncRef(pair);
        py.DecRef(key);
        return pair;
    }
    pair = py.TupleNew(2);
    PyObject *client = pair ? endpoint(f[5], f[6]) : NULL;
    PyObject *server = client ? endpoint(f[7], f[8]) : NULL;
    if (client) {
        py.TupleSetItem(pair, 0, client);
    }
    if (server) {
        py.TupleSetItem(pair, 1, server);
    }
    if (!server) {
        if (pair) {
            py.DecRef(pair);
        }
        py.DecRef(key);
        return NULL;
    }
    if (py.DictSize(addrs) >= ADDR_CACHE) {
        py.DictClear(addrs);
    }
    int rc = py.DictSetItem(addrs, key, pair);
    py.DecRef(key);
    if (rc != 0) {
        py.DecRef(pair);
        return NULL;
    }
    return pair;
}

static PyObject *lower_bytes(span s) {
    Py_ssize_t i = 0;
    while (i < s.n && !(s.p[i] >= 'A' && s.p[i] <= 'Z')) {
        i++;
    }
    if (i == s.n) {
        return py.BytesFromStringAndSize(s.p, s.n);
    }
    PyObject *b = py.BytesFromStringAndSize(NULL, s.n);
    if (!b) {
        return NULL;
    }
    char *d = py.BytesAsString(b);
    for (i = 0; i < s.n; i++) {
        char c = s.p[i];
        d[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    return b;
}

static PyObject *headers(const span *f, int nfields) {
    PyObject *list = py.ListNew((nfields - 9) / 2);
    if (!list) {
        return NULL;
    }
    for (int i = 9, j = 0; i + 1 < nfields; i += 2, j++) {
        PyObject *pair = py.TupleNew(2);
        PyObject *name = pair ? lower_bytes(f[i]) : NULL;
        PyObject *value = name ? py.BytesFromStringAndSize(f[i + 1].p, f[i + 1].n) : NULL;
        if (name) {
            py.TupleSetItem(pair, 0, name);
        }
        if (value) {
            py.TupleSetItem(pair, 1, value);
        }
        if (pair) {
            py.ListSetItem(list, j, pair); // a pair left half-made is freed with the list
        }
        if (!value) {
            py.DecRef(list);
            return NULL;
        }
    }
    return list;
}

// set stores VALUE (a new reference, or NULL after an error) under key k.
static int set(PyObject *d, int k, PyObject *value) {
    if (!value) {
        return -1;
    }
    int rc = py.DictSetItem(d, interned[k], value);
    py.DecRef(value);
    return rc;
}

static PyObject *borrowed(PyObject *o) {
    py.IncRef(o);
    return o;
}

static PyObject *method_name(span s) {
    PyObject *o = shared(s, V_GET, V_HEAD);
    return o ? o : text(s);
}

static PyObject *scheme_name(span s) {
    PyObject *o = shared(s, V_SCHEME_HTTP, V_SCHEME_HTTPS);
    return o ? o : text(s);
}

// fill_scope makes the scope from a record's fields.
static PyObject *fill_scope(const span *f, int nf, PyObject *root_path, PyObject *addrs) {
    PyObject *pair = ends(addrs, f);
    if (!pair) {
        return NULL;
    }
    PyObject *d = py.DictNew();
    // Each value is made only if everything before it worked: nothing leaks
    // on an error.
    int bad = !d ||
              set(d, K_TYPE, borrowed(interned[V_HTTP])) ||
              set(d, K_ASGI, borrowed(asgi_version)) ||
              set(d, K_HTTP_VERSION, http_version(f[3])) ||
              set(d, K_METHOD, method_name(f[0])) ||
              set(d, K_SCHEME, scheme_name(f[4])) ||
              set(d, K_PATH, py.DecodeUTF8(f[1].p, f[1].n, "surrogateescape")) ||
              set(d, K_RAW_PATH, py.BytesFromStringAndSize(f[1].p, f[1].n)) ||
              set(d, K_QUERY, py.BytesFromStringAndSize(f[2].p, f[2].n)) ||
              set(d, K_ROOT_PATH, borrowed(root_path)) ||
              set(d, K_HEADERS, headers(f, nf)) ||
              set(d, K_CLIENT, borrowed(py.TupleGetItem(pair, 0))) ||
              set(d, K_SERVER, borrowed(py.TupleGetItem(pair, 1))) ||
              set(d, K_EXTENSIONS, py.DictNew());
    py.DecRef(pair);
    if (bad) {
        if (d) {
            py.DecRef(d);
        }
        return NULL;
    }
    return d;
}


enum { STACK_FIELDS = 9 + 2 * 64 };

// scope builds a request's http scope as asgi.build_scope does, except for
// the percent-decoding of a path with '%', "state" and the extensions'
// entries, which the binding adds.
static PyObject *scope(const char *head, Py_ssize_t n, PyObject *root_path, PyObject *addrs) {
    const char *end = head + n;
    int nf = 1;
    for (const char *z = head; (z = memchr(z, 0, end - z)); z++) {
        nf++;
    }
    if (nf < 9 || (nf - 9) % 2 != 0) {
        refuse("malformed request record");
        return NULL;
    }
    span stack[STACK_FIELDS];
    span *f = nf <= STACK_FIELDS ? stack : mem.alloc(sizeof(span) * nf);
    if (!f) {
        py.NoMemory();
        return NULL;
    }
    const char *p = head;
    for (int i = 0; i < nf; i++) {
        const char *z = i < nf - 1 ? memchr(p, 0, end - p) : end;
        f[i].p = p;
        f[i].n = z - p;
        p = z + 1;
    }
    PyObject *d = fill_scope(f, nf, root_path, addrs);
    if (f != stack) {
        free(f);
    }
    return d;
}

// pack5 makes a tuple of five new references, stolen. Callers make them
// one after the other, ITEMS[4] last, and stop at the first that fails
// (nothing is made with an error set): then ITEMS[4] is NULL, and those
// made are released.
static PyObject *pack5(PyObject *items[5]) {
    PyObject *t = items[4] ? py.TupleNew(5) : NULL;
    for (int i = 0; i < 5; i++) {
        if (t) {
            py.TupleSetItem(t, i, items[i]);
        } else if (items[i]) {
            py.DecRef(items[i]);
        }
    }
    return t;
}

// ws_message makes {"type": "websocket.receive", "text" or "bytes": ...}
// for a message's payload, or NULL with no error set if it cannot (then
// the binding decodes it: text that is not UTF-8 is its to report).
static PyObject *ws_message(const char *p, Py_ssize_t n, int text) {
    PyObject *d = py.DictNew();
    PyObject *payload = !d ? NULL : text ? py.DecodeUTF8(p, n, NULL) : py.BytesFromStringAndSize(p, n);
    if (!payload) {
        if (d) {
            py.DecRef(d);
        }
        py.ErrClear();
        return NULL;
    }
    if (set(d, K_TYPE, borrowed(interned[V_WS_RECEIVE])) != 0) {
        py.DecRef(payload);
        py.DecRef(d);
        py.ErrClear();
        return NULL;
    }
    if (set(d, text ? K_TEXT : K_BYTES, payload) != 0) { // set takes payload either way
        py.DecRef(d);
        py.ErrClear();
        return NULL;
    }
    return d;
}

// event makes the tuple of the event at BATCH + AT (its head checked to
// fit the batch): (request id, kind, flags, scope, body) for a new
// request; (request id, EV_WS_MESSAGE, size, message, None) for a
// WebSocket text or binary message, MESSAGE its ASGI websocket.receive
// dict and SIZE the payload's bytes; (request id, kind, code, start, end)
// for the others, start and end delimiting the payload in the batch.
// NULL with an error set if it cannot.
static PyObject *event(const uint8_t *batch, size_t at, PyObject *addrs, PyObject *root_path) {
    const uint8_t *e = batch + at;
    uint64_t id = le64(e);
    int kind = e[8] | e[9] << 8;
    int code = (int16_t)(e[10] | e[11] << 8);
    size_t length = le32(e + 12);
    size_t start = at + EVENT_HEAD, end = start + length;
    PyObject *t[5] = {NULL, NULL, NULL, NULL, NULL};
    if (kind == EV_REQUEST) {
        const uint8_t *r = batch + start;
        size_t head = length >= RECORD_HEAD ? le32(r + 12) : 0;
        if (length < RECORD_HEAD || length - RECORD_HEAD < head) {
            refuse("truncated request record");
            return NULL;
        }
        const char *h = (const char *)r + RECORD_HEAD;
        (void)((t[3] = scope(h, (Py_ssize_t)head, root_path, addrs)) && (t[0] = py.LongFromUnsignedLongLong(id)) &&
               (t[1] = py.LongFromLongLong(kind)) && (t[2] = py.LongFromLongLong(le32(r + 8))) &&
               (t[4] = py.BytesFromStringAndSize(h + head, (Py_ssize_t)(length - RECORD_HEAD - head))));
        return pack5(t);
    }
    if (kind == EV_WS && (code == WS_TEXT || code == WS_BINARY) &&
        (t[3] = ws_message((const char *)batch + start, (Py_ssize_t)length, code == WS_TEXT))) {
        (void)((t[0] = py.LongFromUnsignedLongLong(id)) && (t[1] = py.LongFromLongLong(EV_WS_MESSAGE)) &&
               (t[2] = py.LongFromLongLong((long long)length)) && (t[4] = borrowed(none)));
        return pack5(t);
    }
    (void)((t[0] = py.LongFromUnsignedLongLong(id)) && (t[1] = py.LongFromLongLong(kind)) &&
           (t[2] = py.LongFromLongLong(code)) && (t[3] = py.LongFromLongLong((long long)start)) &&
           (t[4] = py.LongFromLongLong((long long)end)));
    return pack5(t);
}

// decode appends to the list OUT one tuple (event) per event of the poll
// batch at BATCH (N bytes), from offset *AT on; ADDRS is the binding's
// cache of address tuples, ROOT_PATH the scope's root_path. Returns the
// number appended, or -1 with a Python error set.
//
// No event is lost to a failure half-way: *AT is left at the first event
// not appended, everything before it is in OUT in batch order, and the
// caller may call again from *AT. An event that failed for want of memory
// is tried again then; one that failed otherwise (a malformed record: a
// ValueError) is reported once and passed over (*AT beyond it), and a batch
// whose framing is broken is passed over whole (*AT = N): no call could
// ever decode them.
static int decode(const uint8_t *batch, size_t n, size_t *at, PyObject *out, PyObject *addrs,
                  PyObject *root_path) {
    int count = 0;
    while (*at < n) {
        size_t left = n - *at;
        if (left < EVENT_HEAD || left - EVENT_HEAD < le32(batch + *at + 12)) {
            refuse("truncated poll batch");
            *at = n;
            return -1;
        }
        size_t next = *at + EVENT_HEAD + le32(batch + *at + 12);
        PyObject *t = event(batch, *at, addrs, root_path);
        int rc = t ? py.ListAppend(out, t) : -1;
        if (t) {
            py.DecRef(t);
        }
        if (rc != 0) {
            if (!py.ExceptionMatches(*py.MemoryError)) {
                *at = next;
            }
            return -1;
        }
        *at = next;
        count++;
    }
    return count;
}

// ---- answers ----

// PCO_PY_FALLBACK: pco_py_respond leaves these headers to the binding's
// encode_fields (not a list or tuple of pairs of bytes, or a NUL in one,
// which encode_fields reports by name).
enum { PCO_PY_FALLBACK = -1000, STACK_HEAD = 4096 };

// item returns the i-th element of a list or tuple (borrowed), or NULL with
// no error set.
static PyObject *item(PyObject *seq, int is_list, Py_ssize_t i) {
    PyObject *o = is_list ? py.ListGetItem(seq, i) : py.TupleGetItem(seq, i);
    if (!o) {
        py.ErrClear();
    }
    return o;
}

// length returns the size of a list or tuple and which it is, or -1 for
// anything else. The type is compared first: PyList_Size on a tuple would
// format an error message only to have it cleared.
static Py_ssize_t length(PyObject *seq, int *is_list) {
    PyObject *type = py.ObjectType(seq);
    if (!type) {
        py.ErrClear();
        return -1;
    }
    py.DecRef(type); // the type outlives its instance: the pointer stays valid
    *is_list = type == list_type;
    if (type == list_type) {
        return py.ListSize(seq);
    }
    return type == tuple_type ? py.TupleSize(seq) : -1;
}

static int bytes_of(PyObject *o, char **p, Py_ssize_t *n) {
    if (py.BytesAsStringAndSize(o, p, n) != 0) {
        py.ErrClear();
        return -1;
    }
    return 0;
}

// buffer is a growable byte buffer: on the caller's stack until it outgrows
// it, then on the heap.
typedef struct {
    char *p;
    size_t len, cap;
    int heap;
} buffer;

// reserve makes room for MORE bytes; -1 with an error set if out of memory.
static int reserve(buffer *b, size_t more) {
    if (b->len + more <= b->cap) {
        return 0;
    }
    size_t grown = (b->len + more) * 2;
    char *bigger = b->heap ? mem.grow(b->p, grown) : mem.alloc(grown);
    if (!bigger) {
        py.NoMemory();
        return -1;
    }
    if (!b->heap && b->len) {
        memcpy(bigger, b->p, b->len);
    }
    b->p = bigger;
    b->cap = grown;
    b->heap = 1;
    return 0;
}

static void put(buffer *b, const char *p, size_t n) {
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

// put_head appends LINE (the status line) and HEADERS (a list or tuple of
// (name, value) bytes pairs) joined with NULs, as asgi.encode_fields does.
// Returns 0, PCO_PY_FALLBACK (the buffer as it was), or -1 with an error set.
static int put_head(buffer *out, PyObject *line, PyObject *headers) {
    int list;
    Py_ssize_t count = length(headers, &list);
    char *l;
    Py_ssize_t ln;
    if (count < 0 || bytes_of(line, &l, &ln) != 0) {
        return PCO_PY_FALLBACK;
    }
    size_t start = out->len;
    if (reserve(out, (size_t)ln) != 0) {
        return -1;
    }
    put(out, l, (size_t)ln);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = item(headers, list, i);
        int pair_list;
        char *name, *value;
        Py_ssize_t nn, vn;
        if (!pair || length(pair, &pair_list) != 2) {
            out->len = start;
            return PCO_PY_FALLBACK;
        }
        PyObject *n = item(pair, pair_list, 0), *v = item(pair, pair_list, 1);
        if (!n || !v || bytes_of(n, &name, &nn) != 0 || bytes_of(v, &value, &vn) != 0 ||
            memchr(name, 0, nn) || memchr(value, 0, vn)) {
            out->len = start; // encode_fields names a NUL's header in its error
            return PCO_PY_FALLBACK;
        }
        if (reserve(out, (size_t)nn + (size_t)vn + 2) != 0) {
            return -1;
        }
        put(out, "", 1);
        put(out, name, (size_t)nn);
        put(out, "", 1);
        put(out, value, (size_t)vn);
    }
    return 0;
}

// pco_py_respond is portico_request_respond_nowait with the head still in
// Python objects: LINE, the status line (bytes), and HEADERS, a list or
// tuple of (name, value) bytes pairs (put_head). Returns what
// portico_request_respond_nowait returns, PCO_PY_FALLBACK, or -1 with an
// error set (out of memory).
static int pco_py_respond(uint64_t id, PyObject *line, PyObject *headers, PyObject *body, int flags) {
    char *b;
    Py_ssize_t bn;
    if (bytes_of(body, &b, &bn) != 0) {
        return PCO_PY_FALLBACK;
    }
    char stack[STACK_HEAD];
    buffer head = {stack, 0, sizeof stack, 0};
    int rc = put_head(&head, line, headers);
    if (rc == 0) {
        rc = lib.respond_nowait(id, (uint8_t *)head.p, head.len, (uint8_t *)b, (size_t)bn, flags);
    }
    if (head.heap) {
        free(head.p);
    }
    return rc;
}

// ---- answers queued for one crossing ----
//
// A response the app finished in one send (head, whole body, end) is
// queued by respond_later and answered with the rest of the queue by one
// flush, at the end of the event loop's pass: one crossing into Go per
// batch instead of one per request (capi/respond_batch.go has the record
// layout). The queue is a capsule owned by the binding's server object.

enum { BATCH_RECORD_HEAD = 20, REFUSED_MAX = 64, LATER_BODY_MAX = 64 * 1024 };

static const char queue_name[] = "portico.respond_queue";

static void free_queue(PyObject *capsule) {
    buffer *q = py.CapsuleGetPointer(capsule, queue_name);
    if (q) {
        free(q->p);
        free(q);
    } else {
        py.ErrClear();
    }
}

static void put32(buffer *b, size_t at, uint32_t v) { memcpy(b->p + at, &v, 4); }

// queue_respond appends a record; 0, PCO_PY_FALLBACK (not queued: the
// binding answers at once) or -1 with an error set.
static int queue_respond(buffer *q, uint64_t id, PyObject *line, PyObject *headers, PyObject *body, int flags) {
    char *b;
    Py_ssize_t bn;
    if (bytes_of(body, &b, &bn) != 0 || bn > LATER_BODY_MAX) {
        return PCO_PY_FALLBACK; // a big body is worth its own crossing, not a copy more
    }
    size_t at = q->len;
    if (reserve(q, BATCH_RECORD_HEAD) != 0) {
        return -1;
    }
    put(q, (const char *)&id, 8);
    q->len += BATCH_RECORD_HEAD - 8;
    int rc = put_head(q, line, headers);
    if (rc == 0 && reserve(q, (size_t)bn) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        q->len = at;
        return rc;
    }
    size_t head = q->len - at - BATCH_RECORD_HEAD;
    if (head > UINT32_MAX) {
        q->len = at;
        return PCO_PY_FALLBACK;
    }
    put(q, b, (size_t)bn);
    put32(q, at + 8, (uint32_t)flags);
    put32(q, at + 12, (uint32_t)head);
    put32(q, at + 16, (uint32_t)bn);
    return 0;
}

// ---- the binding's entry points ----
//
// ctypes spends about 0.5 us converting the arguments of each call; these
// are Python builtin functions instead (a method table with no module, as
// an extension module would make), called like any other for a tenth of
// that. METH_FASTCALL: the arguments arrive as an array, no tuple made
// (CPython 3.7 and later; part of the stable ABI since 3.10).

enum { METH_FASTCALL = 0x0080 };

typedef PyObject *(*fastcall)(PyObject *, PyObject *const *, Py_ssize_t);

typedef struct {
    const char *name;
    fastcall call;
    int flags;
    const char *doc;
} method_def;

// arity checks a builtin's argument count, with a TypeError if wrong.
static int arity(Py_ssize_t nargs, Py_ssize_t want, const char *message) {
    if (nargs != want) {
        py.ErrSetString(*py.TypeError, message);
        return -1;
    }
    return 0;
}

// integer reads an int argument; -1 and an error set (as Python's own
// converters) on anything else.
static int integer(PyObject *o, long long *v) {
    *v = py.LongAsLongLong(o);
    return *v == -1 && py.ErrOccurred() ? -1 : 0;
}

static int unsigned_integer(PyObject *o, unsigned long long *v) {
    *v = py.LongAsUnsignedLongLong(o);
    return *v == (unsigned long long)-1 && py.ErrOccurred() ? -1 : 0;
}

static PyObject *result(long long rc) {
    return rc == -1 && py.ErrOccurred() ? NULL : py.LongFromLongLong(rc);
}

// respond(id, line, headers, body, flags) -> pco_py_respond's result.
static PyObject *builtin_respond(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned long long id;
    long long flags;
    (void)self;
    if (arity(nargs, 5, "respond(id, line, headers, body, flags)") != 0 ||
        unsigned_integer(args[0], &id) != 0 || integer(args[4], &flags) != 0) {
        return NULL;
    }
    return result(pco_py_respond(id, args[1], args[2], args[3], (int)flags));
}

// ws_send(id, kind, data) -> portico_ws_send_nowait's result; DATA is bytes.
static PyObject *builtin_ws_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned long long id;
    long long kind;
    char *data;
    Py_ssize_t n;
    (void)self;
    if (arity(nargs, 3, "ws_send(id, kind, data)") != 0 || unsigned_integer(args[0], &id) != 0 ||
        integer(args[1], &kind) != 0) {
        return NULL;
    }
    if (py.BytesAsStringAndSize(args[2], &data, &n) != 0) {
        return NULL; // its TypeError stands: data must be bytes
    }
    return py.LongFromLongLong(lib.ws_send_nowait(id, (int)kind, (uint8_t *)data, (size_t)n));
}

// events(batch address, size, out, addrs, root_path) -> the number of
// events appended to OUT (decode). On an error it raises, OUT holding the
// events before the one that failed (all of them if only the count could
// not be made).
static PyObject *builtin_events(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned long long batch, n;
    (void)self;
    if (arity(nargs, 5, "events(batch, size, out, addrs, root_path)") != 0 ||
        unsigned_integer(args[0], &batch) != 0 || unsigned_integer(args[1], &n) != 0) {
        return NULL;
    }
    size_t at = 0;
    int count = decode((const uint8_t *)(uintptr_t)batch, n, &at, args[2], args[3], args[4]);
    return count < 0 ? NULL : py.LongFromLongLong(count);
}

// poll(server handle, buffer address, capacity, out, addrs, root_path,
// pending address): portico_server_poll into the buffer, then, when it
// returned a batch, decode into OUT. Returns what portico_server_poll
// returned (the batch's size). The GIL stays held: the event-mode poll
// never blocks.
//
// PENDING is the caller's two size_t, zero at first, kept with the buffer:
// the offset and the end of a batch not yet all decoded. If decoding fails
// half-way, poll raises, OUT holds the events before the failure (the
// caller delivers them), and PENDING marks the rest of the batch, still in
// the buffer (which the caller leaves alone): the next poll decodes that
// (and returns its end, the batch's size) before asking the library for
// more. So an event the library handed over is delivered exactly once, or
// reported malformed (decode). PENDING is zero again once the batch is done.
static PyObject *builtin_poll(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned long long handle, buf, cap, pending_at;
    (void)self;
    if (arity(nargs, 7, "poll(handle, buffer, capacity, out, addrs, root_path, pending)") != 0 ||
        unsigned_integer(args[0], &handle) != 0 || unsigned_integer(args[1], &buf) != 0 ||
        unsigned_integer(args[2], &cap) != 0 || unsigned_integer(args[6], &pending_at) != 0) {
        return NULL;
    }
    size_t *pending = (size_t *)(uintptr_t)pending_at; // [offset, end]
    if (pending[1] == 0) {
        int64_t n = lib.server_poll((uintptr_t)handle, (uint8_t *)(uintptr_t)buf, cap);
        if (n <= 0) {
            return py.LongFromLongLong(n);
        }
        pending[0] = 0;
        pending[1] = (size_t)n;
    }
    size_t end = pending[1];
    int rc = decode((const uint8_t *)(uintptr_t)buf, end, &pending[0], args[3], args[4], args[5]);
    if (pending[0] >= end) {
        pending[0] = pending[1] = 0;
    }
    return rc < 0 ? NULL : py.LongFromLongLong((long long)end);
}

// queue_of returns the queue in a capsule from new_queue, or NULL with an
// error set.
static buffer *queue_of(PyObject *capsule) { return py.CapsuleGetPointer(capsule, queue_name); }

// new_queue() -> a queue for respond_later and flush.
static PyObject *builtin_new_queue(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    (void)args;
    if (arity(nargs, 0, "new_queue()") != 0) {
        return NULL;
    }
    buffer *q = mem.alloc(sizeof *q);
    if (!q) {
        return py.NoMemory();
    }
    *q = (buffer){NULL, 0, 0, 1};
    PyObject *capsule = py.CapsuleNew(q, queue_name, free_queue);
    if (!capsule) {
        free(q);
    }
    return capsule;
}

// respond_later(queue, id, line, headers, body, flags) -> 0 (queued) or
// PCO_PY_FALLBACK (not queued: a body over LATER_BODY_MAX, or what
// pco_py_respond leaves to the binding).
static PyObject *builtin_respond_later(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned long long id;
    long long flags;
    buffer *q;
    (void)self;
    if (arity(nargs, 6, "respond_later(queue, id, line, headers, body, flags)") != 0 ||
        !(q = queue_of(args[0])) || unsigned_integer(args[1], &id) != 0 || integer(args[5], &flags) != 0) {
        return NULL;
    }
    return result(queue_respond(q, id, args[2], args[3], args[4], (int)flags));
}

// abort_all ends each request of the queue Q with 500 (a request the
// library did answer is finished, and its abort changes nothing).
static void abort_all(const buffer *q) {
    const uint8_t *p = (const uint8_t *)q->p;
    for (size_t at = 0; at <= q->len && q->len - at >= BATCH_RECORD_HEAD;) {
        uint64_t id = le64(p + at);
        at += BATCH_RECORD_HEAD + (size_t)le32(p + at + 12) + le32(p + at + 16);
        lib.abort(id, 500);
    }
}

// flush(queue) -> the list of request ids whose heads the library refused
// (answered 500 instead; at most REFUSED_MAX listed). The queue is emptied.
// If the library refuses the queue itself (used after a fork, malformed,
// an internal error), each of its requests is ended with 500 first, so
// that none waits for an answer that will not come, and flush raises
// ValueError. If the list cannot be made, flush raises MemoryError: the
// answers went out all the same.
static PyObject *builtin_flush(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    buffer *q;
    (void)self;
    if (arity(nargs, 1, "flush(queue)") != 0 || !(q = queue_of(args[0]))) {
        return NULL;
    }
    uint64_t refused[REFUSED_MAX];
    int64_t n = 0;
    if (q->len > 0) {
        n = lib.respond_batch((uint8_t *)q->p, q->len, refused, REFUSED_MAX);
        if (n < 0) {
            abort_all(q);
        }
        q->len = 0;
        if (q->cap > (1 << 20)) { // one huge body: do not keep its room
            free(q->p);
            q->p = NULL;
            q->cap = 0;
        }
    }
    if (n < 0) {
        py.ErrSetString(*py.ValueError, "the library refused the response queue (malformed, used after a fork, "
                                        "or an internal error); its requests were ended with 500");
        return NULL;
    }
    PyObject *ids = py.ListNew((Py_ssize_t)n);
    for (int64_t i = 0; ids && i < n; i++) {
        PyObject *id = py.LongFromUnsignedLongLong(refused[i]);
        if (!id) {
            py.DecRef(ids);
            return NULL;
        }
        py.ListSetItem(ids, (Py_ssize_t)i, id);
    }
    return ids;
}

// inject(allocation, call_kind, call, call_result) -> (allocations, calls,
// with_error): what the doors counted since the last inject(), then arms
// them: the ALLOCATION-th allocation from now fails (MemoryError, or NULL
// from malloc), and the CALL-th call of kind CALL_KIND (CALL_*) into the
// library returns CALL_RESULT without being made; 0 arms nothing. Only
// with PORTICO_PY_TEST_HOOKS (test_doors).
static PyObject *builtin_inject(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long alloc_at, kind, call_at, call_rc;
    (void)self;
    if (arity(nargs, 4, "inject(allocation, call_kind, call, call_result)") != 0 ||
        integer(args[0], &alloc_at) != 0 || integer(args[1], &kind) != 0 || integer(args[2], &call_at) != 0 ||
        integer(args[3], &call_rc) != 0) {
        return NULL;
    }
    PyObject *counts[3] = {real.LongFromLongLong(fault.allocs), real.LongFromLongLong(fault.calls),
                           real.LongFromLongLong(fault.with_error)};
    PyObject *t = real.TupleNew(3);
    for (int i = 0; i < 3; i++) {
        if (t && counts[i]) {
            py.TupleSetItem(t, i, counts[i]);
        } else if (counts[i]) {
            py.DecRef(counts[i]);
        }
    }
    if (!t || !counts[0] || !counts[1] || !counts[2]) {
        if (t) {
            py.DecRef(t);
        }
        return real.ErrOccurred() ? NULL : real.NoMemory();
    }
    fault.allocs = fault.calls = fault.with_error = 0;
    fault.alloc_at = (long)alloc_at;
    fault.call_kind = (int)kind;
    fault.call_at = (long)call_at;
    fault.call_rc = (long)call_rc;
    return t;
}

static method_def inject_def = {"inject", builtin_inject, METH_FASTCALL,
                                 "inject(allocation, call_kind, call, call_result)"};

static method_def methods[] = {
    {"respond", builtin_respond, METH_FASTCALL, "respond(id, line, headers, body, flags)"},
    {"events", builtin_events, METH_FASTCALL, "events(batch, size, out, addrs, root_path)"},
    {"poll", builtin_poll, METH_FASTCALL, "poll(handle, buffer, capacity, out, addrs, root_path, pending)"},
    {"ws_send", builtin_ws_send, METH_FASTCALL, "ws_send(id, kind, data)"},
    {"new_queue", builtin_new_queue, METH_FASTCALL, "new_queue()"},
    {"respond_later", builtin_respond_later, METH_FASTCALL, "respond_later(queue, id, line, headers, body, flags)"},
    {"flush", builtin_flush, METH_FASTCALL, "flush(queue)"},
};

// pco_py_functions stores the builtins above in the dict OUT by name (after
// pco_py_init returned 1). Returns 0, or -1 with an error set.
int pco_py_functions(PyObject *out) {
    size_t count = sizeof methods / sizeof methods[0];
    for (size_t i = 0; i < count + (size_t)doors; i++) {
        method_def *m = i < count ? &methods[i] : &inject_def;
        PyObject *f = py.CFunctionNewEx(m, NULL, NULL);
        if (!f) {
            return -1;
        }
        int rc = py.DictSetItemString(out, m->name, f);
        py.DecRef(f);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}
