/* C threads and C frames that call Rust back; see fft.h. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "fft.h"

int fft_sleep_us(uint32_t us) {
    usleep(us);
    return 0;
}

struct cb_thread {
    pthread_t tid;
    int64_t first, iters, done;
    fft_cb_i64 cb;
    void *arg;
};

static void *cb_thread_main(void *p) {
    struct cb_thread *t = p;
    for (int64_t i = 0; i < t->iters; i++) {
        t->cb(t->arg, t->first + i);
        t->done++;
    }
    return NULL;
}

int fft_threads_callback(int nthreads, int64_t iters, fft_cb_i64 cb, void *arg, int64_t *done) {
    struct cb_thread *ts = calloc((size_t)nthreads, sizeof *ts);
    if (ts == NULL) {
        return -1;
    }
    int err = 0, started = 0;
    for (int i = 0; i < nthreads; i++) {
        ts[i].first = (int64_t)i * iters;
        ts[i].iters = iters;
        ts[i].cb = cb;
        ts[i].arg = arg;
        err = pthread_create(&ts[i].tid, NULL, cb_thread_main, &ts[i]);
        if (err != 0) {
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        int e = pthread_join(ts[i].tid, NULL);
        if (err == 0) {
            err = e;
        }
        *done += ts[i].done;
    }
    free(ts);
    return err;
}

int64_t fft_call_back(fft_cb_ret cb, void *arg, int64_t x) {
    int64_t r = cb(arg, x);
    return 2 * r + 1;
}

struct ret_thread {
    fft_cb_ret cb;
    void *arg;
    int64_t x, out;
    size_t altstack;
};

static void *ret_thread_main(void *p) {
    struct ret_thread *t = p;
    if (t->altstack > 0) {
        stack_t st = {.ss_sp = malloc(t->altstack), .ss_flags = 0, .ss_size = t->altstack};
        if (st.ss_sp == NULL || sigaltstack(&st, NULL) != 0) {
            t->out = -1;
            return NULL;
        }
    }
    t->out = t->cb(t->arg, t->x);
    return NULL;
}

int fft_on_pthread(fft_cb_ret cb, void *arg, int64_t x, int64_t *out) {
    return fft_on_pthread_altstack(cb, arg, x, out, 0);
}

int fft_on_pthread_altstack(fft_cb_ret cb, void *arg, int64_t x, int64_t *out, size_t altstack) {
    struct ret_thread t = {cb, arg, x, 0, altstack};
    pthread_t tid;
    int err = pthread_create(&tid, NULL, ret_thread_main, &t);
    if (err != 0) {
        return err;
    }
    err = pthread_join(tid, NULL);
    *out = t.out;
    return err;
}

struct regs_thread {
    uint64_t seed;
    uint32_t fpc, fpc2;
    fft_cb_void cb;
    void *arg;
    int rounds;
    uint64_t mask;
};

static void *regs_thread_main(void *p) {
    struct regs_thread *t = p;
    for (int r = 0; r < t->rounds; r++) {
        t->mask |= fft_regs_across(t->seed + (uint64_t)r, t->fpc, t->fpc2, t->cb, t->arg);
    }
    return NULL;
}

uint64_t fft_regs_on_pthread(uint64_t seed, uint32_t fpc, uint32_t fpc2, fft_cb_void cb,
                             void *arg, int rounds) {
    struct regs_thread t = {seed, fpc, fpc2, cb, arg, rounds, 0};
    pthread_t tid;
    int err = pthread_create(&tid, NULL, regs_thread_main, &t);
    if (err == 0) {
        err = pthread_join(tid, NULL);
    }
    if (err != 0) {
        return (UINT64_C(1) << 63) | (uint64_t)err;
    }
    return t.mask;
}
