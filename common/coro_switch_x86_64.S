/* common/coro_switch_x86_64.S - the stack switch for x86-64 System V
 * (Linux), used by coro_asm.c.
 *
 * The invariant. A context that is not running (a suspended coroutine, or
 * the thread that resumed one) is just a stack pointer, sp. Its stack holds,
 * from sp upwards, a 64-byte frame:
 *
 *   sp+0   MXCSR              SSE control (rounding, exception masks,
 *                             FTZ/DAZ) and its sticky exception flags
 *   sp+4   x87 control word   (2 bytes, then 2 unused)
 *   sp+8   r15
 *   sp+16  r14
 *   sp+24  r13
 *   sp+32  r12
 *   sp+40  rbx
 *   sp+48  rbp
 *   sp+56  return address: where the context carries on
 *
 * That is everything the ABI asks a called function to preserve: rbx, rbp,
 * r12-r15, rsp (implicitly: it is the handle), the control bits of MXCSR
 * and the x87 control word. Every other register is caller-saved, so the C
 * code that calls coio__coro_switch has already saved what it needs; the
 * direction flag is clear and the x87 register stack empty at every call
 * (ABI), so they need nothing. MXCSR is saved whole, so each context also
 * keeps its own exception flags, as a thread would.
 *
 * coio__coro_switch(void **save, void *to) pushes that frame on the current
 * stack, stores rsp in *save, loads rsp from `to`, pops the frame found
 * there and returns into it. A new context is a frame made by
 * coio__coro_init that "returns" into coio__coro_start.
 *
 * Not required here: CET shadow stacks and IBT (the build does not enable
 * them; a shadow stack would need one per coroutine). */

#if defined(__x86_64__) && defined(__ELF__) && !defined(__ILP32__)

	.text

/* void coio__coro_switch(void **save, void *to)   rdi = save, rsi = to */
	.globl	coio__coro_switch
	.hidden	coio__coro_switch
	.type	coio__coro_switch, @function
	.p2align 4
coio__coro_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	/* The switch. The frame found at `to` has the same shape, so the
	 * unwind information above stays true on the other stack. */
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
	.size	coio__coro_switch, .-coio__coro_switch

/* void *coio__coro_init(void *top, void (*fn)(void *), void *arg)
 *   rdi = top (16-byte aligned), rsi = fn, rdx = arg; returns the new sp.
 * Lays out a frame just below top so that the first switch to it lands in
 * coio__coro_start with r12 = fn, r13 = arg, rbp = 0 (the end of a
 * frame-pointer walk) and rsp = top. The new context inherits the caller's
 * floating-point control (as a new thread does), not its exception flags. */
	.globl	coio__coro_init
	.hidden	coio__coro_init
	.type	coio__coro_init, @function
	.p2align 4
coio__coro_init:
	.cfi_startproc
	leaq	-64(%rdi), %rax
	stmxcsr	(%rax)
	andl	$~0x3f, (%rax)		/* clear the exception flags */
	fnstcw	4(%rax)
	movw	$0, 6(%rax)
	movq	$0, 8(%rax)		/* r15 */
	movq	$0, 16(%rax)		/* r14 */
	movq	%rdx, 24(%rax)		/* r13 = arg */
	movq	%rsi, 32(%rax)		/* r12 = fn */
	movq	$0, 40(%rax)		/* rbx */
	movq	$0, 48(%rax)		/* rbp */
	leaq	coio__coro_start(%rip), %rcx
	movq	%rcx, 56(%rax)		/* return address */
	ret
	.cfi_endproc
	.size	coio__coro_init, .-coio__coro_init

/* The first code a coroutine runs: fn(arg), which must never return (it
 * ends with a switch away). rsp = top is 16-byte aligned before the call,
 * as the ABI wants. The return address column is undefined here, which
 * tells debuggers and unwinders that the stack ends. */
	.type	coio__coro_start, @function
	.p2align 4
coio__coro_start:
	.cfi_startproc
	.cfi_undefined %rip
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	coio__coro_start, .-coio__coro_start

#endif

	.section .note.GNU-stack,"",@progbits
