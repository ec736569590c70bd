#ifndef WIREWATCH_CMALLOC_SHIM_H
#define WIREWATCH_CMALLOC_SHIM_H
// glibc's malloc tuning (mallopt), which the Swift Glibc module does not bring in.
#if defined(__linux__)
#include <malloc.h>
#endif
#endif
