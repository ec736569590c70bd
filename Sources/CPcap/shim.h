#ifndef WIREWATCH_CPCAP_SHIM_H
#define WIREWATCH_CPCAP_SHIM_H
#include <pcap/pcap.h>
#if defined(__linux__)
// __fsetlocking: the capture file's stdio stream, handed to pcap_fopen_offline, is read by one thread only.
#include <stdio_ext.h>
#endif
#endif
