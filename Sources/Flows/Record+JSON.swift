import Packets

extension Record {
    /// One JSON object on one line, fields named as in Zeek's logs, unset fields left out (as Zeek's JSON writer does).
    public var jsonLine: String {
        var json = JSONObjectWriter()
        json.string("type", typeName)
        switch self {
        case .flow(let r):
            json.time("ts", r.ts)
            json.string("uid", r.uid)
            json.string("sensor", r.sensor)
            r.id.write(to: &json)
            json.string("proto", r.protoName)
            json.string("service", r.service)
            json.time("duration", r.duration)
            json.int("orig_bytes", r.origBytes)
            json.int("resp_bytes", r.respBytes)
            json.string("conn_state", r.connState)
            json.string("history", r.history)
            json.int("orig_pkts", r.origPackets)
            json.int("orig_ip_bytes", r.origIPBytes)
            json.int("resp_pkts", r.respPackets)
            json.int("resp_ip_bytes", r.respIPBytes)
            json.string("tcp_flags_orig", r.tcpFlagsOrig?.letters)
            json.string("tcp_flags_resp", r.tcpFlagsResp?.letters)
            json.int("retrans_pkts", r.retransPackets)
            json.int("icmp_type", r.icmpType)
            json.int("icmp_code", r.icmpCode)
            json.int("vlan", r.vlan)
            json.int("inner_vlan", r.innerVlan)
            json.string("community_id", r.communityID)
            json.bool("final", r.final)
            json.string("end_reason", r.reason)
            if r.truncated { json.bool("truncated", true) }
        case .dns(let r):
            json.time("ts", r.ts)
            json.string("uid", r.uid)
            json.string("sensor", r.sensor)
            r.id.write(to: &json)
            json.string("proto", FlowRecord.protoName(r.proto))
            json.int("trans_id", r.transID)
            json.time("rtt", r.rtt)
            json.string("query", r.query)
            json.int("qtype", r.qtype)
            json.string("qtype_name", r.qtypeName)
            json.int("rcode", r.rcode)
            json.string("rcode_name", r.rcodeName)
            json.strings("answers", r.answers.isEmpty ? nil : r.answers)
            json.times("TTLs", r.ttls.isEmpty ? nil : r.ttls)
            json.bool("rejected", r.rejected)
        case .http(let r):
            json.time("ts", r.ts)
            json.string("uid", r.uid)
            json.string("sensor", r.sensor)
            r.id.write(to: &json)
            json.int("trans_depth", r.transDepth)
            let t = r.transaction
            json.string("method", t.method)
            json.string("host", t.host)
            json.string("uri", t.uri)
            json.string("referrer", t.referrer)
            json.string("version", t.version)
            json.string("user_agent", t.userAgent)
            json.int("request_body_len", t.requestBodyLength)
            json.int("response_body_len", t.responseBodyLength)
            json.int("status_code", t.statusCode)
            json.string("status_msg", t.statusMessage)
        case .tls(let r):
            json.time("ts", r.ts)
            json.string("uid", r.uid)
            json.string("sensor", r.sensor)
            r.id.write(to: &json)
            json.string("version", r.version)
            json.int("cipher_code", r.cipher)
            json.string("server_name", r.serverName)
            json.strings("alpn", r.alpn.isEmpty ? nil : r.alpn)
            json.string("ja3", r.ja3)
            json.string("ja4", r.ja4)
        case .series(let r):
            json.time("ts", r.ts)
            json.string("sensor", r.sensor)
            json.time("interval", r.interval)
            json.int("packets", r.packets)
            json.int("bytes", r.bytes)
            json.int("flows", r.flows)
            for name in r.perProtocol.keys.sorted() {
                if let c = r.perProtocol[name] {
                    json.counters(name, [("packets", c.packets), ("bytes", c.bytes), ("flows", c.flows)])
                }
            }
        case .stats(let r):
            json.time("ts", r.ts)
            json.string("sensor", r.sensor)
            json.string("source", r.source)
            json.int("packets_received", r.packetsReceived)
            json.int("packets_dropped_kernel", r.packetsDroppedKernel)
            json.int("packets_dropped_interface", r.packetsDroppedInterface)
            json.int("bytes_received", r.bytesReceived)
            json.int("non_ip_packets", r.nonIPPackets)
            json.int("truncated_packets", r.truncatedPackets)
            json.int("decode_errors", r.decodeErrors)
            json.int("fragments", r.fragments)
            json.int("fragments_reassembled", r.fragmentsReassembled)
            json.int("fragments_expired", r.fragmentsExpired)
            json.int("flow_table_size", r.flowTableSize)
            json.int("flows_created", r.flowsCreated)
            json.int("flows_evicted", r.flowsEvicted)
            json.int("records_dropped", r.recordsDropped)
            json.int("spool_bytes", r.spoolBytes)
            json.counters("weird", r.weird.keys.sorted().map { ($0, r.weird[$0] ?? 0) })
            if !r.workers.isEmpty {
                json.objects(
                    "workers",
                    r.workers.map { worker in
                        var object = JSONObjectWriter(capacity: 160)
                        object.int("worker", worker.worker)
                        object.int("packets_received", worker.packetsReceived)
                        object.int("kernel_received", worker.kernelReceived)
                        object.int("packets_dropped_kernel", worker.packetsDroppedKernel)
                        object.int("packets_dropped_interface", worker.packetsDroppedInterface)
                        object.int("discarded_before_join", worker.discardedBeforeJoin)
                        return object
                    })
            }
            json.bool("final", r.final)
        }
        return json.finish()
    }
}
