// OrderLog: the decision journal of flashsale.
//
// Records (`OrderRecord`) are encoded with `RecordCodec`, gathered into blocks, compressed with
// LZ4, checksummed with CRC-32C and appended to segment files by `SegmentWriter`.
// `SegmentReader` reads and verifies them. The on-disk format is specified in
// docs/segment-format.md; `SegmentFormat` holds its constants.
