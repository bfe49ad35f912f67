// QueueManager: one remote_write endpoint (RW 1.0). Tails the WAL (wal/reader.h), keeps a series
// cache (ref -> labels with external labels merged, series labels winning, encoded once), shards
// samples by series ref, batches them, and sends protobuf + snappy requests with retry and
// backoff. It never drops silently: full shards make the watcher wait, because the WAL is the
// buffer.
//
// Semantics follow Prometheus' queue manager and WAL watcher:
// - Progress: the WAL position before which every sample was acknowledged (or dropped as
//   non-recoverable) is saved atomically to <storage>/remote_write/<name>.progress (storage is
//   wal_dir's parent; name with characters outside [A-Za-z0-9._-] replaced by '_') at most
//   every second and on Stop. Samples abandoned at the flush deadline hold it back. Start
//   resumes there: older records are read for series only, every later sample is sent (at
//   least once: a record is re-sent whole if any of its samples was not done). When that
//   segment is gone, all segments left are sent. Without a progress file only samples with
//   t > the Clock's Now() at Start are sent, and segments older than the newest one at Start
//   are read for series only.
// - write_relabel_configs run once per series, after external labels are merged; samples of a
//   dropped series count as samples_dropped_total{reason="dropped_series"}.
// - Shards start at queue_config.min_shards; shard = ref % shards. Each shard holds up to
//   max(capacity, max_samples_per_send) samples and sends batches of at most
//   max_samples_per_send, when full or batch_send_deadline after its oldest unsent sample
//   arrived. A shard sends batch N+1 only after N succeeded or was dropped (per-series order).
// - Resharding: every shard_update_interval a ShardTuner (resharding.h) picks a count in
//   [min_shards, max_shards] from ingest vs send rate (skipped while no send completed in the
//   last interval, for 2x a retry's backoff after a recoverable error, and while the previous
//   reshard's barrier is up). The watcher keeps reading and nothing is drained: new samples are
//   routed by the new count at once, and every shard fences what it held; until every shard has
//   sent (or dropped) its pre-fence samples, shards send only pre-fence samples (a batch is cut
//   at the fence). So a series' samples under the new mapping are never sent before its samples
//   under the old one completed: per-series order holds. Shards no longer routed to are removed
//   once the barrier falls (they are empty by then).
// - sample_age_limit > 0: samples older than Clock::Now() - limit are dropped at enqueue and
//   again before each attempt (samples_dropped_total{reason="too_old"}).
// - max_bytes_per_second > 0: requests (samples and metadata, retries too) start only while a
//   token bucket of compressed bytes is not in debt (token_bucket.h).
// - Metadata: with QueueOptions::metadata and metadata_config.send, a MetadataSender
//   (metadata_sender.h) sends it every send_interval on its own connection, from the same loop.
// - 5xx, transport errors, timeouts (and 429 with retry_on_http_429) are retried forever with
//   backoff min_backoff..max_backoff, doubling, or Retry-After when given; other 4xx drop the
//   batch (samples_failed_total, rate-limited log).
// - Metrics: prometheus_remote_storage_* {remote_name, url} and prometheus_wal_watcher_*
//   {consumer} (shared/reference/self-metrics.md §1-2).
//
// Threads: one std::jthread per endpoint runs the watcher and drives every shard's HTTP request
// on one curl multi handle. Start/Stop from one owner; metrics readable any time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/labels.h"
#include "common/metrics.h"
#include "config/config.h"
#include "remotewrite/metadata.h"
#include "wal/reader.h"

namespace petrel::remotewrite {

struct QueueOptions {
  // Where metric metadata comes from; none (the default) sends no metadata.
  MetadataSource metadata;
  // How often the shard count is evaluated (Prometheus: 10 s).
  std::chrono::milliseconds shard_update_interval = std::chrono::seconds(10);
  // Tests only: replaces the tuner's choice (gets the current count and the tuner's).
  std::function<int(int current, int tuned)> decide_shards;
};

class QueueManager {
 public:
  // wal_dir is <storage>/wal. All references must outlive the QueueManager.
  QueueManager(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier,
               std::string wal_dir, config::RemoteWriteConfig config, Labels external_labels,
               QueueOptions options = {});
  ~QueueManager();

  // Starts the watcher and the send loop. Only the first call does anything.
  void Start();
  // Stops reading, sends what is queued for at most flush_deadline, then joins. After
  // RequestStop, flush_deadline is ignored (the requested one holds).
  void Stop(std::chrono::milliseconds flush_deadline = std::chrono::minutes(1));
  // Starts Stop without waiting, so several queues can flush in parallel; Stop() then joins.
  void RequestStop(std::chrono::milliseconds flush_deadline);

  const config::RemoteWriteConfig& config() const;

  // The segment of the saved-progress position (-1 before Start): the oldest record with a
  // sample not yet acknowledged is in it or later, so WAL truncation must keep this segment and
  // the later ones. Thread-safe (not concurrently with Start).
  int64_t CurrentSegment() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::remotewrite
