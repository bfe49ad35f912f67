// QueueManager: one remote_write endpoint. Tails the WAL (wal/reader.h), keeps a series cache
// (ref -> labels with external labels merged, series labels winning), shards samples by
// series ref, batches them, and sends RW 1.0 requests (protobuf + snappy) with retry and
// backoff. It never drops silently: full shards make the watcher wait, because the WAL is
// the buffer.
//
// Thread-safe: Start/Stop from one owner; metrics readable any time.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/labels.h"
#include "common/metrics.h"
#include "config/config.h"
#include "wal/reader.h"

namespace petrel::remotewrite {

class QueueManager {
 public:
  // wal_dir is <storage>/wal. All references must outlive the QueueManager.
  QueueManager(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier,
               std::string wal_dir, config::RemoteWriteConfig config, Labels external_labels);
  ~QueueManager();

  // Starts the watcher and the send loop.
  void Start();
  // Stops reading, sends what is queued for at most flush_deadline, then joins.
  void Stop(std::chrono::milliseconds flush_deadline = std::chrono::minutes(1));

  const config::RemoteWriteConfig& config() const;

  // The WAL segment the watcher is reading (-1 before Start or before the WAL exists). Samples
  // of older segments are already in memory, so WAL truncation must keep this segment and the
  // later ones. Thread-safe (not concurrently with Start).
  int64_t CurrentSegment() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::remotewrite
