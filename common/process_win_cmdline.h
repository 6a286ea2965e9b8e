/* common/process_win_cmdline.h - the strings CreateProcessW needs, built
 * from coio's UTF-8 arguments (process_win_cmdline.c): the command line
 * (the C runtime's quoting rules, verbatim, cmd.exe for shell mode and for
 * batch files), the environment block, the program's path. Windows only;
 * shared by process_win.c and tests/test_process_win.c.
 *
 * Every function returns 0 and a malloc'd, NUL-terminated UTF-16 string in
 * *out (free it), or a COIO_E* code and *out == NULL. */
#ifndef COIO_COMMON_PROCESS_WIN_CMDLINE_H
#define COIO_COMMON_PROCESS_WIN_CMDLINE_H

#include <stddef.h>
#include <wchar.h>

/* CreateProcessW's limit on lpCommandLine, counting the terminating NUL. */
#define COIO__WIN_CMDLINE_MAX 32767

/* UTF-8 to UTF-16. WTF-8 is accepted (an encoded lone surrogate becomes that
 * surrogate, so any Windows string round-trips); anything else that is not
 * UTF-8 (stray bytes, overlong forms, beyond U+10FFFF) is COIO_EINVAL. */
int coio__win_utf16(const char *s, wchar_t **out);

/* argv (NULL-terminated, at least argv[0]) as one command line by the
 * Microsoft C runtime's rules (what CommandLineToArgvW and the CRT's argv
 * parse back): an argument with no space, tab, newline, vertical tab or
 * double quote and not empty goes as it is; otherwise in double quotes,
 * with backslashes doubled where they precede a quote (the closing one
 * too) and each quote escaped as \". argv[0] is parsed without escapes (up
 * to the next quote), so it is only put in quotes; one containing a quote
 * is COIO_EINVAL. verbatim: the arguments joined with single spaces, as
 * they are. Longer than COIO__WIN_CMDLINE_MAX: COIO_ERANGE. */
int coio__win_cmdline(const char *const *argv, int verbatim, wchar_t **out);

/* Shell mode: `"<comspec>" /d /s /c "<cmd>"`. A cmd containing CR or LF is
 * COIO_EINVAL (cmd.exe would end the command there). */
int coio__win_shell_cmdline(const wchar_t *comspec, const char *cmd, wchar_t **out);

/* A batch file (.bat/.cmd) run in exec mode, explicitly through cmd.exe:
 * `"<comspec>" /d /e:ON /v:OFF /s /c ""<bat>" <args>"`, argv[1..] made safe
 * against cmd.exe's re-parsing (BatBadBut, CVE-2024-24576; see the .c
 * file): COIO_EINVAL for an argument cmd.exe would interpret. */
int coio__win_batch_cmdline(const wchar_t *comspec, const wchar_t *bat, const char *const *argv,
                            int verbatim, wchar_t **out);

/* The environment block for CREATE_UNICODE_ENVIRONMENT: env ("NAME=value",
 * NULL-terminated) alone, or (extend) merged into the parent's environment
 * (a name given replaces the parent's, names compared case-insensitively;
 * within env the last of equal names wins). Without extend, the parent's
 * SYSTEMROOT is added when env has none (Windows programs need it). Sorted
 * by name case-insensitively, as Windows expects. An entry without '=' or
 * with an empty name is COIO_EINVAL. */
int coio__win_env_block(const char *const *env, int extend, wchar_t **out);

/* The full path of the program argv0 names. With a directory part (\, / or
 * a drive), that file (relative to cwd if given and the path is relative),
 * trying the executable extensions when it has none. Without one, searched
 * in PATH (the PATH env sets if it sets one, else the parent's), then the
 * system and Windows directories; never in the current directory. The
 * extensions tried are PATHEXT's executable ones (.COM, .EXE, .BAT, .CMD,
 * in PATHEXT's order). COIO_ENOENT if nothing is found, COIO_EACCES for a
 * directory. */
int coio__win_find_program(const char *argv0, const char *const *env, const wchar_t *cwd,
                           wchar_t **out);

/* %COMSPEC% if set, else the system directory's cmd.exe. */
int coio__win_comspec(wchar_t **out);

/* 1 if path names a batch file (.bat or .cmd, ignoring the trailing dots
 * and spaces and the ::$DATA stream name Windows ignores too). */
int coio__win_is_batch(const wchar_t *path);

#endif
