// SegmentWriter: writes records into numbered segment files, byte-compatible with Prometheus's
// wlog.WL (wal-format.md §2-3): 32 KiB pages, 7-byte fragment headers, CRC-32C, optional snappy
// or zstd record compression.
// Internal to wal/; Storage owns one. One caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/fs.h"
#include "common/metrics.h"
#include "common/status.h"
#include "wal/storage.h"

namespace petrel::wal {

struct WriterOptions {
  uint64_t segment_bytes = 128ull << 20;           // nominal size; a multiple of 32 KiB
  Compression compression = Compression::kSnappy;  // the smaller of raw and compressed is kept
  int zstd_level = kDefaultZstdLevel;
};

// The prometheus_tsdb_wal_* counters the writer maintains; any pointer may be null.
struct WriterMetrics {
  Counter* page_flushes = nullptr;
  Counter* completed_pages = nullptr;
  Counter* writes_failed = nullptr;
  Counter* record_part_writes = nullptr;
  Counter* record_parts_bytes = nullptr;
  Counter* bytes_saved_snappy = nullptr;  // {compression="snappy"}
  Counter* bytes_saved_zstd = nullptr;    // {compression="zstd"}
  Gauge* segment_current = nullptr;
  HistogramMetric* fsync_duration = nullptr;  // seconds per fsync of a segment

  // Registers the families above in registry.
  static WriterMetrics Register(Registry& registry);
};

class SegmentWriter {
 public:
  // Starts a new, empty segment `index` in wal_dir (which must exist). The file must not exist
  // yet: a segment is never appended to after it was closed. kIo on failure.
  static Result<std::unique_ptr<SegmentWriter>> Create(Fs& fs, std::string wal_dir, uint32_t index,
                                                       WriterOptions options,
                                                       WriterMetrics metrics);
  ~SegmentWriter();  // closes like Close(), ignoring errors

  // Writes the records, in order, then appends the bytes to the file (one write; no padding
  // of the open page, no fsync). A record that does not fit the current segment's remaining
  // capacity goes to a new segment; a record larger than a whole segment grows it.
  // kIo when the write failed; then none of these records is in the file (a partial write is
  // cut back off), and the writer can go on.
  Status Log(std::span<const std::string_view> records);
  Status Log(std::string_view record) { return Log(std::span<const std::string_view>(&record, 1)); }

  // Fsyncs the current segment when bytes were written since the last fsync.
  Status Sync();

  // Pads the open page, fsyncs and closes the current segment, then starts segment index+1.
  Status NextSegment();
  // Pads the open page, fsyncs and closes. Log fails with kIo afterwards.
  Status Close();

  uint32_t segment() const { return index_; }
  uint64_t segment_offset() const { return offset_; }  // bytes in the current segment

 private:
  SegmentWriter(Fs& fs, std::string wal_dir, WriterOptions options, WriterMetrics metrics);
  Status OpenSegment(uint32_t index);
  Status CloseSegment();
  Status SyncFile();
  // The record as stored: compressed into compressed_ when that is strictly smaller (then
  // *flag is the fragment flag), else rec itself.
  std::string_view Compress(std::string_view rec, uint8_t* flag);
  // Adds the fragments of one stored record to pending_; flag marks compression.
  void AddRecord(std::string_view rec, uint8_t flag);
  // Appends pending_ to the file; on failure cuts any partial write back off.
  Status WritePending();
  uint64_t Capacity() const;  // payload bytes that still fit in the current segment
  void Inc(Counter* c, double v = 1) {
    if (c != nullptr) c->Inc(v);
  }

  Fs& fs_;
  const std::string dir_;
  const WriterOptions options_;
  const WriterMetrics metrics_;
  uint32_t index_ = 0;
  std::unique_ptr<WritableFile> file_;
  uint64_t offset_ = 0;     // bytes of the segment, including pending_
  uint64_t written_ = 0;    // bytes of the segment already in the file
  uint64_t synced_ = 0;     // bytes of the segment known fsynced
  std::string pending_;     // bytes not yet appended to the file; reused across Log calls
  std::string compressed_;  // compression output buffer, reused
  struct Zstd;
  std::unique_ptr<Zstd> zstd_;  // compression context, when compression is zstd
  bool broken_ = false;         // a partial write could not be cut back; next Log rotates
};

}  // namespace petrel::wal
