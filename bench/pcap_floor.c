/*
 * pcap_floor.c: the fastest anything built on libpcap can read a capture file.
 *
 * It opens a savefile the way the sensor does (fopen with a 256 KiB stdio buffer,
 * then pcap_fopen_offline(): libpcap's default 4 KiB buffer costs a read() per
 * 4 KiB, which would make the floor slower than a well-configured reader) and calls pcap_next_ex() until
 * end of file, counting packets, captured bytes (caplen) and on-wire bytes
 * (len). It doesn't decode anything, so its packets/s is the "floor" that
 * bench/sensor.sh compares every other tool against: no libpcap-based reader
 * can beat it on the same file and machine.
 *
 * Build: cc -O2 -Wall -Wextra -o bench/out/pcap_floor bench/pcap_floor.c -lpcap
 * Usage: pcap_floor FILE
 * Output (one line on stdout, the format sensor.sh parses):
 *   packets=N caplen_bytes=N wire_bytes=N linktype=NAME snaplen=N
 * Exit status: 0 on success, 1 on a read error or bad arguments.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 1;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    FILE *file = fopen(argv[1], "rb");
    if (file == NULL) {
        perror(argv[1]);
        return 1;
    }
    static char buffer[256 * 1024];
    setvbuf(file, buffer, _IOFBF, sizeof buffer);
    pcap_t *pcap = pcap_fopen_offline(file, errbuf);
    if (pcap == NULL) {
        fprintf(stderr, "pcap_floor: %s\n", errbuf);
        return 1;
    }

    uint64_t packets = 0, caplen_bytes = 0, wire_bytes = 0;
    struct pcap_pkthdr *header;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pcap, &header, &data)) == 1) {
        packets++;
        caplen_bytes += header->caplen;
        wire_bytes += header->len;
    }
    if (rc != PCAP_ERROR_BREAK) { /* -2 = end of file; -1 = error */
        fprintf(stderr, "pcap_floor: read error after %" PRIu64 " packets: %s\n",
                packets, pcap_geterr(pcap));
        pcap_close(pcap);
        return 1;
    }

    const char *linktype = pcap_datalink_val_to_name(pcap_datalink(pcap));
    printf("packets=%" PRIu64 " caplen_bytes=%" PRIu64 " wire_bytes=%" PRIu64
           " linktype=%s snaplen=%d\n",
           packets, caplen_bytes, wire_bytes, linktype ? linktype : "unknown",
           pcap_snapshot(pcap));
    pcap_close(pcap);
    return 0;
}
