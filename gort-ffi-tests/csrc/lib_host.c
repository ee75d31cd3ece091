/* A C host program for gort-ffi-lib (library mode), compiled and run by tests/library_mode.rs.
 *
 * Built two ways:
 *   cc lib_host.c libgort_ffi_lib.a -lpthread -ldl -lm ...      linked against the staticlib
 *   cc -DHOST_DLOPEN lib_host.c -ldl -lpthread                   dlopen()s argv[1], the cdylib
 *
 * It checks that loading the library starts no threads (/proc/self/status Threads before and
 * after dlopen, and 1 at the start of main for the static host), then calls the exported
 * functions from 4 pthreads at once, each several times, and checks every result exactly.
 * Prints key=value lines and "ok"; exit status 0 on success, 1 on a wrong result, 2 on bad
 * usage, 3 if the library cannot be loaded, 4 if loading it started threads, 5 on a pthread
 * error. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HOST_DLOPEN
#include <dlfcn.h>
static uint64_t (*lib_sum)(uint64_t);
static uint64_t (*lib_sum_plain)(uint64_t);
static uint64_t (*lib_extra_threads)(void);
#else
#include "gort_ffi_lib.h"
#define lib_sum gort_ffi_lib_sum
#define lib_sum_plain gort_ffi_lib_sum_plain
#define lib_extra_threads gort_ffi_lib_extra_threads
#endif

#define NTHREADS 4
#define ROUNDS 10

static int threads_now(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Threads:", 8) == 0) {
            n = atoi(line + 8);
            break;
        }
    }
    fclose(f);
    return n;
}

static pthread_barrier_t start_together;

struct worker {
    pthread_t tid;
    int id;
    int errors;
    uint64_t sum;
};

static void *work(void *p) {
    struct worker *w = p;
    pthread_barrier_wait(&start_together);
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t n = 50 + 10 * (uint64_t)w->id + (uint64_t)r;
        uint64_t want = n * (n + 1) * (2 * n + 1) / 6;
        uint64_t got = lib_sum(n);
        uint64_t got_plain = lib_sum_plain(n);
        if (got != want || got_plain != want) {
            fprintf(stderr, "thread %d round %d: n=%llu want %llu, got %llu (callback) %llu (plain)\n",
                    w->id, r, (unsigned long long)n, (unsigned long long)want,
                    (unsigned long long)got, (unsigned long long)got_plain);
            w->errors++;
        }
        w->sum += got;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads_start = threads_now();
#ifdef HOST_DLOPEN
    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/libgort_ffi_lib.so\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 3;
    }
    *(void **)&lib_sum = dlsym(h, "gort_ffi_lib_sum");
    *(void **)&lib_sum_plain = dlsym(h, "gort_ffi_lib_sum_plain");
    *(void **)&lib_extra_threads = dlsym(h, "gort_ffi_lib_extra_threads");
    if (lib_sum == NULL || lib_sum_plain == NULL || lib_extra_threads == NULL) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 3;
    }
#else
    (void)argc;
    (void)argv;
#endif
    int threads_loaded = threads_now();
    printf("threads_start=%d\nthreads_loaded=%d\n", threads_start, threads_loaded);
    fflush(stdout);
    if (threads_loaded != threads_start) {
        fprintf(stderr, "loading the library started %d threads\n", threads_loaded - threads_start);
        return 4;
    }

    struct worker ws[NTHREADS];
    memset(ws, 0, sizeof ws);
    pthread_barrier_init(&start_together, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        ws[i].id = i;
        int err = pthread_create(&ws[i].tid, NULL, work, &ws[i]);
        if (err != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(err));
            return 5;
        }
    }
    int errors = 0;
    uint64_t total = 0;
    for (int i = 0; i < NTHREADS; i++) {
        int err = pthread_join(ws[i].tid, NULL);
        if (err != 0) {
            fprintf(stderr, "pthread_join: %s\n", strerror(err));
            return 5;
        }
        errors += ws[i].errors;
        total += ws[i].sum;
    }
    printf("threads_after_use=%d\nextra_threads=%llu\ntotal=%llu\n", threads_now(),
           (unsigned long long)lib_extra_threads(), (unsigned long long)total);
    if (errors != 0) {
        fprintf(stderr, "%d wrong results\n", errors);
        return 1;
    }
    printf("ok\n");
    return 0;
}
