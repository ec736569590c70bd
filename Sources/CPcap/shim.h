#ifndef WIREWATCH_CPCAP_SHIM_H
#define WIREWATCH_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
