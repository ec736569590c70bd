import Detect
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// The collector's HTTP endpoint for operators: `GET /metrics` (Prometheus text format, from the swift-prometheus
/// registry) and `GET /health` (200 `ok` while the collector runs). Plain HTTP on its own port, meant for a
/// loopback or management address; everything else answers 404, other methods 405.
struct MetricsEndpoint: Sendable {
    let metrics: CollectorMetrics
    /// Refreshes the gauges that describe the present just before each scrape.
    let refresh: @Sendable () -> Void

    func bind(host: String, port: Int, group: any EventLoopGroup) throws -> any Channel {
        let endpoint = self
        return try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(endpoint: endpoint))
                }
            }
            .bind(host: host, port: port).wait()
    }

    /// The response to one request: status, content type, body.
    func respond(method: HTTPMethod, uri: String) -> (HTTPResponseStatus, String, String) {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        guard path == "/metrics" || path == "/health" else { return (.notFound, "text/plain", "not found\n") }
        guard method == .GET || method == .HEAD else {
            return (.methodNotAllowed, "text/plain", "use GET\n")
        }
        if path == "/health" { return (.ok, "text/plain", "ok\n") }
        refresh()
        return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.registry.emitToString())
    }
}

/// One HTTP/1.1 connection to the endpoint.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let endpoint: MetricsEndpoint
    private var request: HTTPRequestHead?

    init(endpoint: MetricsEndpoint) { self.endpoint = endpoint }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            let (status, type, body) = endpoint.respond(method: head.method, uri: head.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}

extension CollectorMetrics {
    /// Sets the scrape-time gauges: ingest lag, database size, detector state.
    func refreshGauges(databasePath: String?, detectors: [DetectorUsage], now: Double) {
        let lag = registry.makeGauge(
            descriptor: Self.name(
                "ingest_lag", "seconds",
                "Wall clock minus the newest packet time stored (sensor clocks and shipping delay)."))
        lag.set(newestEventTime.map { max(0, now - $0) } ?? 0)
        if let databasePath {
            var bytes: UInt64 = 0
            for suffix in ["", "-wal", "-shm"] {
                let size = (try? FileManager.default.attributesOfItem(atPath: databasePath + suffix))?[.size]
                bytes += (size as? NSNumber)?.uint64Value ?? 0
            }
            registry.makeGauge(
                descriptor: Self.name("database_size", "bytes", "SQLite database, WAL included.")
            ).set(Double(bytes))
        }
        for usage in detectors {
            registry.makeGauge(
                descriptor: Self.name("detector_state", "entries", "Entries a detector holds."),
                labels: [("detector", usage.name)]
            ).set(Double(usage.entries))
            registry.makeGauge(
                descriptor: Self.name("detector_state", "bytes", "Estimated bytes a detector holds."),
                labels: [("detector", usage.name)]
            ).set(Double(usage.approximateBytes))
            registry.makeGauge(
                descriptor: Self.name("detector_evicted", "entries", "Entries evicted at a detector's caps."),
                labels: [("detector", usage.name)]
            ).set(Double(usage.evicted))
        }
    }
}
