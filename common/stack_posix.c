/* common/stack_posix.c - coroutine stacks on POSIX: one mmap per stack with
 * a guard region below it, lazily committed, pooled per loop.
 *
 *   alloc                base                              base + size
 *   | guard (no access)  | usable stack, grows downwards  <- top |
 *
 * Lazily committed: MAP_NORESERVE, so a 256 KiB stack costs the pages a
 * task has touched, not 256 KiB (nor commit charge). MAP_STACK, a hint
 * that (Linux 6.7+) also keeps transparent huge pages off stacks.
 *
 * The guard: a stack overflow must fault at once, not write into whatever
 * is mapped below (often another task's stack). It is 64 KiB, not one page,
 * so that a function with a large frame (a big local array) that skips
 * part of the guard still lands in it; it costs address space only.
 * Two ways to make it (../shared/PITFALLS.md section 6):
 *   - madvise(MADV_GUARD_INSTALL) (Linux 6.13+): guard markers in the page
 *     tables. The stack stays one mapping, and the kernel merges adjacent
 *     stacks into one entry of /proc/self/maps, so the number of tasks is
 *     not limited by vm.max_map_count.
 *   - mprotect(PROT_NONE) otherwise: the guard is a mapping of its own and
 *     splits the stack's, two mappings per stack, so about 32,000 live
 *     stacks exhaust vm.max_map_count = 65,530. mmap or mprotect then fail
 *     with ENOMEM and the spawn fails with COIO_ENOMEM, nothing crashes.
 * Which one the kernel has is learnt at the first stack (EINVAL from
 * madvise: an older kernel, or a mapping it refuses, e.g. after
 * mlockall; or a guard that does not fault) and remembered for the
 * process.
 *
 * The pool keeps up to POOL_MAX stacks per loop, matched by exact size (a
 * loop's tasks mostly share one size); a reused stack keeps its touched
 * pages, so a warm task costs no system call and no page fault. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coio/error.h"
#include "coro_sanitizer.h"
#include "stack.h"
#include "sys.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; glibc 2.36 has no name for it */
#endif
#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif

#define POOL_MAX 64
#define GUARD_BYTES (64u * 1024u)

struct coio__stack_pool {
  coio__stack_t free[POOL_MAX];
  size_t nfree;
};

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };
/* What this process's kernel supports; atomic because loops on different
 * threads make stacks concurrently (both may probe: harmless). */
static coio__atomic_int guard_mode;

int coio__stack_pool_new(coio__stack_pool_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : COIO_ENOMEM;
}

void coio__stack_pool_free(coio__stack_pool_t *pool) {
  size_t i;
  if (!pool)
    return;
  for (i = 0; i < pool->nfree; i++)
    munmap(pool->free[i].alloc, pool->free[i].alloc_size);
  free(pool);
}

static size_t page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

#ifdef __linux__
/* 1 if reading p faults, asked without faulting: a system call that reads
 * a guard region fails with EFAULT. Checked once, because an emulator
 * (qemu-user) accepts madvise advice it does not know and does nothing. */
static int guard_faults(const void *p) {
  int fds[2], faults;
  if (pipe2(fds, O_CLOEXEC) != 0)
    return 1; /* cannot tell: trust the kernel's answer */
  faults = write(fds[1], p, 1) < 0 && errno == EFAULT;
  close(fds[0]);
  close(fds[1]);
  return faults;
}
#endif

/* Makes [p, p + len) inaccessible; 0 or -1. */
static int install_guard(void *p, size_t len) {
#ifdef __linux__
  int mode = coio__atomic_load(&guard_mode);
  if (mode != GUARD_MPROTECT) {
    if (madvise(p, len, MADV_GUARD_INSTALL) == 0) {
      if (mode == GUARD_MADVISE)
        return 0;
      if (guard_faults(p)) {
        coio__atomic_store(&guard_mode, GUARD_MADVISE);
        return 0;
      }
    } else if (errno != EINVAL) {
      return -1; /* ENOMEM (page tables) or the like: a real failure */
    }
    coio__atomic_store(&guard_mode, GUARD_MPROTECT);
  }
#endif
  return mprotect(p, len, PROT_NONE);
}

static int stack_map(size_t size, coio__stack_t *out) {
  size_t page = page_size();
  size_t guard = round_up(GUARD_BYTES, page);
  size_t len = guard + size;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED)
    return COIO_ENOMEM;
  if (install_guard(p, guard) != 0) {
    munmap(p, len);
    return COIO_ENOMEM;
  }
  out->alloc = p;
  out->alloc_size = len;
  out->base = (char *)p + guard;
  out->size = size;
  return 0;
}

int coio__stack_get(coio__stack_pool_t *pool, size_t size, coio__stack_t *out) {
  size_t i, page = page_size();
  int rc;
  if (size == 0)
    size = COIO__DEFAULT_STACK_SIZE;
  if (size < COIO__MIN_STACK_SIZE)
    size = COIO__MIN_STACK_SIZE;
  if (size > SIZE_MAX / 4)
    return COIO_ENOMEM;
  size = round_up(size, page);
  for (i = pool->nfree; i-- > 0;) {
    if (pool->free[i].size == size) {
      *out = pool->free[i];
      pool->free[i] = pool->free[--pool->nfree];
      coio__san_fresh_stack(out->base, out->size);
      return 0;
    }
  }
  if ((rc = stack_map(size, out)) != 0)
    return rc;
  /* Fresh pages, but ASan may remember poison from an earlier mapping at
   * the same address. */
  coio__san_fresh_stack(out->base, out->size);
  return 0;
}

void coio__stack_put(coio__stack_pool_t *pool, coio__stack_t *stack) {
  if (pool->nfree < POOL_MAX)
    pool->free[pool->nfree++] = *stack;
  else
    munmap(stack->alloc, stack->alloc_size);
}
