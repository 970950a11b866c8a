// Fork detection. The Go runtime does not survive fork(): a child that calls
// into it can hang forever. pthread_atfork marks the child at the moment of
// the fork, before any Go code could run there, and every export checks the
// mark first (a plain memory load, cheaper than getpid()).
#include <pthread.h>

__attribute__((visibility("hidden"))) volatile int pco_forked = 0;

static void pco_mark_child(void) { pco_forked = 1; }

__attribute__((constructor)) static void pco_register_atfork(void) {
    pthread_atfork(0, 0, pco_mark_child);
}
