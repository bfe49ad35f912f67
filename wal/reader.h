// Reading the WAL directory: what remotewrite/ (and replay) may use. The only WAL header
// remotewrite/ includes besides records.h. No writer state is shared: readers open the files.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace petrel::wal {

inline constexpr uint32_t kPageSize = 32 * 1024;
inline constexpr uint32_t kFragmentHeaderSize = 7;

// "00000042"
std::string SegmentName(uint32_t index);

// Indexes of the segment files in wal_dir, ascending. Non-numeric names are ignored.
// kCorruption "segments are not sequential" when there is a gap; kNotFound if no dir.
Result<std::vector<uint32_t>> ListSegments(Fs& fs, const std::string& wal_dir);

// "checkpoint.00000041": the dir holding a checkpoint of segments <= 41. Its segment files have
// the same format (read them with SegmentReader, passing the checkpoint dir as wal_dir).
std::string CheckpointName(uint32_t index);

// The index of the newest complete checkpoint in wal_dir ("checkpoint.N", not ".tmp"), or -1
// when there is none. kCorruption when a checkpoint.N entry is not a directory.
Result<int64_t> LastCheckpoint(Fs& fs, const std::string& wal_dir);

// Reads the records of one segment file from its start. One caller at a time.
//
// Strict mode (replay, checkpoints): the file is final; a short last page is treated as zero
// padding, a record still open at the end is kCorruption "last record is torn".
// Live mode (tailing a segment being written): an incomplete fragment or record at the end is
// not an error; Next returns false and a later call continues once more bytes are there.
// Tailing protocol: records never span segments and the writer finishes a segment before it
// creates the next, so once segment index+1 exists, read this one until Next returns false
// once more; it is then complete. A live reader accepts a segment not yet padded.
// Errors say where: "segment 00000012 offset 40960: checksum mismatch"; they are kCorruption
// (sticky: later calls return the same error) or kIo (a failed read; may be retried).
class SegmentReader {
 public:
  enum class Mode { kStrict, kLive };

  static Result<std::unique_ptr<SegmentReader>> Open(Fs& fs, const std::string& wal_dir,
                                                     uint32_t index, Mode mode);
  ~SegmentReader();

  // true: *record holds the next record (decompressed). false: no further record (strict: end
  // of segment; live: none complete yet).
  Result<bool> Next(std::string* record);

  uint32_t index() const;
  // Offset just past the last record returned (a resume point).
  uint64_t offset() const;

 private:
  class Impl;
  explicit SegmentReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Wakes readers when records were committed. Thread-safe.
class WriteNotifier {
 public:
  void Notify() {
    {
      std::lock_guard lock(mu_);
      ++seq_;
    }
    cv_.notify_all();
  }
  // Waits until a notification newer than *seen, the timeout, or a stop request; returns true
  // when notified and updates *seen.
  bool WaitFor(uint64_t* seen, std::chrono::milliseconds timeout, std::stop_token stop) {
    std::unique_lock lock(mu_);
    std::stop_callback wake(stop, [this] { cv_.notify_all(); });
    cv_.wait_for(lock, timeout, [&] { return seq_ != *seen || stop.stop_requested(); });
    bool notified = seq_ != *seen;
    *seen = seq_;
    return notified;
  }

 private:
  std::mutex mu_;  // guards seq_
  std::condition_variable cv_;
  uint64_t seq_ = 0;
};

}  // namespace petrel::wal
