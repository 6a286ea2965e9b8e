/* examples/example_util.h - what the examples share: creating the loop
 * (the platform's default kind; COIO_BACKEND picks another) and printing
 * the local date and time as Python's datetime.now() does. */
#ifndef COIO_EXAMPLE_UTIL_H
#define COIO_EXAMPLE_UTIL_H

#include <stddef.h>

#include "coio/coio.h"

/* A loop of the platform's default kind (COIO_BACKEND overrides it);
 * exits with a message when none can be made. */
coio_loop_t *example_loop(void);

/* Writes "YYYY-MM-DD HH:MM:SS.ffffff", the local time, into buf. */
void example_now(char *buf, size_t size);

#endif
