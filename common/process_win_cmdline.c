/* common/process_win_cmdline.c - command lines, environment blocks and the
 * program's path for CreateProcessW (see process_win_cmdline.h).
 *
 * Quoting follows the Microsoft C runtime's parser (the rules documented as
 * "Parsing C command-line arguments", which CommandLineToArgvW shares for
 * everything after argv[0]): backslashes are literal unless they precede a
 * double quote; 2n backslashes + quote are n backslashes and a delimiter,
 * 2n+1 backslashes + quote are n backslashes and a literal quote. So inside
 * quotes we double each run of backslashes that precedes a quote (the
 * closing one included) and escape the quote itself. The quoting is done on
 * the UTF-8 bytes (every byte it looks at is ASCII, which never occurs
 * inside a multi-byte UTF-8 sequence), then the line is converted once.
 *
 * Batch files and BatBadBut (CVE-2024-24576). CreateProcess runs a .bat or
 * .cmd through cmd.exe, which parses the command line again by its own
 * rules: it expands %VAR% everywhere (inside quotes too), !VAR! under
 * delayed expansion, and treats & | < > ^ ( ) as operators outside quotes,
 * with a quote toggling its "inside quotes" state. An argument quoted for
 * the C runtime (\" inside) can therefore end cmd's quoted section and
 * inject a command. No escaping is right for both parsers, so coio runs
 * batch files through cmd.exe explicitly (`/d` no AutoRun, `/e:ON`,
 * `/v:OFF` no delayed expansion whatever the registry says, `/s /c` so the
 * outer quotes are stripped predictably) and:
 *   - refuses (COIO_EINVAL) an argument containing %, !, a double quote, CR
 *     or LF: cmd.exe would expand the first two and a quote would change
 *     its quoting state; a line break ends the command. (Rust's fix escapes
 *     some of these with tricks that depend on cmd.exe internals; refusing is
 *     simpler to verify, and such arguments are rare for batch files.)
 *   - puts every other argument containing anything but letters, digits,
 *     non-ASCII text and -_.:/\+~#$*?[]{}' in double quotes, so & | < > ^ ( )
 *     , ; = space and tab are literal to cmd.exe. No quote can occur inside,
 *     so cmd's quoting state is always ours. A run of backslashes before the
 *     closing quote is doubled (the C runtime's rule), so a batch file that
 *     passes %* on to a C program hands it the same argument.
 *   - refuses a batch path containing % or a quote, and argv[0] is replaced
 *     by the path that was found.
 * COIO_PROCESS_VERBATIM_ARGS opts out (as Rust's raw_arg does): the
 * arguments are joined as given, only CR/LF is refused. The batch file
 * itself still sees its arguments through cmd.exe: %1 keeps the quotes
 * (use %~1). */
#include <windows.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "process_win_cmdline.h"

/* ---- growable buffers ---------------------------------------------------------- */

typedef struct sbuf { /* bytes (UTF-8) */
  char *p;
  size_t len, cap;
  int err;
} sbuf_t;

typedef struct wbuf { /* UTF-16 */
  wchar_t *p;
  size_t len, cap;
  int err;
} wbuf_t;

/* Makes room for need elements: 0, or COIO_ENOMEM (*p unchanged). */
static int grow(void *pp, size_t *cap, size_t need, size_t elem) {
  size_t ncap = *cap ? *cap : 64;
  void *n, *old;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2 / elem)
      return COIO_ENOMEM;
    ncap *= 2;
  }
  if (ncap == *cap)
    return 0;
  memcpy(&old, pp, sizeof old); /* pp points to a T *: copied, not type-punned */
  n = realloc(old, ncap * elem);
  if (!n)
    return COIO_ENOMEM;
  memcpy(pp, &n, sizeof n);
  *cap = ncap;
  return 0;
}

static void sb_putn(sbuf_t *b, const char *s, size_t n) {
  int rc;
  if (b->err)
    return;
  if ((rc = grow(&b->p, &b->cap, b->len + n + 1, 1)) != 0) {
    b->err = rc;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void sb_putc(sbuf_t *b, char c) { sb_putn(b, &c, 1); }

static void sb_rep(sbuf_t *b, char c, size_t n) {
  while (n--)
    sb_putc(b, c);
}

static void wb_putn(wbuf_t *b, const wchar_t *s, size_t n) {
  int rc;
  if (b->err)
    return;
  if ((rc = grow(&b->p, &b->cap, b->len + n + 1, sizeof(wchar_t))) != 0) {
    b->err = rc;
    return;
  }
  memcpy(b->p + b->len, s, n * sizeof(wchar_t));
  b->len += n;
  b->p[b->len] = 0;
}

static void wb_puts(wbuf_t *b, const wchar_t *s) { wb_putn(b, s, wcslen(s)); }
static void wb_putc(wbuf_t *b, wchar_t c) { wb_putn(b, &c, 1); }

/* ---- UTF-8 / WTF-8 -> UTF-16 ----------------------------------------------------- */

static void wb_utf8(wbuf_t *b, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p && !b->err) {
    uint32_t c = *p++, min;
    int n, i;
    if (c < 0x80) {
      wb_putc(b, (wchar_t)c);
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      c &= 0x1F, n = 1, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      c &= 0x0F, n = 2, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      c &= 0x07, n = 3, min = 0x10000;
    } else {
      b->err = COIO_EINVAL;
      return;
    }
    for (i = 0; i < n; i++) {
      if ((*p & 0xC0) != 0x80) { /* also stops at the terminating NUL */
        b->err = COIO_EINVAL;
        return;
      }
      c = c << 6 | (uint32_t)(*p++ & 0x3F);
    }
    if (c < min || c > 0x10FFFF) {
      b->err = COIO_EINVAL;
      return;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      wb_putc(b, (wchar_t)(0xD800 | (c >> 10)));
      wb_putc(b, (wchar_t)(0xDC00 | (c & 0x3FF)));
    } else {
      wb_putc(b, (wchar_t)c); /* a lone surrogate (WTF-8) included */
    }
  }
}

/* Hands the buffer over as *out, or frees it and returns its error. */
static int wb_finish(wbuf_t *b, wchar_t **out) {
  if (!b->err && !b->p)
    wb_putn(b, L"", 0);
  if (b->err) {
    free(b->p);
    *out = NULL;
    return b->err;
  }
  *out = b->p;
  return 0;
}

int coio__win_utf16(const char *s, wchar_t **out) {
  wbuf_t b = {0};
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!s)
    return COIO_EINVAL;
  wb_utf8(&b, s);
  return wb_finish(&b, out);
}

/* ---- command lines --------------------------------------------------------------- */

static int has_any(const char *s, const char *set) { return strpbrk(s, set) != NULL; }

/* One argument (not argv[0]) by the C runtime's rules. */
static void quote_crt(sbuf_t *b, const char *a) {
  size_t bs = 0;
  if (*a && !has_any(a, " \t\n\v\"")) {
    sb_putn(b, a, strlen(a));
    return;
  }
  sb_putc(b, '"');
  for (; *a; a++) {
    if (*a == '\\') {
      bs++;
      continue;
    }
    if (*a == '"') {
      sb_rep(b, '\\', 2 * bs + 1);
    } else {
      sb_rep(b, '\\', bs);
    }
    sb_putc(b, *a);
    bs = 0;
  }
  sb_rep(b, '\\', 2 * bs);
  sb_putc(b, '"');
}

/* The UTF-8 line in b converted and appended to w, with the length check. */
static void append_utf8(wbuf_t *w, sbuf_t *b) {
  if (b->err) {
    if (!w->err)
      w->err = b->err;
  } else if (b->p) {
    wb_utf8(w, b->p);
  }
  free(b->p);
  b->p = NULL;
}

static int finish_cmdline(wbuf_t *w, wchar_t **out) {
  if (!w->err && w->len + 1 > COIO__WIN_CMDLINE_MAX)
    w->err = COIO_ERANGE;
  return wb_finish(w, out);
}

int coio__win_cmdline(const char *const *argv, int verbatim, wchar_t **out) {
  sbuf_t b = {0};
  wbuf_t w = {0};
  size_t i;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!argv || !argv[0])
    return COIO_EINVAL;
  for (i = 0; argv[i]; i++) {
    const char *a = argv[i];
    if (i > 0)
      sb_putc(&b, ' ');
    if (verbatim) {
      sb_putn(&b, a, strlen(a));
    } else if (i == 0) {
      /* Parsed up to the next quote, no escapes: a quote cannot be said. */
      if (strchr(a, '"')) {
        free(b.p);
        return COIO_EINVAL;
      }
      if (!*a || has_any(a, " \t\n\v")) {
        sb_putc(&b, '"');
        sb_putn(&b, a, strlen(a));
        sb_putc(&b, '"');
      } else {
        sb_putn(&b, a, strlen(a));
      }
    } else {
      quote_crt(&b, a);
    }
  }
  append_utf8(&w, &b);
  return finish_cmdline(&w, out);
}

int coio__win_shell_cmdline(const wchar_t *comspec, const char *cmd, wchar_t **out) {
  wbuf_t w = {0};
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!comspec || !cmd || wcschr(comspec, L'"') || has_any(cmd, "\r\n"))
    return COIO_EINVAL;
  wb_putc(&w, L'"');
  wb_puts(&w, comspec);
  wb_puts(&w, L"\" /d /s /c \"");
  wb_utf8(&w, cmd);
  wb_putc(&w, L'"');
  return finish_cmdline(&w, out);
}

/* Characters that need no quotes for cmd.exe (bytes >= 0x80 are text). */
static int bat_safe(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("-_.:/\\+~#$*?[]{}'", c) != NULL);
}

static void quote_bat(sbuf_t *b, const char *a) {
  const unsigned char *p = (const unsigned char *)a;
  size_t n = strlen(a), bs = 0;
  int need = n == 0;
  for (; *p; p++)
    if (!bat_safe(*p))
      need = 1;
  if (!need) {
    sb_putn(b, a, n);
    return;
  }
  /* No quote inside (refused), so only the closing quote needs the
   * backslashes before it doubled. */
  while (bs < n && a[n - 1 - bs] == '\\')
    bs++;
  sb_putc(b, '"');
  sb_putn(b, a, n);
  sb_rep(b, '\\', bs);
  sb_putc(b, '"');
}

int coio__win_batch_cmdline(const wchar_t *comspec, const wchar_t *bat, const char *const *argv,
                            int verbatim, wchar_t **out) {
  sbuf_t b = {0};
  wbuf_t w = {0};
  size_t i;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!comspec || !bat || !argv || !argv[0] || wcschr(comspec, L'"') || wcspbrk(bat, L"\"%\r\n"))
    return COIO_EINVAL;
  for (i = 1; argv[i]; i++) {
    const char *a = argv[i];
    if (has_any(a, "\r\n") || (!verbatim && has_any(a, "%!\""))) {
      free(b.p);
      return COIO_EINVAL;
    }
    sb_putc(&b, ' ');
    if (verbatim)
      sb_putn(&b, a, strlen(a));
    else
      quote_bat(&b, a);
  }
  wb_putc(&w, L'"');
  wb_puts(&w, comspec);
  wb_puts(&w, L"\" /d /e:ON /v:OFF /s /c \"\"");
  wb_puts(&w, bat);
  wb_putc(&w, L'"');
  append_utf8(&w, &b);
  wb_putc(&w, L'"');
  return finish_cmdline(&w, out);
}

/* ---- environment blocks ------------------------------------------------------------ */

typedef struct env_ent {
  const wchar_t *s; /* "NAME=value" */
  size_t name_len;
} env_ent_t;

typedef struct env_list {
  env_ent_t *v;
  size_t len, cap;
} env_list_t;

/* The length of the name in "NAME=value": the first '=' after the first
 * character (Windows' hidden per-drive entries are "=C:=C:\dir"); 0 if
 * there is none. */
static size_t env_name_len(const wchar_t *s) {
  const wchar_t *eq;
  if (!s[0])
    return 0;
  eq = wcschr(s + 1, L'=');
  return eq ? (size_t)(eq - s) : 0;
}

static int names_equal(const wchar_t *a, size_t alen, const wchar_t *b, size_t blen) {
  if (alen > INT_MAX || blen > INT_MAX)
    return 0;
  return CompareStringOrdinal(a, (int)alen, b, (int)blen, TRUE) == CSTR_EQUAL;
}

/* Adds s, replacing an entry of the same name. */
static int env_put(env_list_t *l, const wchar_t *s, size_t name_len) {
  size_t i;
  int rc;
  for (i = 0; i < l->len; i++)
    if (names_equal(l->v[i].s, l->v[i].name_len, s, name_len)) {
      l->v[i].s = s;
      l->v[i].name_len = name_len;
      return 0;
    }
  if ((rc = grow(&l->v, &l->cap, l->len + 1, sizeof *l->v)) != 0)
    return rc;
  l->v[l->len].s = s;
  l->v[l->len].name_len = name_len;
  l->len++;
  return 0;
}

static int env_find(const env_list_t *l, const wchar_t *name) {
  size_t i;
  for (i = 0; i < l->len; i++)
    if (names_equal(l->v[i].s, l->v[i].name_len, name, wcslen(name)))
      return 1;
  return 0;
}

static int env_cmp(const void *pa, const void *pb) {
  const env_ent_t *a = pa, *b = pb;
  int r;
  if (a->name_len > INT_MAX || b->name_len > INT_MAX)
    return 0;
  r = CompareStringOrdinal(a->s, (int)a->name_len, b->s, (int)b->name_len, TRUE);
  return r ? r - CSTR_EQUAL : 0;
}

int coio__win_env_block(const char *const *env, int extend, wchar_t **out) {
  env_list_t l = {0};
  wchar_t *parent = NULL, **conv = NULL;
  const wchar_t *q;
  size_t n = 0, i;
  wbuf_t w = {0};
  int rc = 0;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!env)
    return COIO_EINVAL;
  while (env[n])
    n++;
  if (n && !(conv = calloc(n, sizeof *conv)))
    return COIO_ENOMEM;
  parent = GetEnvironmentStringsW();
  if (!parent) {
    rc = COIO_ENOMEM;
    goto out;
  }
  if (extend) {
    for (q = parent; *q; q += wcslen(q) + 1) {
      size_t nl = env_name_len(q);
      if (nl && (rc = env_put(&l, q, nl)) != 0)
        goto out;
    }
  }
  for (i = 0; i < n; i++) {
    size_t nl;
    if ((rc = coio__win_utf16(env[i], &conv[i])) != 0)
      goto out;
    nl = env_name_len(conv[i]);
    if (nl == 0) {
      rc = COIO_EINVAL;
      goto out;
    }
    if ((rc = env_put(&l, conv[i], nl)) != 0)
      goto out;
  }
  if (!extend && !env_find(&l, L"SYSTEMROOT")) {
    for (q = parent; *q; q += wcslen(q) + 1) {
      size_t nl = env_name_len(q);
      if (nl && names_equal(q, nl, L"SYSTEMROOT", 10)) {
        if ((rc = env_put(&l, q, nl)) != 0)
          goto out;
        break;
      }
    }
  }
  if (l.len)
    qsort(l.v, l.len, sizeof *l.v, env_cmp);
  for (i = 0; i < l.len; i++)
    wb_putn(&w, l.v[i].s, wcslen(l.v[i].s) + 1);
  if (l.len == 0)
    wb_putc(&w, 0); /* an empty block is two NULs */
  wb_putc(&w, 0);   /* the block's terminator (wb_putn keeps one more NUL after it) */
  rc = wb_finish(&w, out);
out:
  if (conv) {
    for (i = 0; i < n; i++)
      free(conv[i]);
    free(conv);
  }
  free(l.v);
  if (parent)
    FreeEnvironmentStringsW(parent);
  if (rc && *out) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

/* ---- finding the program ------------------------------------------------------------ */

/* The parent's value of name, malloc'd; NULL if unset, empty or no memory. */
static wchar_t *parent_env(const wchar_t *name) {
  DWORD n = GetEnvironmentVariableW(name, NULL, 0), got;
  wchar_t *v;
  if (n <= 1)
    return NULL;
  if (!(v = malloc(n * sizeof *v)))
    return NULL;
  got = GetEnvironmentVariableW(name, v, n);
  if (got == 0 || got >= n) {
    free(v);
    return NULL;
  }
  return v;
}

/* A directory from GetSystemDirectoryW / GetWindowsDirectoryW, malloc'd. */
static wchar_t *sys_dir(UINT(WINAPI *fn)(LPWSTR, UINT)) {
  UINT n = fn(NULL, 0), got;
  wchar_t *v;
  if (n == 0 || !(v = malloc(n * sizeof *v)))
    return NULL;
  got = fn(v, n);
  if (got == 0 || got >= n) {
    free(v);
    return NULL;
  }
  return v;
}

int coio__win_comspec(wchar_t **out) {
  wchar_t *v, *dir;
  wbuf_t w = {0};
  if (!out)
    return COIO_EINVAL;
  if ((v = parent_env(L"COMSPEC")) != NULL) {
    *out = v;
    return 0;
  }
  if (!(dir = sys_dir(GetSystemDirectoryW))) {
    *out = NULL;
    return COIO_ENOENT;
  }
  wb_puts(&w, dir);
  wb_puts(&w, L"\\cmd.exe");
  free(dir);
  return wb_finish(&w, out);
}

/* The next ';'-separated piece of *ctx (cut in place), or NULL at the end. */
static wchar_t *next_item(wchar_t **ctx) {
  wchar_t *s = *ctx, *e;
  if (!s)
    return NULL;
  e = wcschr(s, L';');
  if (e) {
    *e = 0;
    *ctx = e + 1;
  } else {
    *ctx = NULL;
  }
  return s;
}

static int is_sep(wchar_t c) { return c == L'\\' || c == L'/'; }

/* 1: a regular file; 2: a directory; 0: nothing there. */
static int path_kind(const wchar_t *p) {
  DWORD a = GetFileAttributesW(p);
  if (a == INVALID_FILE_ATTRIBUTES)
    return 0;
  return (a & FILE_ATTRIBUTE_DIRECTORY) ? 2 : 1;
}

/* The executable extensions to try, from PATHEXT, as ".EXE\0.BAT\0\0". */
static const wchar_t *exec_exts(wchar_t *buf, size_t cap) {
  static const wchar_t known[4][5] = {L".COM", L".EXE", L".BAT", L".CMD"};
  wchar_t *pe = parent_env(L"PATHEXT"), *tok, *ctx = pe;
  size_t len = 0, k;
  if (pe) {
    while ((tok = next_item(&ctx)) != NULL)
      for (k = 0; k < 4; k++)
        if (_wcsicmp(tok, known[k]) == 0 && len + 6 < cap) {
          memcpy(buf + len, known[k], 5 * sizeof(wchar_t));
          len += 5;
        }
    free(pe);
  }
  if (len == 0)
    for (k = 0; k < 4; k++, len += 5)
      memcpy(buf + len, known[k], 5 * sizeof(wchar_t));
  buf[len] = 0;
  return buf;
}

/* Tries path (with ext when has_ext), then path + each extension. 1 and
 * *out (the full path) when found; 2 if path itself is a directory. */
static int try_path(wbuf_t *cand, int has_ext, const wchar_t *exts, wchar_t **out) {
  size_t base = cand->len;
  const wchar_t *e;
  int kind, dir = 0;
  if (cand->err)
    return 0;
  /* The name as it is counts only with an extension (CreateProcess would
   * append .exe), but a directory there is worth a distinct error. */
  kind = path_kind(cand->p);
  if (kind == 2)
    dir = 1;
  if (!has_ext)
    kind = 0;
  for (e = exts; kind != 1 && *e; e += wcslen(e) + 1) {
    cand->len = base;
    wb_puts(cand, e);
    if (cand->err)
      return 0;
    kind = path_kind(cand->p);
  }
  if (kind == 1) {
    DWORD n = GetFullPathNameW(cand->p, 0, NULL, NULL), got;
    wchar_t *full = n ? malloc(n * sizeof *full) : NULL;
    if (!full)
      return 0;
    got = GetFullPathNameW(cand->p, n, full, NULL);
    if (got == 0 || got >= n) {
      free(full);
      return 0;
    }
    *out = full;
    return 1;
  }
  return dir ? 2 : 0;
}

/* The value of PATH in env ("NAME=value" UTF-8 entries; the last one wins). */
static const char *env_path(const char *const *env) {
  const char *v = NULL;
  size_t i;
  if (!env)
    return NULL;
  for (i = 0; env[i]; i++)
    if (_strnicmp(env[i], "PATH=", 5) == 0)
      v = env[i] + 5;
  return v;
}

int coio__win_find_program(const char *argv0, const char *const *env, const wchar_t *cwd,
                           wchar_t **out) {
  wchar_t *name = NULL, *path = NULL, *dirs[2] = {NULL, NULL}, exts[32];
  const wchar_t *last, *p;
  wbuf_t cand = {0};
  int rc, found = 0, has_ext;
  size_t i;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!argv0)
    return COIO_EINVAL;
  if ((rc = coio__win_utf16(argv0, &name)) != 0)
    return rc;
  if (!*name) {
    free(name);
    return COIO_ENOENT;
  }
  exec_exts(exts, sizeof exts / sizeof exts[0]);
  for (last = name, p = name; *p; p++)
    if (is_sep(*p) || *p == L':')
      last = p + 1;
  has_ext = wcschr(last, L'.') != NULL;
  if (last != name) {
    /* A directory part: that file only. Relative to the child's directory,
     * as a POSIX child that changed directory before exec would see it. */
    int absolute = is_sep(name[0]) || (name[0] && name[1] == L':');
    if (!absolute && cwd && *cwd) {
      wb_puts(&cand, cwd);
      if (!is_sep(cwd[wcslen(cwd) - 1]))
        wb_putc(&cand, L'\\');
    }
    wb_puts(&cand, name);
    found = try_path(&cand, has_ext, exts, out);
    rc = found == 1 ? 0 : found == 2 ? COIO_EACCES : cand.err ? cand.err : COIO_ENOENT;
    free(cand.p);
    free(name);
    return rc;
  }
  {
    const char *ep = env_path(env);
    wchar_t *tok, *ctx;
    if (ep) {
      if ((rc = coio__win_utf16(ep, &path)) != 0) {
        free(name);
        return rc;
      }
    } else {
      path = parent_env(L"PATH");
    }
    ctx = path;
    while (found != 1 && (tok = next_item(&ctx)) != NULL) {
      size_t tl;
      if (*tok == L'"') { /* "C:\Program Files\x" */
        tok++;
        tl = wcslen(tok);
        if (tl && tok[tl - 1] == L'"')
          tok[--tl] = 0;
      }
      tl = wcslen(tok);
      if (!tl)
        continue;
      cand.len = 0;
      wb_putn(&cand, tok, tl);
      if (!is_sep(tok[tl - 1]))
        wb_putc(&cand, L'\\');
      wb_puts(&cand, name);
      found = try_path(&cand, has_ext, exts, out);
    }
    dirs[0] = sys_dir(GetSystemDirectoryW);
    dirs[1] = sys_dir(GetWindowsDirectoryW);
    for (i = 0; i < 2 && found != 1; i++) {
      if (!dirs[i])
        continue;
      cand.len = 0;
      wb_puts(&cand, dirs[i]);
      wb_putc(&cand, L'\\');
      wb_puts(&cand, name);
      found = try_path(&cand, has_ext, exts, out);
    }
  }
  rc = found == 1 ? 0 : cand.err ? cand.err : COIO_ENOENT;
  if (rc && *out) {
    free(*out);
    *out = NULL;
  }
  free(dirs[0]);
  free(dirs[1]);
  free(path);
  free(cand.p);
  free(name);
  return rc;
}

int coio__win_is_batch(const wchar_t *path) {
  size_t n;
  if (!path)
    return 0;
  n = wcslen(path);
  /* Windows ignores trailing dots and spaces and the default stream's name. */
  for (;;) {
    while (n && (path[n - 1] == L'.' || path[n - 1] == L' '))
      n--;
    if (n >= 7 && _wcsnicmp(path + n - 7, L"::$DATA", 7) == 0)
      n -= 7;
    else
      break;
  }
  return n >= 4 && (_wcsnicmp(path + n - 4, L".bat", 4) == 0 ||
                    _wcsnicmp(path + n - 4, L".cmd", 4) == 0);
}
