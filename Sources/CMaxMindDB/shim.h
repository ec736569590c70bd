#ifndef WIREWATCH_CMAXMINDDB_SHIM_H
#define WIREWATCH_CMAXMINDDB_SHIM_H
// libmaxminddb from Debian's libmaxminddb-dev (pkg-config libmaxminddb); never vendored.
// MMDB_get_value is variadic and not importable into Swift: use MMDB_aget_value with a NULL-terminated path.
#include <maxminddb.h>
#endif
