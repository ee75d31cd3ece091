/* gort-ffi-lib: a C-callable library built on gort (libgort_ffi_lib.a / libgort_ffi_lib.so).
 * No init call is needed; every function may be called from any thread, concurrently. Link the
 * static library with -lpthread -ldl -lm (and -lgcc_s on some systems). */
#ifndef GORT_FFI_LIB_H
#define GORT_FFI_LIB_H

#include <stdint.h>

/* The sum of i*i for i in 1..=n, computed by n goroutines over channels (entering the runtime
 * through gort::ffi::callback). */
uint64_t gort_ffi_lib_sum(uint64_t n);
/* The same, with the calling thread left a plain thread that blocks on gort primitives. */
uint64_t gort_ffi_lib_sum_plain(uint64_t n);
/* Extra Ms created so far (threads that entered through gort::ffi::callback). */
uint64_t gort_ffi_lib_extra_threads(void);

#endif
