#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One pending batch's bookkeeping. The payload is held only while cached (always, in a memory-only spool).
struct EntryRecord {
    var sequence: UInt64
    var recordCount: UInt32
    var payloadLength: Int
    var checksum: UInt32
    /// First sequence (file name) of the segment holding it; unused when memory-only.
    var segment: UInt64
    var payloadOffset: Int
    var payload: [UInt8]?

    var encodedSize: Int { SegmentFormat.entryHeaderSize + payloadLength }
}

/// A segment file on disk.
struct SegmentRecord {
    var firstSequence: UInt64
    var lastSequence: UInt64
    var size: Int
}

/// File descriptors `Spool.sync()` flushes outside the lock, and the sequence that is durable once it has.
struct SyncJob {
    var files: [(fd: Int32, path: String)] = []
    var directoryFD: Int32?
    var sequence: UInt64 = 0
    var error: SpoolError?
}

/// What `append` did, for the caller to finish outside the lock.
struct AppendOutcome {
    var sequence: UInt64
    var rolled = false
    var written = false
}

/// The spool's state and logic; not thread-safe (`Spool` keeps it in a `Mutex`).
///
/// Pending entries are `entries[head...]`, in sequence order; acknowledged and dropped ones leave from the front.
/// On disk, `segments` are the files in order and the last one is being written when `currentFD >= 0`.
struct SpoolState {
    let directory: String?
    let maxBytes: Int
    let segmentBytes: Int
    let cacheBytes: Int
    let syncPolicy: Spool.SyncPolicy
    var bootID: [UInt8] = []

    var isOpen = true
    var entries: [EntryRecord] = []
    var head = 0
    /// Entries before this index hold no cached payload (cached ones are the newest: they are evicted in order).
    var firstCached = 0
    var cachedBytes = 0
    var segments: [SegmentRecord] = []
    var statistics = SpoolStatistics()
    var recovery = SpoolRecovery()

    var lockFD: Int32 = -1
    var directoryFD: Int32 = -1
    var currentFD: Int32 = -1
    var readFD: Int32 = -1
    var readSegment: UInt64 = 0
    /// Finished segments whose data `sync()` has yet to flush.
    var unsynced: [(segment: UInt64, fd: Int32)] = []
    var directoryDirty = false
    /// Set after a skipped sequence number (or a failed write) so the next entry starts a new segment and
    /// sequences within each segment stay consecutive.
    var rollRequested = false
    /// A failure that could not be thrown when it happened (a sync after a successful append, a segment that
    /// could not be deleted on acknowledgement); the next `sync()` throws it.
    var deferredError: SpoolError?

    /// Finished segments kept open for a later sync before the oldest is flushed inline.
    static let maxUnsynced = 64

    var label: String { directory ?? "memory" }

    /// A memory-only spool.
    init(maxBytes: Int) {
        directory = nil
        self.maxBytes = maxBytes
        segmentBytes = maxBytes
        cacheBytes = Int.max
        syncPolicy = .manual
        bootID = Self.randomBootID()
    }

    /// Opens (creating, locking and recovering) the spool in `directory`.
    init(directory: String, maxBytes: Int, segmentBytes: Int, cacheBytes: Int, syncPolicy: Spool.SyncPolicy)
        throws(SpoolError)
    {
        self.directory = directory
        self.maxBytes = maxBytes
        self.segmentBytes = segmentBytes
        self.cacheBytes = cacheBytes
        self.syncPolicy = syncPolicy
        try FileIO.checkDirectoryLink(directory)
        try FileIO.makeDirectory(directory)
        let lockPath = directory + "/lock"
        lockFD = try FileIO.open(lockPath, O_RDWR | O_CREAT, code: .lockFile)
        // flock locks belong to the open file description: a second open of the lock file, in this process or
        // another, conflicts; the kernel releases it when the process dies, however it dies.
        if flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            FileIO.close(lockFD)
            throw SpoolError(
                error == EWOULDBLOCK ? .locked : .lockFile,
                path: directory,
                osError: error,
                detail: "flock " + lockPath
            )
        }
        do throws(SpoolError) {
            directoryFD = try FileIO.open(directory, O_RDONLY | O_DIRECTORY, code: .listDirectory, followLink: true)
            try recover(directory)
        } catch {
            close()
            throw error
        }
    }

    static func randomBootID() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<2 { SegmentFormat.append(generator.next() as UInt64, to: &bytes) }
        return bytes
    }

    // MARK: recovery

    private mutating func recover(_ directory: String) throws(SpoolError) {
        // Left by a restart that crashed before its rename: the old stream is still complete without it.
        try removeFile(directory + "/" + SegmentFormat.restartFileName)
        let files = try FileIO.list(directory)
            .compactMap { name in SegmentFormat.firstSequence(fileName: name).map { (first: $0, name: name) } }
            .sorted { $0.first < $1.first }
        var kept: [(segment: SegmentRecord, bootID: [UInt8], entries: [SegmentFormat.ScannedEntry])] = []
        var sequenceFloor: UInt64 = 0
        for (index, file) in files.enumerated() {
            let isNewest = index == files.count - 1
            let path = directory + "/" + file.name
            let fd = try FileIO.open(path, isNewest ? O_RDWR : O_RDONLY, code: .openSegment)
            defer { FileIO.close(fd) }
            guard let size = FileIO.size(fd), let bytes = FileIO.read(fd, at: 0, count: size) else {
                throw SpoolError.lastOS(.readSegment, path: path)
            }
            var scan = bytes.withUnsafeBytes { SegmentFormat.scan($0, firstSequence: file.first) }
            if let previous = kept.last, file.first <= previous.segment.lastSequence {
                scan = SegmentFormat.Scan()  // overlaps the segment before it: not written by a spool
            }
            let damaged = size - scan.validEnd
            if damaged > 0 {
                if isNewest {
                    // The damaged entries continued the run after the last good one and took at least 20 bytes
                    // each: numbering resumes above all of them, so no number the collector may have committed
                    // is reused. (In an older segment they are below the next segment's first sequence anyway.)
                    let lastGood = scan.entries.last?.sequence ?? max(file.first, 1) - 1
                    let (floor, overflow) = lastGood.addingReportingOverflow(
                        UInt64(damaged / SegmentFormat.entryHeaderSize)
                    )
                    sequenceFloor = overflow ? UInt64.max - 1 : floor
                    recovery.tornBytes += damaged
                } else {
                    recovery.corruptSegments += 1
                    recovery.corruptBytes += damaged
                }
            }
            guard let bootID = scan.bootID, let last = scan.entries.last else {
                try removeFile(path)
                continue
            }
            var keptSize = size
            if isNewest && damaged > 0 {
                // A crash mid-write: cut the torn entry so the file ends on an entry boundary.
                guard ftruncate(fd, off_t(scan.validEnd)) == 0 else {
                    throw SpoolError.lastOS(.truncateSegment, path: path)
                }
                keptSize = scan.validEnd
            }
            let segment = SegmentRecord(firstSequence: file.first, lastSequence: last.sequence, size: keptSize)
            kept.append((segment, bootID, scan.entries))
        }
        guard let newest = kept.last else {
            bootID = Self.randomBootID()
            return
        }
        // The stream continues under the newest segment's boot id; segments of another stream could only be
        // sent under the wrong one.
        bootID = newest.bootID
        for item in kept {
            let first = item.segment.firstSequence
            guard item.bootID == bootID else {
                recovery.corruptSegments += 1
                recovery.corruptBytes += item.segment.size
                statistics.droppedBatches += item.entries.count
                statistics.droppedRecords += item.entries.reduce(0) { $0 + Int($1.recordCount) }
                try removeFile(directory + "/" + SegmentFormat.fileName(firstSequence: first))
                continue
            }
            segments.append(item.segment)
            statistics.usedBytes += item.segment.size
            for entry in item.entries {
                entries.append(
                    EntryRecord(
                        sequence: entry.sequence,
                        recordCount: entry.recordCount,
                        payloadLength: entry.payloadLength,
                        checksum: entry.checksum,
                        segment: first,
                        payloadOffset: entry.payloadOffset,
                        payload: nil
                    )
                )
                statistics.pendingRecords += Int(entry.recordCount)
                statistics.pendingBytes += entry.payloadLength
                recovery.recoveredRecords += Int(entry.recordCount)
            }
            recovery.recoveredBatches += item.entries.count
        }
        statistics.highestSequence = max(newest.segment.lastSequence, sequenceFloor)
        recovery.highestSequence = statistics.highestSequence
        // A bound lowered since the last run applies now.
        while statistics.usedBytes > maxBytes, !segments.isEmpty { try dropOldestSegment() }
        recovery.segments = segments.count
    }

    // MARK: append

    mutating func append(recordCount: UInt32, payload: [UInt8], payloadChecksum: UInt32) throws(SpoolError)
        -> AppendOutcome
    {
        guard isOpen else { throw SpoolError(.closed, path: label) }
        guard statistics.highestSequence < UInt64.max - 1 else {
            throw SpoolError(.invalidBatch, path: label, detail: "sequence numbers exhausted")
        }
        let sequence = statistics.highestSequence + 1
        let entrySize = SegmentFormat.entryHeaderSize + payload.count
        let overhead = directory == nil ? 0 : SegmentFormat.headerSize
        guard entrySize <= maxBytes - overhead else {
            // Larger than the whole bound on its own: dropped and counted, its number skipped.
            statistics.highestSequence = sequence
            statistics.droppedBatches += 1
            statistics.droppedRecords += Int(recordCount)
            rollRequested = true
            return AppendOutcome(sequence: sequence)
        }
        var record = EntryRecord(
            sequence: sequence,
            recordCount: recordCount,
            payloadLength: payload.count,
            checksum: 0,
            segment: 0,
            payloadOffset: 0,
            payload: payload
        )
        var outcome = AppendOutcome(sequence: sequence, written: true)
        if let directory {
            var needsSegment: Bool {
                guard currentFD >= 0, !rollRequested, let current = segments.last else { return true }
                return current.size + entrySize > segmentBytes
            }
            while statistics.usedBytes + entrySize + (needsSegment ? overhead : 0) > maxBytes, !segments.isEmpty {
                try dropOldestSegment()
            }
            let header = SegmentFormat.entryHeader(
                sequence: sequence,
                recordCount: recordCount,
                payloadLength: UInt32(payload.count),
                payloadChecksum: payloadChecksum
            )
            record.checksum = header.withUnsafeBytes { SegmentFormat.read(UInt32.self, $0, at: 4) }
            if needsSegment {
                if currentFD >= 0 {
                    finishCurrentSegment()
                    outcome.rolled = true
                }
                let path = directory + "/" + SegmentFormat.fileName(firstSequence: sequence)
                // O_EXCL: a new segment's name is above every sequence handed out, so a file already there was not written
                // by this spool (and O_EXCL never follows a link).
                let fd = try FileIO.open(path, O_RDWR | O_CREAT | O_EXCL, code: .openSegment)
                directoryDirty = true
                // The header goes out with the first entry in one write.
                let prefix = SegmentFormat.header(bootID: bootID, firstSequence: sequence) + header
                let error = write(fd, at: 0, prefix, payload)
                guard error == 0 else {
                    FileIO.close(fd)
                    unlink(path)
                    throw SpoolError(.writeSegment, path: path, osError: error)
                }
                currentFD = fd
                rollRequested = false
                segments.append(SegmentRecord(firstSequence: sequence, lastSequence: sequence, size: 0))
            } else {
                let offset = segments[segments.count - 1].size
                let error = write(currentFD, at: offset, header, payload)
                guard error == 0 else {
                    // Take back a partial write; if even that fails, the garbage stays behind the last good
                    // entry and the next entry starts a new segment (recovery counts the garbage as damage).
                    if ftruncate(currentFD, off_t(offset)) != 0 { rollRequested = true }
                    let path =
                        directory + "/"
                        + SegmentFormat.fileName(firstSequence: segments[segments.count - 1].firstSequence)
                    throw SpoolError(.writeSegment, path: path, osError: error)
                }
            }
            let added = (segments[segments.count - 1].size == 0 ? overhead : 0) + entrySize
            record.segment = segments[segments.count - 1].firstSequence
            record.payloadOffset = segments[segments.count - 1].size + added - payload.count
            segments[segments.count - 1].size += added
            segments[segments.count - 1].lastSequence = sequence
            statistics.usedBytes += added
            cachedBytes += payload.count
        } else {
            while statistics.usedBytes + entrySize > maxBytes, head < entries.count { removeFront(dropped: true) }
            statistics.usedBytes += entrySize
        }
        entries.append(record)
        statistics.pendingRecords += Int(recordCount)
        statistics.pendingBytes += payload.count
        statistics.highestSequence = sequence
        evictCache()
        return outcome
    }

    private func write(_ fd: Int32, at offset: Int, _ head: [UInt8], _ payload: [UInt8]) -> Int32 {
        head.withUnsafeBytes { head in payload.withUnsafeBytes { FileIO.write(fd, at: offset, [head, $0]) } }
    }

    /// Closes the segment being written, leaving its data for the next `sync()` unless every append synced it.
    private mutating func finishCurrentSegment() {
        guard currentFD >= 0, let current = segments.last else { return }
        if syncPolicy == .everyAppend {
            FileIO.close(currentFD)
        } else {
            unsynced.append((current.firstSequence, currentFD))
            if unsynced.count > Self.maxUnsynced {
                let oldest = unsynced.removeFirst()
                if !FileIO.dataSync(oldest.fd), deferredError == nil {
                    deferredError = SpoolError.lastOS(.sync, path: path(of: oldest.segment))
                }
                FileIO.close(oldest.fd)
            }
        }
        currentFD = -1
    }

    private mutating func evictCache() {
        guard directory != nil else { return }
        firstCached = max(firstCached, head)
        while cachedBytes > cacheBytes, firstCached < entries.count {
            if let payload = entries[firstCached].payload {
                cachedBytes -= payload.count
                entries[firstCached].payload = nil
            }
            firstCached += 1
        }
    }

    // MARK: removal

    /// Takes the oldest pending entry off the queue: acknowledged, or dropped (and counted).
    private mutating func removeFront(dropped: Bool) {
        let entry = entries[head]
        if let payload = entry.payload, directory != nil { cachedBytes -= payload.count }
        if directory == nil { statistics.usedBytes -= entry.encodedSize }
        statistics.pendingRecords -= Int(entry.recordCount)
        statistics.pendingBytes -= entry.payloadLength
        if dropped {
            statistics.droppedBatches += 1
            statistics.droppedRecords += Int(entry.recordCount)
        }
        entries[head].payload = nil
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
            firstCached = 0
        } else if head >= 1024, head * 2 >= entries.count {
            entries.removeFirst(head)
            firstCached = max(0, firstCached - head)
            head = 0
        }
    }

    /// Deletes the oldest segment file to make room, dropping (and counting) its pending entries.
    private mutating func dropOldestSegment() throws(SpoolError) {
        guard let oldest = segments.first else { return }
        try removeFile(path(of: oldest.firstSequence), segment: oldest.firstSequence)
        segments.removeFirst()
        statistics.usedBytes -= oldest.size
        while head < entries.count, entries[head].sequence <= oldest.lastSequence { removeFront(dropped: true) }
    }

    private func path(of segment: UInt64) -> String {
        (directory ?? "") + "/" + SegmentFormat.fileName(firstSequence: segment)
    }

    /// Closes every descriptor open on the segment, then unlinks it.
    private mutating func removeFile(_ path: String, segment: UInt64? = nil) throws(SpoolError) {
        if let segment {
            if currentFD >= 0, segments.last?.firstSequence == segment {
                FileIO.close(currentFD)
                currentFD = -1
            }
            if readFD >= 0, readSegment == segment {
                FileIO.close(readFD)
                readFD = -1
            }
            unsynced.removeAll { item in
                guard item.segment == segment else { return false }
                FileIO.close(item.fd)
                return true
            }
        }
        guard unlink(path) == 0 || errno == ENOENT else { throw SpoolError.lastOS(.removeSegment, path: path) }
        directoryDirty = true
    }

    // MARK: reading and acknowledgement

    mutating func pending(after sequence: UInt64, limit: Int, maxBytes budget: Int) -> [SpoolEntry] {
        guard isOpen, limit > 0 else { return [] }
        let after = max(sequence, statistics.acknowledgedSequence)
        var low = head
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].sequence <= after { low = middle + 1 } else { high = middle }
        }
        var result: [SpoolEntry] = []
        var bytes = 0
        var index = low
        while index < entries.count, result.count < limit {
            let record = entries[index]
            if !result.isEmpty, bytes + record.payloadLength > budget { break }
            guard let payload = record.payload ?? readPayload(record) else {
                dropUnreadable(at: index)
                continue
            }
            result.append(SpoolEntry(sequence: record.sequence, recordCount: Int(record.recordCount), payload: payload))
            bytes += record.payloadLength
            index += 1
        }
        return result
    }

    /// Reads a payload back from its segment and checks it against the entry's checksum.
    private mutating func readPayload(_ record: EntryRecord) -> [UInt8]? {
        let fd: Int32
        if currentFD >= 0, segments.last?.firstSequence == record.segment {
            fd = currentFD
        } else if readFD >= 0, readSegment == record.segment {
            fd = readFD
        } else {
            if readFD >= 0 { FileIO.close(readFD) }
            readFD = -1
            guard let opened = try? FileIO.open(path(of: record.segment), O_RDONLY, code: .openSegment) else {
                return nil
            }
            readFD = opened
            readSegment = record.segment
            fd = opened
        }
        guard let payload = FileIO.read(fd, at: record.payloadOffset, count: record.payloadLength) else { return nil }
        let checksum = SegmentFormat.entryChecksum(
            sequence: record.sequence,
            recordCount: record.recordCount,
            payloadLength: UInt32(record.payloadLength),
            payloadChecksum: CRC32C.checksum(payload)
        )
        return checksum == record.checksum ? payload : nil
    }

    /// An entry whose bytes changed on disk (or cannot be read) since they were written: dropped and counted.
    private mutating func dropUnreadable(at index: Int) {
        statistics.corruptBatches += 1
        if index == head {
            removeFront(dropped: true)
            return
        }
        let entry = entries.remove(at: index)
        if let payload = entry.payload, directory != nil { cachedBytes -= payload.count }
        if index < firstCached { firstCached -= 1 }
        statistics.pendingRecords -= Int(entry.recordCount)
        statistics.pendingBytes -= entry.payloadLength
        statistics.droppedBatches += 1
        statistics.droppedRecords += Int(entry.recordCount)
    }

    mutating func acknowledge(through sequence: UInt64) {
        guard isOpen else { return }
        // The collector cannot have committed more than was handed out; clamping keeps later entries visible.
        let through = min(sequence, statistics.highestSequence)
        guard through > statistics.acknowledgedSequence else { return }
        statistics.acknowledgedSequence = through
        while head < entries.count, entries[head].sequence <= through { removeFront(dropped: false) }
        // Oldest first, so a crash part-way leaves a suffix of the stream, never a hole. The segment being written
        // goes too when everything in it is acknowledged: a fully acknowledged spool is an empty directory.
        while let oldest = segments.first, oldest.lastSequence <= through {
            do throws(SpoolError) {
                try removeFile(path(of: oldest.firstSequence), segment: oldest.firstSequence)
            } catch {
                if deferredError == nil { deferredError = error }
                break
            }
            segments.removeFirst()
            statistics.usedBytes -= oldest.size
        }
    }

    // MARK: restart

    mutating func restartStream(keepingAbove floor: UInt64) throws(SpoolError) -> StreamRestart {
        guard isOpen else { throw SpoolError(.closed, path: label) }
        let first = statistics.highestSequence + 1
        let carried = entries[head...].filter { $0.sequence > floor }
        guard first < UInt64.max - 1 - UInt64(carried.count) else {
            throw SpoolError(.invalidBatch, path: label, detail: "sequence numbers exhausted")
        }
        let newBootID = Self.randomBootID()
        var renumbered: [EntryRecord] = []
        renumbered.reserveCapacity(carried.count)
        var unreadable: [EntryRecord] = []
        var size = 0
        if let directory {
            let temporary = directory + "/" + SegmentFormat.restartFileName
            try removeFile(temporary)
            let fd = try FileIO.open(temporary, O_RDWR | O_CREAT | O_EXCL, code: .openSegment)
            var failure: SpoolError?
            let header = SegmentFormat.header(bootID: newBootID, firstSequence: first)
            var error = header.withUnsafeBytes { FileIO.write(fd, at: 0, [$0]) }
            size = header.count
            // One entry at a time, read back and written out, so memory stays bounded by one batch.
            for record in carried where error == 0 {
                guard let payload = record.payload ?? readPayload(record) else {
                    unreadable.append(record)
                    continue
                }
                let sequence = first + UInt64(renumbered.count)
                let entryHeader = SegmentFormat.entryHeader(
                    sequence: sequence,
                    recordCount: record.recordCount,
                    payloadLength: UInt32(record.payloadLength),
                    payloadChecksum: CRC32C.checksum(payload)
                )
                error = write(fd, at: size, entryHeader, payload)
                renumbered.append(
                    EntryRecord(
                        sequence: sequence,
                        recordCount: record.recordCount,
                        payloadLength: record.payloadLength,
                        checksum: entryHeader.withUnsafeBytes { SegmentFormat.read(UInt32.self, $0, at: 4) },
                        segment: first,
                        payloadOffset: size + SegmentFormat.entryHeaderSize,
                        payload: nil
                    )
                )
                size += SegmentFormat.entryHeaderSize + payload.count
            }
            if error != 0 {
                failure = SpoolError(.writeSegment, path: temporary, osError: error)
            } else if !FileIO.dataSync(fd) {
                failure = SpoolError.lastOS(.sync, path: temporary)
            }
            FileIO.close(fd)
            if failure == nil, !renumbered.isEmpty {
                let final = path(of: first)
                if rename(temporary, final) != 0 {
                    failure = SpoolError.lastOS(.writeSegment, path: final, detail: "rename " + temporary)
                } else if fsync(directoryFD) != 0 {
                    failure = SpoolError.lastOS(.sync, path: directory)
                }
            }
            if let failure {
                unlink(temporary)
                throw failure
            }
            if renumbered.isEmpty { unlink(temporary) }
            // Only now that the new stream is on stable storage do the old segments go.
            for segment in segments {
                do throws(SpoolError) {
                    try removeFile(path(of: segment.firstSequence), segment: segment.firstSequence)
                } catch {
                    if deferredError == nil { deferredError = error }
                }
            }
            if currentFD >= 0 { FileIO.close(currentFD) }
            currentFD = -1
            for item in unsynced { FileIO.close(item.fd) }
            unsynced = []
            segments = []
            statistics.usedBytes = 0
            if !renumbered.isEmpty {
                let last = first + UInt64(renumbered.count) - 1
                segments = [SegmentRecord(firstSequence: first, lastSequence: last, size: size)]
                statistics.usedBytes = size
            }
            firstCached = renumbered.count
            cachedBytes = 0
        } else {
            for record in carried {
                var copy = record
                copy.sequence = first + UInt64(renumbered.count)
                renumbered.append(copy)
            }
            statistics.usedBytes = renumbered.reduce(0) { $0 + $1.encodedSize }
        }
        for record in unreadable {
            statistics.corruptBatches += 1
            statistics.droppedBatches += 1
            statistics.droppedRecords += Int(record.recordCount)
        }
        let previousBootID = bootID
        bootID = newBootID
        entries = renumbered
        head = 0
        rollRequested = false
        statistics.pendingRecords = renumbered.reduce(0) { $0 + Int($1.recordCount) }
        statistics.pendingBytes = renumbered.reduce(0) { $0 + $1.payloadLength }
        // The new stream starts above every old number, so file names keep sorting in stream order and recovery
        // after a crash picks the new stream (the newest segment's boot id).
        statistics.acknowledgedSequence = first - 1
        statistics.highestSequence = first - 1 + UInt64(renumbered.count)
        if directory != nil { statistics.syncedSequence = statistics.highestSequence }
        return StreamRestart(
            previousBootID: previousBootID,
            bootID: newBootID,
            batches: renumbered.count,
            records: statistics.pendingRecords,
            firstSequence: first
        )
    }

    // MARK: sync and close

    mutating func takeSyncJob() -> SyncJob {
        var job = SyncJob(sequence: statistics.highestSequence, error: deferredError)
        deferredError = nil
        guard isOpen, directory != nil else { return job }
        job.files = unsynced.map { ($0.fd, path(of: $0.segment)) }
        unsynced = []
        if currentFD >= 0, let current = segments.last {
            let copy = dup(currentFD)
            if copy >= 0 {
                job.files.append((copy, path(of: current.firstSequence)))
            } else if job.error == nil {
                job.error = SpoolError.lastOS(.sync, path: path(of: current.firstSequence))
            }
        }
        if directoryDirty {
            let copy = dup(directoryFD)
            if copy >= 0 {
                job.directoryFD = copy
                directoryDirty = false
            } else if job.error == nil {
                job.error = SpoolError.lastOS(.sync, path: label)
            }
        }
        return job
    }

    mutating func finishSync(_ job: SyncJob, succeeded: Bool) {
        if succeeded, directory != nil { statistics.syncedSequence = max(statistics.syncedSequence, job.sequence) }
    }

    var snapshot: SpoolStatistics {
        var snapshot = statistics
        snapshot.pendingBatches = entries.count - head
        snapshot.segments = segments.count
        return snapshot
    }

    /// Releases the lock and every descriptor. Writes nothing and syncs nothing: what a killed process leaves.
    mutating func close() {
        guard isOpen else { return }
        isOpen = false
        for item in unsynced { FileIO.close(item.fd) }
        unsynced = []
        // Unlock explicitly: a child process forked by another thread holds a copy of the descriptor until it
        // execs (O_CLOEXEC closes it only then), and close() alone leaves the lock with that copy.
        if lockFD >= 0 { flock(lockFD, LOCK_UN) }
        for fd in [currentFD, readFD, directoryFD, lockFD] where fd >= 0 { FileIO.close(fd) }
        currentFD = -1
        readFD = -1
        directoryFD = -1
        lockFD = -1
        entries = []
        head = 0
        firstCached = 0
        cachedBytes = 0
    }
}
