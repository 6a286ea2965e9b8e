/* coio/signal.h - asyncio's loop.add_signal_handler / remove_signal_handler.
 *
 * A signal handler here is a loop callback: when the signal arrives, the
 * operating system's handler (a POSIX sigaction handler, or the Windows
 * console control handler, which runs on a thread of its own) only records
 * it and wakes the loop; the callback then runs on the loop's thread, in a
 * ready batch like any other callback. So it may call any coio function,
 * printf, malloc... which a real signal handler may not.
 *
 *   static void ask_exit(coio_loop_t *loop, void *user_data) {
 *     printf("got signal %s: exit\n", (const char *)user_data);
 *     coio_loop_stop(loop);
 *   }
 *   coio_loop_add_signal_handler(loop, SIGINT, ask_exit, "SIGINT");
 *   coio_loop_add_signal_handler(loop, SIGTERM, ask_exit, "SIGTERM");
 *   coio_loop_run_forever(loop);
 *
 * Signal numbers are the platform's own, from <signal.h> (included here),
 * as asyncio takes signal.SIGINT: SIGINT and SIGTERM exist everywhere;
 * SIGHUP, SIGUSR1 and the like only on POSIX, SIGBREAK only on Windows, so
 * portable code writes `#ifdef SIGBREAK`. coio has no numbering of its own:
 * the numbers differ between systems (Windows' SIGBREAK is 21, Linux's
 * SIGTTIN), and a second table would be one more thing to get wrong.
 *
 * Which signals:
 * - POSIX: any signal the process can catch, except the synchronous faults
 *   SIGSEGV, SIGBUS, SIGFPE and SIGILL (returning from their handler runs the
 *   faulting instruction again, so they cannot wait for a loop) and the ones
 *   the C library keeps for itself (glibc's 32 and 33). SIGKILL and SIGSTOP
 *   cannot be caught. Installing a handler overrides SIG_IGN, as asyncio
 *   does (a shell starts background jobs with SIGINT ignored).
 * - Windows, from the console: SIGINT is Ctrl+C (CTRL_C_EVENT), SIGBREAK is
 *   Ctrl+Break (CTRL_BREAK_EVENT), SIGTERM is "the console window is being
 *   closed" (CTRL_CLOSE_EVENT) or "the system is shutting down"
 *   (CTRL_SHUTDOWN_EVENT, seen by services and by console programs that do
 *   not load user32.dll). For those two, Windows ends the process when the
 *   console handler returns, or after a few seconds whatever it does; coio's
 *   console handler keeps waiting (bounded) after the callback ran, so that
 *   the program can stop its loop and finish. CTRL_LOGOFF_EVENT is not a
 *   signal here: services receive it whenever any user logs off, and they
 *   must not stop then. Other numbers give COIO_EINVAL. The C runtime's
 *   raise() does not reach these handlers (on Windows it only calls the
 *   function installed with signal()); to signal yourself, post to the loop
 *   or send a console event (GenerateConsoleCtrlEvent). coio's console
 *   handler is registered on the first add and stays: it passes the events
 *   that have no handler on to the handlers registered before it (the C
 *   runtime's, the default one that ends the process), which is how their
 *   disposition is restored; a console handler registered after it (also
 *   the C runtime's, on the program's first signal(SIGINT, ...)) sees the
 *   events first, as a later sigaction would on POSIX. Windows disables
 *   Ctrl+C in a process started with CREATE_NEW_PROCESS_GROUP; such a
 *   process turns it back on with SetConsoleCtrlHandler(NULL, FALSE).
 *
 * Delivery: a callback means "this signal arrived at least once since the
 * callback was last queued". Several deliveries before the loop looks are
 * coalesced into one call, as POSIX itself coalesces pending instances of a
 * standard signal (coio does it for real-time signals and Windows events
 * too). A signal that arrives while the loop is not running is not lost: the
 * callback runs once the loop runs. After coio_loop_remove_signal_handler
 * returns, the callback is not called again, not even for a signal that had
 * already arrived.
 *
 * Ownership: the process has one disposition per signal, so at most one loop
 * owns a signal at a time; another loop asking for it gets COIO_EBUSY until
 * the owner removes its handler. A loop may own several signals. Closing a
 * loop removes its handlers, restoring the dispositions they replaced.
 *
 * Thread safety: call these from the loop's thread (as every loop function);
 * loops on different threads may add and remove handlers concurrently. The
 * signal itself may arrive on any thread. */
#ifndef COIO_SIGNAL_H
#define COIO_SIGNAL_H

#include <signal.h>

#include "loop.h"

COIO_BEGIN_DECLS

/* Calls cb(loop, user_data) on the loop's thread when signum arrives,
 * replacing this loop's existing handler for signum (the disposition that
 * was there before the first handler stays saved for the removal; a signal
 * that arrived but was not handled yet goes to the new callback). cb and
 * user_data stay the caller's; user_data must stay valid until the handler
 * is removed (or the loop closed).
 * Errors: COIO_EINVAL (NULL loop or cb; signum not a signal of this
 * platform, or one that cannot be handled on a loop, see above),
 * COIO_ECLOSED (the loop is closed), COIO_EBUSY (another loop of the process
 * owns signum), COIO_ENOMEM, or the mapped system error (out of file
 * descriptors, say). On error nothing changed. */
COIO_API int coio_loop_add_signal_handler(coio_loop_t *loop, int signum, coio_callback_t cb,
                                          void *user_data);

/* Removes this loop's handler for signum and, since it was the only one,
 * restores the disposition that was in place before it was added (a
 * handler installed with sigaction or signal, SIG_IGN or SIG_DFL). A
 * signal that arrived but was not yet handled is dropped. Also accepted on
 * a closed, not yet freed, loop. Returns 0, COIO_ENOENT if this loop has no
 * handler for signum (another loop's is left alone), or COIO_EINVAL (NULL
 * loop, signum not a signal of this platform). */
COIO_API int coio_loop_remove_signal_handler(coio_loop_t *loop, int signum);

COIO_END_DECLS

#endif /* COIO_SIGNAL_H */
