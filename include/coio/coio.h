/* coio/coio.h - the umbrella header: asyncio for C. */
#ifndef COIO_COIO_H
#define COIO_COIO_H

#include "platform.h"
#include "error.h"
#include "loop.h"
#include "future.h"
#include "net.h"
#include "sock.h"
#include "task.h"
#include "signal.h"
#include "transport.h"
#include "stream.h"
#include "process.h"
#include "tls.h"
#include "sync.h"
#include "executor.h"
#include "dns.h"

#define COIO_VERSION_MAJOR 0
#define COIO_VERSION_MINOR 1
#define COIO_VERSION_PATCH 0

#endif /* COIO_COIO_H */
