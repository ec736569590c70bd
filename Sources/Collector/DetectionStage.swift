import Detect
import Dispatch
import Flows
import Foundation
import Logging
import Synchronization

/// Runs the detectors behind ingest. Every batch the store newly committed (never a replay, so each record is
/// seen once) is handed over after its commit; the engine runs on its own queue so commits and acks never wait
/// for it, and a timer gives it the wall clock every few seconds so that time-only findings (a silent sensor)
/// fire without traffic. Alerts go to `publish`, which the collector uses to store and print them.
final class DetectionStage: Sendable {
    private let queue = DispatchQueue(label: "wirewatch.collector.detect")
    private let state: Mutex<State>
    private let pending = Atomic<Int>(0)
    private let timer = Mutex<(any DispatchSourceTimer)?>(nil)
    private let publish: @Sendable ([PublishedAlert]) -> Void
    /// Records handed over but not yet through the engine; beyond it ingest waits (the engine lags too far).
    static let maximumPendingRecords = 400_000

    private struct State: ~Copyable {
        var engine: DetectionEngine
    }

    init(engine: sending DetectionEngine, publish: @escaping @Sendable ([PublishedAlert]) -> Void) {
        self.state = Mutex(State(engine: engine))
        self.publish = publish
    }

    /// Starts the wall-clock tick.
    func start(every interval: DispatchTimeInterval = .seconds(5)) {
        timer.withLock { slot in
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.schedule(deadline: .now() + interval, repeating: interval)
            source.setEventHandler { [self] in
                run { $0.tick(wall: Date().timeIntervalSince1970) }
            }
            source.resume()
            slot = source
        }
    }

    /// Called on the ingest queue after a commit, with the records it stored.
    func submit(_ records: [Record]) {
        guard !records.isEmpty else { return }
        let wall = Date().timeIntervalSince1970
        let waiting = pending.add(records.count, ordering: .relaxed).newValue
        queue.async { [self] in
            run { $0.process(records, wall: wall) }
            pending.subtract(records.count, ordering: .relaxed)
        }
        // Back-pressure instead of an unbounded queue: the ingest thread waits for the engine to catch up, which
        // in turn pauses reading from the sensors (their window fills), whose spools hold the rest.
        if waiting > Self.maximumPendingRecords { queue.sync {} }
    }

    /// Shutdown: lets everything submitted so far through the engine, stops the tick, then ends every episode so
    /// its latest version (growth an update was still holding back) is published and stored. Detector state lives
    /// in memory only, so the next start begins new episodes anyway.
    func stop() {
        timer.withLock { source in
            source?.cancel()
            source = nil
        }
        queue.sync {}
        queue.sync { run { $0.finish() } }
    }

    /// Each detector's state.
    var usage: [DetectorUsage] { state.withLock { $0.engine.usage } }

    /// A sensor's connection closed, or it sent a heartbeat: the detectors that track sensors' presence hear of
    /// it (in order with the records, on the detection queue).
    func sensor(_ name: String, disconnected: Bool) {
        let wall = Date().timeIntervalSince1970
        queue.async { [self] in
            state.withLock { state in
                if disconnected {
                    state.engine.sensorDisconnected(name, wall: wall)
                } else {
                    state.engine.sensorSeen(name, wall: wall)
                }
            }
        }
    }

    private func run(_ body: (DetectionEngine) -> [AlertRecord]) {
        let published: [PublishedAlert] = state.withLock { state in
            let alerts = body(state.engine)
            let new = state.engine.newIDs
            return alerts.map { PublishedAlert(alert: $0, updated: !new.contains($0.id)) }
        }
        if !published.isEmpty { publish(published) }
    }
}

/// An alert as the collector announces it: new, or a known episode that grew.
public struct PublishedAlert: Hashable, Sendable {
    public var alert: AlertRecord
    public var updated: Bool
}
