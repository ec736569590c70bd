import Flows
import Sensor

/// What the real sensor pipeline makes of capture files (the records `--emit jsonl` prints), uids seeded so that
/// two runs agree: the independent expectation of the transport, wire and query tests.
public func pipelineRecords(files: [String], sensor: String, uidSeed: UInt64) throws -> [Record] {
    var options = CaptureOptions()
    options.files = files
    var config = FlowConfig(sensor: sensor)
    config.uidSeed = uidSeed
    let sink = CollectingSink()
    _ = try SensorPipeline(options: options, flow: config, sink: sink).runFiles()
    return sink.records
}
