// Checkpoints: fold the oldest segments into checkpoint.N so they can be deleted, keeping only
// what replay and remote write still need (wal-format.md §6). Internal to wal/; Storage's
// Truncate uses it. The format is Prometheus's, so its tools read Petrel checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "wal/appender.h"
#include "wal/segment_writer.h"

namespace petrel::wal {

struct CheckpointStats {
  uint64_t series_kept = 0;
  uint64_t series_dropped = 0;
  uint64_t samples_kept = 0;  // float and histogram samples
  uint64_t samples_dropped = 0;
  uint64_t exemplars_kept = 0;
  uint64_t exemplars_dropped = 0;
};

// Builds wal_dir/checkpoint.<last> from the newest existing checkpoint (if any) and segments
// max(first, previous+1) .. last: Series entries for which keep(ref) holds, and samples,
// histograms (each kind in its own record type) and exemplars with t >= mint; other record
// types are dropped. Written to checkpoint.<last>.tmp, fsynced, then
// renamed into place (leftover .tmp dirs are removed first). Any read error aborts, leaving the
// existing files untouched: kCorruption / kIo. Not thread-safe with itself.
Result<CheckpointStats> Checkpoint(Fs& fs, const std::string& wal_dir, uint32_t first,
                                   uint32_t last, const std::function<bool(SeriesRef)>& keep,
                                   int64_t mint, WriterOptions options);

// Removes the checkpoint dirs with an index below `before`.
Status DeleteCheckpoints(Fs& fs, const std::string& wal_dir, uint32_t before);

}  // namespace petrel::wal
