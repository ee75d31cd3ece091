/* A C function whose frame (1 MiB) is far larger than a goroutine stack (256 KiB by default).
 *
 * build.rs compiles this file with -fstack-clash-protection: the compiler then allocates the
 * frame page by page, touching each page as the stack pointer moves down. Run on a goroutine
 * stack, the first touch below the stack lands in its 64 KiB guard region and gort reports
 * "stack overflow". Without the flag the compiler would move the stack pointer 1 MiB down in
 * one instruction and write there first: the write could skip the guard entirely and land in
 * unrelated memory (silent corruption, or a SIGSEGV gort cannot attribute to the goroutine). */
#include <stddef.h>

#include "fft.h"

#define PAGE 4096
#define FRAME (1 << 20)

int64_t fft_big_frame(int64_t seed) {
    volatile unsigned char buf[FRAME];
    for (size_t i = 0; i < FRAME; i += PAGE) {
        buf[i] = (unsigned char)(seed + (int64_t)(i / PAGE));
    }
    int64_t sum = 0;
    for (size_t i = 0; i < FRAME; i += PAGE) {
        sum += buf[i];
    }
    return sum;
}
