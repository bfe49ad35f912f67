// Storage: the agent's WAL-only store (Prometheus tsdb/agent). Owns <dir>/wal, the series store
// (a 128-bit label-set hash per ref, with its last timestamp) and the segment writer.
//
// Open replays the newest checkpoint and the segments after it (series records rebuild the
// store and the next ref; float and histogram samples restore each series' last timestamp;
// exemplars restore nothing, as in Prometheus), then always starts a
// fresh segment, as Prometheus does.
// Thread-safe: any number of Appenders may commit concurrently; commits are serialized.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/metrics.h"
#include "common/status.h"
#include "wal/appender.h"
#include "wal/reader.h"

namespace petrel::wal {

// Record compression. Readers decode both snappy and zstd whatever is configured (zstd only
// when built with libzstd). Prometheus before 2.51 cannot read zstd.
enum class Compression { kNone, kSnappy, kZstd };

// Prometheus writes zstd at klauspost/compress's default speed (about level 3). Petrel uses 4:
// for records of a scrape's size (< 128 KiB) it is the first level whose matches start at 4
// bytes, which catches the zero bytes that end most sample values (a whole number needs few
// mantissa bits), at the speed of level 3 (docs/wal.md has the measurements).
inline constexpr int kDefaultZstdLevel = 4;

// False for kZstd when this build has no libzstd.
bool CompressionSupported(Compression compression);

struct Options {
  uint64_t segment_bytes = 128ull << 20;  // multiple of 32 KiB
  Compression compression = Compression::kSnappy;
  // The zstd level when compression is kZstd. Any level is read by every zstd reader
  // (Prometheus >= 2.51 included); see docs/wal.md for the sizes and costs measured.
  int zstd_level = kDefaultZstdLevel;
  // --storage.agent.wal-fsync-interval. A background thread fsyncs the active segment this
  // often; 0 fsyncs in every commit. Closed segments are always fsynced on rotation. Either
  // way a process crash (kill -9) loses nothing committed: the bytes are in the OS page cache.
  // A power loss loses at most the commits of the last interval.
  std::chrono::milliseconds fsync_interval{5000};
};

// What Storage knows about one segment file.
struct SegmentStats {
  uint32_t index = 0;
  uint64_t bytes = 0;    // file size
  uint64_t samples = 0;  // float and histogram samples in its records
  int64_t max_ts = std::numeric_limits<int64_t>::min();  // newest sample; min() when none
};

class Storage {
 public:
  // dir is --storage.agent.path; the WAL lives in dir/wal. Errors: kIo; kInvalidArgument for a
  // bad segment size or compression; kCorruption when the segment files are not sequential or
  // the checkpoint is corrupt. A corrupt segment does not fail Open: the WAL is repaired (see
  // replay_status()).
  static Result<std::unique_ptr<Storage>> Open(Fs& fs, Registry& metrics, const std::string& dir,
                                               Options options);
  virtual ~Storage() = default;

  virtual std::unique_ptr<Appender> NewAppender() = 0;
  // Notified after every commit that wrote records.
  virtual WriteNotifier& notifier() = 0;
  virtual const std::string& wal_dir() const = 0;
  virtual uint32_t CurrentSegment() const = 0;
  virtual size_t ActiveSeries() const = 0;
  // What replay in Open found: ok, or the corruption (segment and offset) that was repaired by
  // cutting the WAL there, as Prometheus's WL.Repair does: records before the corrupt offset are
  // kept, the rest of that segment and every later segment are deleted. Open logs it too.
  virtual const Status& replay_status() const = 0;
  // The agent's truncation cycle (Prometheus tsdb/agent, wal-format.md §7): drops from memory
  // the series with no sample at or after mint_ms, rotates to a new segment, then folds the
  // older two thirds of the closed segments into checkpoint.N (series still referenced, samples
  // at or after mint_ms) and deletes those segments and older checkpoints. A dropped series'
  // record stays in checkpoints until the segments that may hold its samples are folded in.
  // Thread-safe; commits go on meanwhile. Errors: kIo; kCorruption when a segment to fold is
  // corrupt (nothing is deleted then).
  // keep_from_segment bounds the fold: segments >= it are never folded or deleted (an endpoint
  // still reads them), whatever mint_ms says.
  virtual Status Truncate(int64_t mint_ms, uint32_t keep_from_segment) = 0;
  Status Truncate(int64_t mint_ms) {
    return Truncate(mint_ms, std::numeric_limits<uint32_t>::max());
  }
  // Retention forcing data out (max-size, max-time): folds every segment <= last (capped below
  // the active one) into checkpoint.<last>, keeping series records but none of their samples,
  // and deletes them. Returns what the dropped segments held (empty when nothing was dropped).
  // Thread-safe, serialized with Truncate. Errors as Truncate.
  virtual Result<std::vector<SegmentStats>> DropSegments(uint32_t last) = 0;
  // The segment files, oldest first; the active segment is last. Thread-safe.
  virtual std::vector<SegmentStats> Segments() const = 0;
  // Bytes of the newest checkpoint directory.
  virtual uint64_t CheckpointBytes() const = 0;
  // Backpressure (retention policy "backpressure"): while full, Commit drops its samples and
  // fails with kUnavailable (counted in petrel_wal_samples_rejected_total); Append, Rollback
  // and readers work as usual. Thread-safe.
  virtual void SetFull(bool full) = 0;
  virtual bool full() const = 0;
  // Fsyncs what was committed to the active segment (the fsync-interval thread calls this).
  virtual Status Sync() = 0;
  // Pads the last page, fsyncs and closes the segment. Appenders must not be used after.
  virtual Status Close() = 0;
};

}  // namespace petrel::wal
