/* uint64_t fft_regs_across(uint64_t seed, uint32_t fpc, uint32_t fpc2, fft_cb_void cb,
 *                          void *arg)        (AArch64 AAPCS64; see fft.h)
 *
 * Keeps seed+0..9 in x19-x28, seed+10..17 in d8-d15 and `fpc` in FPCR across the call cb(arg)
 * (`fpc2` is unused here), then returns a mask of what changed: bits 0-9 x19-x28, bits 10-17
 * d8-d15, bit 18 FPCR. The caller's values of all of them are restored before returning.
 *
 * Frame (192 bytes; sp stays 16-byte aligned):
 *   [sp+0]   x29, x30        [sp+16..95]  x19-x28     [sp+96..159] d8-d15
 *   [sp+160] caller's FPCR   [sp+168] seed            [sp+176] FPCR as loaded (read back, so
 *                                                              reserved bits match)
 */
    .text
    .globl fft_regs_across
    .type fft_regs_across, %function
fft_regs_across:
    .cfi_startproc
    stp x29, x30, [sp, #-192]!
    .cfi_def_cfa_offset 192
    .cfi_offset x29, -192
    .cfi_offset x30, -184
    mov x29, sp
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    .cfi_offset x19, -176
    .cfi_offset x20, -168
    .cfi_offset x21, -160
    .cfi_offset x22, -152
    .cfi_offset x23, -144
    .cfi_offset x24, -136
    .cfi_offset x25, -128
    .cfi_offset x26, -120
    .cfi_offset x27, -112
    .cfi_offset x28, -104

    mrs x9, fpcr
    str x9, [sp, #160]
    str x0, [sp, #168]
    mov w9, w1
    msr fpcr, x9
    mrs x9, fpcr
    str x9, [sp, #176]

    mov x19, x0
    add x20, x0, #1
    add x21, x0, #2
    add x22, x0, #3
    add x23, x0, #4
    add x24, x0, #5
    add x25, x0, #6
    add x26, x0, #7
    add x27, x0, #8
    add x28, x0, #9
    add x9, x0, #10
    fmov d8, x9
    add x9, x0, #11
    fmov d9, x9
    add x9, x0, #12
    fmov d10, x9
    add x9, x0, #13
    fmov d11, x9
    add x9, x0, #14
    fmov d12, x9
    add x9, x0, #15
    fmov d13, x9
    add x9, x0, #16
    fmov d14, x9
    add x9, x0, #17
    fmov d15, x9
    mov x0, x4
    blr x3

    mov x0, #0
    ldr x1, [sp, #168]
    cmp x19, x1
    b.eq 100f
    orr x0, x0, #1
100:
    add x9, x1, #1
    cmp x20, x9
    b.eq 101f
    orr x0, x0, #2
101:
    add x9, x1, #2
    cmp x21, x9
    b.eq 102f
    orr x0, x0, #4
102:
    add x9, x1, #3
    cmp x22, x9
    b.eq 103f
    orr x0, x0, #8
103:
    add x9, x1, #4
    cmp x23, x9
    b.eq 104f
    orr x0, x0, #16
104:
    add x9, x1, #5
    cmp x24, x9
    b.eq 105f
    orr x0, x0, #32
105:
    add x9, x1, #6
    cmp x25, x9
    b.eq 106f
    orr x0, x0, #64
106:
    add x9, x1, #7
    cmp x26, x9
    b.eq 107f
    orr x0, x0, #128
107:
    add x9, x1, #8
    cmp x27, x9
    b.eq 108f
    orr x0, x0, #256
108:
    add x9, x1, #9
    cmp x28, x9
    b.eq 109f
    orr x0, x0, #512
109:
    add x9, x1, #10
    fmov x10, d8
    cmp x10, x9
    b.eq 200f
    orr x0, x0, #1024
200:
    add x9, x1, #11
    fmov x10, d9
    cmp x10, x9
    b.eq 201f
    orr x0, x0, #2048
201:
    add x9, x1, #12
    fmov x10, d10
    cmp x10, x9
    b.eq 202f
    orr x0, x0, #4096
202:
    add x9, x1, #13
    fmov x10, d11
    cmp x10, x9
    b.eq 203f
    orr x0, x0, #8192
203:
    add x9, x1, #14
    fmov x10, d12
    cmp x10, x9
    b.eq 204f
    orr x0, x0, #16384
204:
    add x9, x1, #15
    fmov x10, d13
    cmp x10, x9
    b.eq 205f
    orr x0, x0, #32768
205:
    add x9, x1, #16
    fmov x10, d14
    cmp x10, x9
    b.eq 206f
    orr x0, x0, #65536
206:
    add x9, x1, #17
    fmov x10, d15
    cmp x10, x9
    b.eq 207f
    orr x0, x0, #131072
207:
    mrs x9, fpcr
    ldr x10, [sp, #176]
    cmp x9, x10
    b.eq 300f
    orr x0, x0, #(1 << 18)
300:
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp d14, d15, [sp, #144]
    ldp d12, d13, [sp, #128]
    ldp d10, d11, [sp, #112]
    ldp d8, d9, [sp, #96]
    ldp x27, x28, [sp, #80]
    ldp x25, x26, [sp, #64]
    ldp x23, x24, [sp, #48]
    ldp x21, x22, [sp, #32]
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #192
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size fft_regs_across, . - fft_regs_across

    .section .note.GNU-stack, "", %progbits
