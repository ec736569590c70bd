import Certs
import Dispatch
import Foundation
import Logging
import NIOSSL
import Synchronization

/// The revocation list the collector checks at every TLS handshake (`--revoked FILE`), reread while it runs.
///
/// The file is polled (its size, modification time and inode) every `interval` on a queue of its own, so a handshake
/// only reads a set under a lock and never touches the disk on an event loop. A list that cannot be read or parsed
/// after a change keeps the previous one in force and logs one line per change: a half-edited file must not
/// un-revoke anything.
public final class RevocationWatcher: Sendable {
    public let path: String
    private let logger: Logger
    private let interval: DispatchTimeInterval
    private let state: Mutex<State>
    private let timer = Mutex<(any DispatchSourceTimer)?>(nil)
    private let reloaded = Mutex<(@Sendable (RevocationList) -> Void)?>(nil)

    private struct State {
        var list: RevocationList
        var signature: FileSignature?
        /// Serials refused, with the time of the last log line about each: one line a minute per certificate.
        var lastLogged: [[UInt8]: Date] = [:]
        var refusals = 0
    }

    /// What tells a changed file from the same one, without reading it.
    struct FileSignature: Equatable {
        var size: Int
        var modified: Date
        var inode: Int

        init?(path: String) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
            size = (attributes[.size] as? Int) ?? -1
            modified = (attributes[.modificationDate] as? Date) ?? .distantPast
            inode = (attributes[.systemFileNumber] as? Int) ?? -1
        }
    }

    /// Loads `path` now; a missing or malformed file is an error here (the collector refuses to start).
    public init(path: String, logger: Logger, interval: DispatchTimeInterval = .seconds(2)) throws {
        self.path = path
        self.logger = logger
        self.interval = interval
        let signature = FileSignature(path: path)
        let list = try RevocationList.load(path: path)
        state = Mutex(State(list: list, signature: signature))
    }

    /// Revoked certificates in force.
    public var count: Int { state.withLock { $0.list.count } }

    /// Handshakes refused because of the list, since start.
    public var refusals: Int { state.withLock { $0.refusals } }

    /// `body` runs (on the polling queue) with each new list once it is in force: the collector closes the sessions
    /// already open with a certificate that is now on it.
    public func onReload(_ body: @escaping @Sendable (RevocationList) -> Void) {
        reloaded.withLock { $0 = body }
    }

    /// Starts polling the file.
    public func start() {
        timer.withLock { slot in
            guard slot == nil else { return }
            let source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "wirewatch.collector.revocation"))
            source.schedule(deadline: .now() + interval, repeating: interval)
            source.setEventHandler { [weak self] in self?.reloadIfChanged() }
            source.resume()
            slot = source
        }
    }

    public func stop() {
        timer.withLock { slot in
            slot?.cancel()
            slot = nil
        }
    }

    /// Rereads the file if it changed; returns true when a new list is in force.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        let signature = FileSignature(path: path)
        let previous = state.withLock { $0.signature }
        guard signature != previous else { return false }
        do {
            let list = try RevocationList.load(path: path)
            let before = state.withLock { state in
                defer {
                    state.list = list
                    state.signature = signature
                }
                return state.list.count
            }
            logger.notice(
                "revocation list \(path) reloaded: \(list.count) revoked certificates (was \(before))",
                metadata: ["revoked": "\(list.count)"])
            reloaded.withLock { $0 }?(list)
            return true
        } catch {
            // Remember the signature, so a broken file is reported once, not every interval.
            let kept = state.withLock { state in
                state.signature = signature
                return state.list.count
            }
            logger.error("revocation list not reloaded, keeping the \(kept) revocations in force: \(error)")
            return false
        }
    }

    /// True when the certificate is revoked; logs the refusal (one line a minute per certificate).
    public func isRevoked(_ certificate: NIOSSLCertificate, now: Date = Date()) -> Bool {
        let serial = certificate.serialNumber
        let shouldLog: Bool? = state.withLock { state in
            guard state.list.contains(serial: serial) else { return nil }
            state.refusals += 1
            if let last = state.lastLogged[serial], now.timeIntervalSince(last) < 60 { return false }
            state.lastLogged[serial] = now
            return true
        }
        guard let shouldLog else { return false }
        if shouldLog {
            logger.warning(
                "refused a client certificate on the revocation list (serial \(RevocationList.hex(serial)))",
                metadata: ["serial": "\(RevocationList.hex(serial))"])
        }
        return true
    }

    /// The verification step the collector's TLS handler runs for each certificate of the client's chain, after
    /// BoringSSL's own checks: a chain BoringSSL accepted is refused when any of its certificates is revoked.
    public var verificationCallback: NIOSSLVerificationCallback {
        { [self] result, certificate in
            guard result == .certificateVerified else { return result }
            return isRevoked(certificate) ? .failed : .certificateVerified
        }
    }
}

/// Makes the deprecated-but-needed server handler initialiser callable without a warning at every use: it is the
/// only one that keeps BoringSSL's chain verification and adds a check after it (the non-deprecated custom
/// callbacks replace that verification altogether).
protocol VerifyingServerHandler {
    init(context: NIOSSLContext, verificationCallback: NIOSSLVerificationCallback?) throws
}

extension NIOSSLServerHandler: VerifyingServerHandler {}

extension RevocationWatcher {
    /// A server-side TLS handler for one connection that also checks this list.
    public func serverHandler(context: NIOSSLContext) throws -> NIOSSLServerHandler {
        let type: any VerifyingServerHandler.Type = NIOSSLServerHandler.self
        let handler = try type.init(context: context, verificationCallback: verificationCallback)
        // Never fall back to a handler without the check.
        guard let handler = handler as? NIOSSLServerHandler else { throw RevocationWatcherError.noHandler }
        return handler
    }
}

enum RevocationWatcherError: Error {
    case noHandler
}
