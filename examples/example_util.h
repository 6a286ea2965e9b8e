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

/* Examples 14 and 15 run themselves as the child that prints the date (no
 * Python or shell needed on any OS). With --print-date as argv[1] this is
 * that child: it prints the date and returns 1 (main then exits 0). Else it
 * fills child[0..2] with the child's command line (this program's own path,
 * "--print-date", NULL) and returns 0. */
int example_date_child(int argc, char **argv, const char *child[3]);

#endif
