/* common/coro_switch_aarch64.S - the stack switch for AArch64 (AAPCS64,
 * Linux), used by coro_asm.c.
 *
 * The invariant. A context that is not running (a suspended coroutine, or
 * the thread that resumed one) is just a stack pointer, sp. Its stack holds,
 * from sp upwards, a 176-byte frame (16-byte aligned, as sp must be):
 *
 *   sp+0    x19 x20
 *   sp+16   x21 x22
 *   sp+32   x23 x24
 *   sp+48   x25 x26
 *   sp+64   x27 x28
 *   sp+80   x29 (frame pointer)  x30 (lr: where the context carries on)
 *   sp+96   d8  d9
 *   sp+112  d10 d11
 *   sp+128  d12 d13
 *   sp+144  d14 d15
 *   sp+160  FPCR (rounding mode, exception traps, flush-to-zero)
 *   sp+168  unused
 *
 * That is everything AAPCS64 asks a called function to preserve: x19-x29,
 * sp (implicitly: it is the handle), the low 64 bits of v8-v15 (d8-d15)
 * and FPCR. x30 is the return address. Every other register is
 * caller-saved (x18, the platform register, is not used by Linux for
 * anything a switch must keep), so the C code that calls coio__coro_switch
 * has already saved what it needs. FPSR (the sticky exception flags) is
 * caller-saved status and is not switched.
 *
 * coio__coro_switch(void **save, void *to) stores that frame on the current
 * stack, stores sp in *save, loads sp from `to`, loads the frame found
 * there and returns into it (through its x30). Writing FPCR can cost a
 * pipeline synchronisation on some cores, so it is written only when the
 * two contexts differ (almost never). A new context is a frame made by
 * coio__coro_init that "returns" into coio__coro_start.
 *
 * Not required here: BTI and pointer authentication (the build does not
 * enable -mbranch-protection). */

#if defined(__aarch64__) && defined(__ELF__) && !defined(__ILP32__)

	.text

/* void coio__coro_switch(void **save, void *to)   x0 = save, x1 = to */
	.globl	coio__coro_switch
	.hidden	coio__coro_switch
	.type	coio__coro_switch, %function
	.p2align 4
coio__coro_switch:
	.cfi_startproc
	sub	sp, sp, #176
	.cfi_def_cfa_offset 176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
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
	.cfi_offset x29, -96
	.cfi_offset x30, -88
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	/* The switch. The frame found at `to` has the same shape, so the
	 * unwind information above stays true on the other stack. */
	mov	x10, sp
	str	x10, [x0]
	mov	sp, x1
	ldr	x10, [sp, #160]
	cmp	x9, x10
	b.eq	1f
	msr	fpcr, x10
1:
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	add	sp, sp, #176
	.cfi_def_cfa_offset 0
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore x29
	.cfi_restore x30
	ret
	.cfi_endproc
	.size	coio__coro_switch, .-coio__coro_switch

/* void *coio__coro_init(void *top, void (*fn)(void *), void *arg)
 *   x0 = top (16-byte aligned), x1 = fn, x2 = arg; returns the new sp.
 * Lays out a frame just below top so that the first switch to it lands in
 * coio__coro_start with x19 = fn, x20 = arg, x29 = 0 (the end of a
 * frame-record walk) and sp = top. The new context inherits the caller's
 * FPCR (as a new thread does). */
	.globl	coio__coro_init
	.hidden	coio__coro_init
	.type	coio__coro_init, %function
	.p2align 4
coio__coro_init:
	.cfi_startproc
	sub	x0, x0, #176
	stp	x1, x2, [x0, #0]	/* x19 = fn, x20 = arg */
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x9, coio__coro_start
	stp	xzr, x9, [x0, #80]	/* x29 = 0, x30 = coio__coro_start */
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	mrs	x9, fpcr
	stp	x9, xzr, [x0, #160]
	ret
	.cfi_endproc
	.size	coio__coro_init, .-coio__coro_init

/* The first code a coroutine runs: fn(arg), which must never return (it
 * ends with a switch away). The return address column is undefined here,
 * which tells debuggers and unwinders that the stack ends. */
	.type	coio__coro_start, %function
	.p2align 4
coio__coro_start:
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x20
	blr	x19
	brk	#1
	.cfi_endproc
	.size	coio__coro_start, .-coio__coro_start

#endif

	.section .note.GNU-stack,"",%progbits
