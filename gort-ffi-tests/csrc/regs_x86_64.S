/* uint64_t fft_regs_across(uint64_t seed, uint32_t fpc, uint32_t fpc2, fft_cb_void cb,
 *                          void *arg)        (x86-64 System V; see fft.h)
 *
 * Keeps known values in every callee-saved general register (rbx, rbp, r12-r15), a given MXCSR
 * (`fpc`) and a given x87 control word (`fpc2`) across the call cb(arg), then returns a mask of what changed:
 * bit 0 rbx, 1 rbp, 2 r12, 3 r13, 4 r14, 5 r15, 6 MXCSR control bits, 7 x87 control word.
 * The caller's values of all of them are restored before returning.
 *
 * Frame (after the six pushes and `sub rsp, 40`; rsp is 16-byte aligned at the call):
 *   [rsp+0]  caller's MXCSR      [rsp+4]  caller's x87 CW
 *   [rsp+8]  seed
 *   [rsp+16] MXCSR as loaded     [rsp+20] x87 CW as loaded   (read back, so reserved bits match)
 *   [rsp+24] MXCSR after cb      [rsp+28] x87 CW after cb
 */
    .intel_syntax noprefix
    .text
    .globl fft_regs_across
    .type fft_regs_across, @function
fft_regs_across:
    .cfi_startproc
    push rbp
    .cfi_adjust_cfa_offset 8
    .cfi_offset rbp, -16
    push rbx
    .cfi_adjust_cfa_offset 8
    .cfi_offset rbx, -24
    push r12
    .cfi_adjust_cfa_offset 8
    .cfi_offset r12, -32
    push r13
    .cfi_adjust_cfa_offset 8
    .cfi_offset r13, -40
    push r14
    .cfi_adjust_cfa_offset 8
    .cfi_offset r14, -48
    push r15
    .cfi_adjust_cfa_offset 8
    .cfi_offset r15, -56
    sub rsp, 40
    .cfi_adjust_cfa_offset 40

    stmxcsr [rsp]
    fnstcw [rsp + 4]
    mov [rsp + 8], rdi
    mov [rsp + 16], esi
    mov [rsp + 20], dx
    ldmxcsr [rsp + 16]
    fldcw [rsp + 20]
    stmxcsr [rsp + 16]
    fnstcw [rsp + 20]

    mov rax, rcx
    mov rbx, rdi
    lea rbp, [rdi + 1]
    lea r12, [rdi + 2]
    lea r13, [rdi + 3]
    lea r14, [rdi + 4]
    lea r15, [rdi + 5]
    mov rdi, r8
    call rax

    stmxcsr [rsp + 24]
    fnstcw [rsp + 28]
    xor eax, eax
    mov rcx, [rsp + 8]
    cmp rbx, rcx
    je 1f
    or eax, 1
1:  lea rdx, [rcx + 1]
    cmp rbp, rdx
    je 2f
    or eax, 2
2:  lea rdx, [rcx + 2]
    cmp r12, rdx
    je 3f
    or eax, 4
3:  lea rdx, [rcx + 3]
    cmp r13, rdx
    je 4f
    or eax, 8
4:  lea rdx, [rcx + 4]
    cmp r14, rdx
    je 5f
    or eax, 16
5:  lea rdx, [rcx + 5]
    cmp r15, rdx
    je 6f
    or eax, 32
6:  mov edx, [rsp + 24]
    xor edx, [rsp + 16]
    and edx, 0xFFC0
    jz 7f
    or eax, 64
7:  movzx edx, word ptr [rsp + 28]
    movzx ecx, word ptr [rsp + 20]
    cmp edx, ecx
    je 8f
    or eax, 128
8:  ldmxcsr [rsp]
    fldcw [rsp + 4]
    add rsp, 40
    .cfi_adjust_cfa_offset -40
    pop r15
    .cfi_adjust_cfa_offset -8
    pop r14
    .cfi_adjust_cfa_offset -8
    pop r13
    .cfi_adjust_cfa_offset -8
    pop r12
    .cfi_adjust_cfa_offset -8
    pop rbx
    .cfi_adjust_cfa_offset -8
    pop rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size fft_regs_across, . - fft_regs_across

    .section .note.GNU-stack, "", @progbits
