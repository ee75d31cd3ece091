/* C side of W12_ffi_call and W13_ffi_callback, the same C the Go version of these workloads
 * links: a separate translation unit, so add1 is a real call. The Rust callbacks are passed as
 * function pointers (the Go version names its //export functions). */
#include <pthread.h>

int add1(int x) { return x + 1; }

typedef void (*ffi_cb_value)(void *arg, long long v);
typedef void (*ffi_cb_done)(void *arg);

static pthread_t cb_thread;
static long long cb_n;
static ffi_cb_value cb_value;
static ffi_cb_done cb_done;
static void *cb_arg;

static void *cb_main(void *unused) {
    (void)unused;
    long long n = cb_n;
    for (long long i = 0; i < n; i++) {
        cb_value(cb_arg, i);
    }
    cb_done(cb_arg);
    return NULL;
}

/* W13: start one pthread that calls value(arg, i) for i = 0..n-1 and then done(arg) once.
 * Returns 0 or the pthread_create error number. */
int ffi_cb_start(long long n, ffi_cb_value value, ffi_cb_done done, void *arg) {
    cb_n = n; /* published to the new thread by pthread_create */
    cb_value = value;
    cb_done = done;
    cb_arg = arg;
    return pthread_create(&cb_thread, NULL, cb_main, NULL);
}

/* W13: join the thread started by ffi_cb_start. Returns 0 or the pthread_join error number. */
int ffi_cb_join(void) { return pthread_join(cb_thread, NULL); }
