// Storage: the agent's WAL-only store (Prometheus tsdb/agent). Owns <dir>/wal, the series store
// (one interned label set per ref, with its last timestamp) and the segment writer.
//
// Open replays the newest checkpoint and the segments after it (series records rebuild the
// store and the next ref; samples restore each series' last timestamp), then always starts a
// fresh segment, as Prometheus does.
// Thread-safe: any number of Appenders may commit concurrently; commits are serialized.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/fs.h"
#include "common/metrics.h"
#include "common/status.h"
#include "wal/appender.h"
#include "wal/reader.h"

namespace petrel::wal {

// Record compression. Readers decode both snappy and zstd whatever is configured (zstd only
// when built with libzstd). Prometheus before 2.51 cannot read zstd.
enum class Compression { kNone, kSnappy, kZstd };

// False for kZstd when this build has no libzstd.
bool CompressionSupported(Compression compression);

struct Options {
  uint64_t segment_bytes = 128ull << 20;  // multiple of 32 KiB
  Compression compression = Compression::kSnappy;
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
  virtual Status Truncate(int64_t mint_ms) = 0;
  // Pads the last page, fsyncs and closes the segment. Appenders must not be used after.
  virtual Status Close() = 0;
};

}  // namespace petrel::wal
