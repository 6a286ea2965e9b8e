/* common/context.c - context values: per-task variables inherited by
 * spawned children (asyncio's contextvars, copied at spawn as
 * create_task copies the current context).
 *
 * A task's context is a small array of (variable id, value). Variables are
 * named by a process-wide id, never by address, so an entry can outlive its
 * variable without ever matching a new one allocated at the same place. */
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "sys.h"
#include "task_internal.h"

typedef struct ctx_entry {
  uint64_t id;
  void *value;
} ctx_entry_t;

struct coio__ctx {
  ctx_entry_t *e;
  size_t n, cap;
};

struct coio_context_var {
  uint64_t id;
  void *def;
  char *name;
};

/* Ids start at 1; a zeroed static is a valid initial counter. */
static coio__atomic_u64 last_id;

static uint64_t new_id(void) { return coio__atomic_inc64(&last_id); }

int coio_context_var_new(coio_context_var_t **out, const char *name, void *default_value) {
  coio_context_var_t *v;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  v = calloc(1, sizeof *v);
  if (!v)
    return COIO_ENOMEM;
  if (name) {
    size_t n = strlen(name) + 1;
    if (!(v->name = malloc(n))) {
      free(v);
      return COIO_ENOMEM;
    }
    memcpy(v->name, name, n);
  }
  v->id = new_id();
  v->def = default_value;
  *out = v;
  return 0;
}

void coio_context_var_free(coio_context_var_t *var) {
  if (!var)
    return;
  free(var->name);
  free(var);
}

const char *coio_context_var_name(const coio_context_var_t *var) {
  return var && var->name ? var->name : "";
}

static ctx_entry_t *find(struct coio__ctx *c, uint64_t id) {
  size_t i;
  for (i = 0; c && i < c->n; i++)
    if (c->e[i].id == id)
      return &c->e[i];
  return NULL;
}

void *coio_context_var_get(const coio_context_var_t *var) {
  coio__task_t *t = coio__task_current();
  ctx_entry_t *e;
  if (!var)
    return NULL;
  e = t ? find(t->ctx, var->id) : NULL;
  return e ? e->value : var->def;
}

int coio_context_var_set(coio_context_var_t *var, void *value) {
  coio__task_t *t = coio__task_current();
  ctx_entry_t *e;
  if (!var)
    return COIO_EINVAL;
  if (!t)
    return COIO_ENOTASK;
  if (!t->ctx && !(t->ctx = calloc(1, sizeof *t->ctx)))
    return COIO_ENOMEM;
  if ((e = find(t->ctx, var->id)) != NULL) {
    e->value = value;
    return 0;
  }
  if (t->ctx->n == t->ctx->cap) {
    size_t ncap = t->ctx->cap ? t->ctx->cap * 2 : 4;
    ctx_entry_t *n = realloc(t->ctx->e, ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    t->ctx->e = n;
    t->ctx->cap = ncap;
  }
  t->ctx->e[t->ctx->n].id = var->id;
  t->ctx->e[t->ctx->n].value = value;
  t->ctx->n++;
  return 0;
}

int coio_context_var_reset(coio_context_var_t *var) {
  coio__task_t *t = coio__task_current();
  ctx_entry_t *e;
  if (!var)
    return COIO_EINVAL;
  if (!t)
    return COIO_ENOTASK;
  if ((e = find(t->ctx, var->id)) != NULL)
    *e = t->ctx->e[--t->ctx->n];
  return 0;
}

struct coio__ctx *coio__ctx_inherit(const struct coio__ctx *parent) {
  struct coio__ctx *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  if (parent && parent->n) {
    c->e = malloc(parent->n * sizeof *c->e);
    if (!c->e) {
      free(c);
      return NULL;
    }
    memcpy(c->e, parent->e, parent->n * sizeof *c->e);
    c->n = c->cap = parent->n;
  }
  return c;
}

void coio__ctx_free(struct coio__ctx *ctx) {
  if (!ctx)
    return;
  free(ctx->e);
  free(ctx);
}
