#include "wal/storage.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <vector>

#include "wal/checkpoint.h"
#include "wal/histogram_check.h"
#include "wal/records.h"
#include "wal/segment_writer.h"
#include "wal/series_store.h"

namespace petrel::wal {
namespace {

uint64_t FileBytes(Fs& fs, const std::string& path) {
  auto f = fs.OpenForRead(path);
  if (!f.ok()) return 0;
  auto size = (*f)->Size();
  return size.ok() ? *size : 0;
}

uint64_t DirBytes(Fs& fs, const std::string& d, int depth) {
  auto names = fs.List(d);
  if (!names.ok()) return 0;
  uint64_t total = 0;
  for (const auto& name : *names) {
    const std::string path = JoinPath(d, name);
    if (fs.IsDir(path)) {
      if (depth < 2) total += DirBytes(fs, path, depth + 1);
      continue;
    }
    total += FileBytes(fs, path);
  }
  return total;
}

// Bytes in the WAL dir (segments and checkpoint dirs), for a gauge computed at scrape time.
// Shared with the registry's callback, which may outlive the Storage: Close() detaches it.
struct SizeProbe {
  std::mutex mu;  // guards fs
  Fs* fs = nullptr;
  std::string dir;

  double Bytes() {
    std::lock_guard lock(mu);
    return fs == nullptr ? 0 : static_cast<double>(DirBytes(*fs, dir, 0));
  }
};

class StorageImpl;

// One scrape's batch. Buffers are kept across batches, so a steady scrape allocates nothing.
class AppenderImpl final : public Appender {
 public:
  explicit AppenderImpl(StorageImpl& storage) : storage_(storage) {}
  Result<SeriesRef> Append(SeriesRef ref, const Labels& labels, int64_t t_ms,
                           double value) override;
  Result<SeriesRef> AppendHistogram(SeriesRef ref, const Labels& labels, int64_t t_ms,
                                    const Histogram* h, const FloatHistogram* fh) override;
  Status AppendExemplar(SeriesRef ref, int64_t t_ms, double value,
                        const Labels& exemplar_labels) override;
  Status Commit() override;
  void Rollback() override;

 private:
  // The series with `labels`, created (and remembered as created) when new.
  Result<MemSeries*> Create(const Labels& labels);
  // Whether t_ms is after the series' last committed sample (float or histogram); counts the
  // rejects as Prometheus does.
  bool InOrder(const MemSeries& series, int64_t t_ms);
  // Encodes the pending histograms and exemplars into records_, after the samples record.
  void EncodeHistogramsAndExemplars();
  size_t HistogramCount() const;
  void RememberExemplars();
  void CountAppended();
  void Clear();

  StorageImpl& storage_;
  std::vector<RefSample> samples_;
  std::vector<MemSeries*> sample_series_;  // parallel to samples_
  std::vector<MemSeries*> created_;        // series this batch created
  // Native histograms by kind, [0] exponential and [1] custom buckets: a record holds one kind.
  std::vector<RefHistogramSample> histograms_[2];
  std::vector<RefFloatHistogramSample> float_histograms_[2];
  std::vector<MemSeries*> histogram_series_;  // every histogram's series, in append order
  std::vector<int64_t> histogram_ts_;         // parallel to histogram_series_
  std::vector<RefExemplar> exemplars_;
  std::vector<MemSeries*> exemplar_series_;  // parallel to exemplars_
  std::string samples_record_;
  std::string records_[5];  // histograms (7, 9), float histograms (8, 10), exemplars (4)
  std::vector<std::string_view> to_write_;
};

class StorageImpl final : public Storage {
 public:
  StorageImpl(Fs& fs, Registry& registry, std::string dir, Options options);
  ~StorageImpl() override;

  Status Init();
  std::unique_ptr<Appender> NewAppender() override { return std::make_unique<AppenderImpl>(*this); }
  WriteNotifier& notifier() override { return notifier_; }
  const std::string& wal_dir() const override { return wal_dir_; }
  uint32_t CurrentSegment() const override {
    std::lock_guard lock(writer_mu_);
    return writer_ ? writer_->segment() : closed_segment_;
  }
  size_t ActiveSeries() const override { return store_.size(); }
  const Status& replay_status() const override { return replay_status_; }
  using Storage::Truncate;
  Status Truncate(int64_t mint_ms, uint32_t keep_from_segment) override;
  Result<std::vector<SegmentStats>> DropSegments(uint32_t last) override;
  std::vector<SegmentStats> Segments() const override;
  uint64_t CheckpointBytes() const override;
  void SetFull(bool full) override { full_.store(full, std::memory_order_relaxed); }
  bool full() const override { return full_.load(std::memory_order_relaxed); }
  Status Sync() override;
  Status Close() override;

 private:
  friend class AppenderImpl;

  Status Replay(std::vector<uint32_t>* segments);
  // Applies the records of segment dir/index. A corruption is not an error: it is stored in
  // *corruption, with *good_end the end of the last good record. Other errors are returned.
  Status ReplaySegment(const std::string& dir, uint32_t index, Status* corruption,
                       uint64_t* good_end);
  Status ApplyRecord(std::string_view rec);
  // Replay of a samples or histogram record: each series' last timestamp, and the segment's
  // sample count and newest timestamp.
  template <typename Sample>
  void RestoreLastTs(std::span<const Sample> samples);
  Status Repair(const std::vector<uint32_t>& segments, uint32_t index, uint64_t good_end);
  // Writes a Series record for every series in the lists not yet in the WAL, then `records`
  // (in order; none may be empty). Serialized by writer_mu_.
  // The records hold n_samples samples (floats and histograms), the newest at max_ts.
  Status Write(std::initializer_list<std::span<MemSeries* const>> series,
               std::span<const std::string_view> records, uint64_t n_samples, int64_t max_ts);
  // The fsync-interval thread.
  void SyncLoop(std::stop_token stop);

  // Truncate's steps after GC and rotation: checkpoint [first, last] and delete what it covers.
  // Requires truncate_mu_.
  Status CheckpointAndDelete(uint32_t first, uint32_t last, int64_t mint_ms);
  // The bytes a repair of segment `index` cut at good_end drops (there and in later segments).
  uint64_t RepairLoss(const std::vector<uint32_t>& segments, uint32_t index, uint64_t good_end);

  Fs& fs_;
  const std::string dir_;
  const std::string wal_dir_;
  const Options options_;
  SeriesStore store_;
  WriteNotifier notifier_;
  Status replay_status_;
  std::shared_ptr<SizeProbe> size_probe_;
  // Replay state, released when replay ends.
  std::unordered_map<SeriesRef, SeriesRef> replay_remap_;  // duplicate ref -> first ref
  std::vector<RefSeries> replay_series_;
  std::vector<RefSample> replay_samples_;
  int64_t last_checkpoint_ = -1;  // index of the checkpoint replayed, or -1
  int64_t replay_segment_ = -1;   // the WAL segment being replayed; -1 for a checkpoint

  Gauge* active_series_;
  Counter* samples_appended_;     // {type="float"}
  Counter* histograms_appended_;  // samples_appended_total{type="histogram"}
  Counter* exemplars_appended_;
  Counter* out_of_order_;
  Gauge* replay_duration_;
  WriterMetrics writer_metrics_;
  Gauge* deleted_series_;
  Counter* checkpoint_creations_;
  Counter* checkpoint_creations_failed_;
  Counter* checkpoint_deletions_;
  Counter* checkpoint_deletions_failed_;
  Counter* truncations_;
  Counter* truncations_failed_;
  Counter* corruptions_;
  Counter* repair_dropped_bytes_;
  Counter* samples_rejected_;
  std::atomic<bool> full_{false};

  // Serializes Truncate; guards deleted_.
  std::mutex truncate_mu_;
  // Refs dropped by GC -> the last segment when dropped: their series records stay in
  // checkpoints until a checkpoint covers that segment.
  std::unordered_map<SeriesRef, uint32_t> deleted_;

  // The last exemplar appended per series: an exact repeat is dropped, as Prometheus's agent
  // does (scrapes repeat an exemplar until a new one is observed).
  // Guards last_exemplar_. May be held while the series store looks a ref up, never the
  // other way round.
  std::mutex exemplar_mu_;
  std::unordered_map<SeriesRef, RefExemplar> last_exemplar_;

  // Guards writer_, closed_segment_, series_record_, to_log_, and every MemSeries::logged
  // transition (hence every read and release of a series' pending labels). Taken after (never
  // while holding) the series store's lock; the store's pending-labels lock is taken under it.
  mutable std::mutex writer_mu_;
  std::unique_ptr<SegmentWriter> writer_;
  uint32_t closed_segment_ = 0;
  std::string series_record_;
  std::vector<MemSeries*> to_log_;
  // Failed writes (a full disk): the first is logged at once, the rest every 10 s, and the
  // first success after them says what was lost. Guarded by writer_mu_.
  struct WriteFailures {
    uint64_t writes = 0, samples = 0;  // since the first failure of this run
    uint64_t unlogged = 0;             // failures since the last log line
    std::chrono::steady_clock::time_point last_log;
  } write_failures_;
  void NoteWriteFailure(const Status& s, uint64_t n_samples);
  void NoteWriteSuccess();
  // Samples and newest timestamp per segment still on disk (from replay and commits).
  std::map<uint32_t, SegmentStats> seg_stats_;

  // Last member: stopped and joined first on destruction (Close does it explicitly).
  std::jthread syncer_;
};

StorageImpl::StorageImpl(Fs& fs, Registry& r, std::string dir, Options options)
    : fs_(fs),
      dir_(std::move(dir)),
      wal_dir_(JoinPath(dir_, "wal")),
      options_(options),
      size_probe_(std::make_shared<SizeProbe>()) {
  active_series_ = r.GetGauge("prometheus_agent_active_series",
                              "Number of active series being tracked by the WAL storage");
  samples_appended_ =
      r.GetCounter("prometheus_agent_samples_appended_total",
                   "Total number of samples appended to the storage", {"type"}, {"float"});
  histograms_appended_ =
      r.GetCounter("prometheus_agent_samples_appended_total",
                   "Total number of samples appended to the storage", {"type"}, {"histogram"});
  exemplars_appended_ = r.GetCounter("prometheus_agent_exemplars_appended_total",
                                     "Total number of exemplars appended to the storage");
  out_of_order_ = r.GetCounter("prometheus_agent_out_of_order_samples_total",
                               "Total number of out of order samples ingestion failed attempts.");
  replay_duration_ = r.GetGauge("prometheus_agent_data_replay_duration_seconds",
                                "Time taken to replay the data on disk.");
  writer_metrics_ = WriterMetrics::Register(r);
  deleted_series_ = r.GetGauge("prometheus_agent_deleted_series",
                               "Number of series pending deletion from the WAL");
  checkpoint_creations_ = r.GetCounter("prometheus_agent_checkpoint_creations_total",
                                       "Number of WAL checkpoint creations attempted");
  checkpoint_creations_failed_ = r.GetCounter("prometheus_agent_checkpoint_creations_failed_total",
                                              "Number of WAL checkpoint creations that failed");
  checkpoint_deletions_ = r.GetCounter("prometheus_agent_checkpoint_deletions_total",
                                       "Number of WAL checkpoint deletions attempted");
  checkpoint_deletions_failed_ = r.GetCounter("prometheus_agent_checkpoint_deletions_failed_total",
                                              "Number of WAL checkpoint deletions that failed");
  truncations_ = r.GetCounter("prometheus_tsdb_wal_truncations_total",
                              "Total number of write log truncations attempted.");
  truncations_failed_ = r.GetCounter("prometheus_tsdb_wal_truncations_failed_total",
                                     "Total number of write log truncations that failed.");
  corruptions_ = r.GetCounter("prometheus_agent_corruptions_total",
                              "Total number of WAL corruptions found (replay and checkpointing).");
  repair_dropped_bytes_ =
      r.GetCounter("petrel_wal_repair_dropped_bytes_total",
                   "Bytes of WAL cut off by repairs of a corrupt or torn segment on open.");
  samples_rejected_ =
      r.GetCounter("petrel_wal_samples_rejected_total",
                   "Samples whose commit was refused because the WAL is full (policy "
                   "backpressure).");
  size_probe_->fs = &fs_;
  size_probe_->dir = wal_dir_;
  r.AddGaugeFunc("prometheus_tsdb_wal_storage_size_bytes", "Size of the write log directory.",
                 [probe = size_probe_] { return probe->Bytes(); });
}

StorageImpl::~StorageImpl() { (void)Close(); }

Status StorageImpl::Init() {
  if (options_.segment_bytes < kPageSize || options_.segment_bytes % kPageSize != 0) {
    return Status::InvalidArgument(fmt::format("segment size {} is not a positive multiple of {}",
                                               options_.segment_bytes, kPageSize));
  }
  if (!CompressionSupported(options_.compression)) {
    return Status::InvalidArgument("zstd compression is not supported by this build");
  }
  if (Status s = fs_.MkdirAll(wal_dir_); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint32_t> segments;
  if (Status s = Replay(&segments); !s.ok()) return s;
  replay_duration_->Set(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  active_series_->Set(static_cast<double>(store_.size()));
  // Never append to an old segment: its tail may be torn, and readers treat closed segments
  // as final.
  uint32_t next = segments.empty() ? 0 : segments.back() + 1;
  // A checkpoint with no later segment left: continue after it, so replay will not skip the
  // new segments as "covered by the checkpoint".
  if (last_checkpoint_ >= 0) next = std::max<uint32_t>(next, last_checkpoint_ + 1);
  auto writer = SegmentWriter::Create(fs_, wal_dir_, next,
                                      {.segment_bytes = options_.segment_bytes,
                                       .compression = options_.compression,
                                       .zstd_level = options_.zstd_level},
                                      writer_metrics_);
  if (!writer.ok()) return writer.status();
  writer_ = std::move(*writer);
  if (options_.fsync_interval.count() > 0) {
    syncer_ = std::jthread([this](std::stop_token stop) { SyncLoop(std::move(stop)); });
  }
  return Status::Ok();
}

void StorageImpl::SyncLoop(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait_for(lock, stop, options_.fsync_interval, [] { return false; });
    if (stop.stop_requested()) return;
    if (Status s = Sync(); !s.ok()) spdlog::error("wal: fsync failed: {}", s.message());
  }
}

Status StorageImpl::Sync() {
  std::lock_guard lock(writer_mu_);
  if (!writer_) return Status::Ok();
  return writer_->Sync();
}

Status StorageImpl::Replay(std::vector<uint32_t>* segments) {
  auto listed = ListSegments(fs_, wal_dir_);
  if (!listed.ok()) return listed.status();
  *segments = std::move(*listed);
  // The newest checkpoint holds the series (and last timestamps) of the segments it replaced;
  // segments it covers are skipped. A broken checkpoint cannot be repaired by cutting it.
  auto checkpoint = LastCheckpoint(fs_, wal_dir_);
  if (!checkpoint.ok()) return checkpoint.status();
  last_checkpoint_ = *checkpoint;
  if (*checkpoint >= 0) {
    const auto index = static_cast<uint32_t>(*checkpoint);
    const std::string dir = JoinPath(wal_dir_, CheckpointName(index));
    auto parts = ListSegments(fs_, dir);
    if (!parts.ok()) return parts.status();
    replay_segment_ = -1;
    for (uint32_t part : *parts) {
      Status found;
      uint64_t good_end = 0;
      if (Status s = ReplaySegment(dir, part, &found, &good_end); !s.ok()) return s;
      if (!found.ok()) return found.Prefixed(CheckpointName(index));
    }
  }
  for (size_t i = 0; i < segments->size(); ++i) {
    const uint32_t index = (*segments)[i];
    if (*checkpoint >= 0 && index <= *checkpoint) continue;
    uint64_t good_end = 0;
    replay_segment_ = index;
    if (Status s = ReplaySegment(wal_dir_, index, &replay_status_, &good_end); !s.ok()) return s;
    if (!replay_status_.ok()) {
      corruptions_->Inc();
      const uint64_t lost = RepairLoss(*segments, index, good_end);
      repair_dropped_bytes_->Inc(static_cast<double>(lost));
      spdlog::warn(
          "wal: replay found corruption, repairing: {}; cutting {} bytes at segment {} "
          "offset {}",
          replay_status_.message(), lost, SegmentName(index), good_end);
      if (Status s = Repair(*segments, index, good_end); !s.ok()) {
        return s.Prefixed("repairing " + replay_status_.message());
      }
      segments->resize(i + 1);
      break;
    }
  }
  // A duplicate ref's samples may sit in any replayed segment: keep its series record in
  // checkpoints until they all are folded in, as Prometheus does.
  if (!segments->empty()) {
    for (const auto& [dup, first_ref] : replay_remap_) deleted_[dup] = segments->back();
  }
  deleted_series_->Set(static_cast<double>(deleted_.size()));
  replay_remap_.clear();
  replay_series_ = {};
  replay_samples_ = {};
  return Status::Ok();
}

Status StorageImpl::ReplaySegment(const std::string& dir, uint32_t index, Status* corruption,
                                  uint64_t* good_end) {
  auto reader = SegmentReader::Open(fs_, dir, index, SegmentReader::Mode::kStrict);
  if (!reader.ok()) return reader.status();
  std::string rec;
  for (;;) {
    const uint64_t before = (*reader)->offset();
    auto more = (*reader)->Next(&rec);
    Status s = more.ok() ? Status::Ok() : more.status();
    if (s.ok() && !*more) return Status::Ok();
    if (s.ok()) {
      s = ApplyRecord(rec);
      if (!s.ok()) s = s.Prefixed(fmt::format("segment {} offset {}", SegmentName(index), before));
    }
    if (s.code() == Code::kCorruption) {
      *corruption = s;
      *good_end = before;
      return Status::Ok();
    }
    if (!s.ok()) return s;
  }
}

Status StorageImpl::ApplyRecord(std::string_view rec) {
  std::vector<RefSeries>& series = replay_series_;
  std::vector<RefSample>& samples = replay_samples_;
  const RecordType type = TypeOf(rec);
  switch (type) {
    case RecordType::kSeries: {
      series.clear();
      if (Status s = DecodeSeries(rec, &series); !s.ok()) return s;
      for (auto& rs : series) {
        const SeriesRef ref = rs.ref;
        MemSeries* m = store_.AddReplayed(ref, rs.labels);
        if (m->ref != ref) replay_remap_[ref] = m->ref;
      }
      return Status::Ok();
    }
    case RecordType::kSamples: {
      samples.clear();
      if (Status s = DecodeSamples(rec, &samples); !s.ok()) return s;
      RestoreLastTs(std::span<const RefSample>(samples));
      return Status::Ok();
    }
    case RecordType::kHistogramSamples:
    case RecordType::kCustomBucketsHistogramSamples: {
      std::vector<RefHistogramSample> histograms;
      if (Status s = DecodeHistogramSamples(rec, &histograms); !s.ok()) return s;
      RestoreLastTs(std::span<const RefHistogramSample>(histograms));
      return Status::Ok();
    }
    case RecordType::kFloatHistogramSamples:
    case RecordType::kCustomBucketsFloatHistogramSamples: {
      std::vector<RefFloatHistogramSample> histograms;
      if (Status s = DecodeFloatHistogramSamples(rec, &histograms); !s.ok()) return s;
      RestoreLastTs(std::span<const RefFloatHistogramSample>(histograms));
      return Status::Ok();
    }
    // Exemplars restore nothing (Prometheus does not even decode them on replay). The others are
    // valid in a Prometheus agent WAL but never written by Petrel.
    case RecordType::kExemplars:
    case RecordType::kTombstones:
    case RecordType::kSamplesV2:
    case RecordType::kHistogramSamplesV2:
    case RecordType::kFloatHistogramSamplesV2:
      return Status::Ok();
    default:
      // The Prometheus agent rejects these too (wal-format.md §5), which triggers repair.
      return Status::Corruption(
          fmt::format("invalid record type {}",
                      rec.empty() ? -1 : static_cast<int>(static_cast<uint8_t>(rec[0]))));
  }
}

template <typename Sample>
void StorageImpl::RestoreLastTs(std::span<const Sample> samples) {
  if (replay_segment_ >= 0 && !samples.empty()) {
    SegmentStats& st = seg_stats_[static_cast<uint32_t>(replay_segment_)];
    st.samples += samples.size();
    for (const auto& rs : samples) st.max_ts = std::max(st.max_ts, rs.t);
  }
  for (const auto& rs : samples) {
    SeriesRef ref = rs.ref;
    if (!replay_remap_.empty()) {
      if (auto it = replay_remap_.find(ref); it != replay_remap_.end()) ref = it->second;
    }
    MemSeries* m = store_.GetByRef(ref);
    if (m == nullptr) continue;  // series record lost; Prometheus skips these too
    if (rs.t > m->last_ts.load(std::memory_order_relaxed)) {
      m->last_ts.store(rs.t, std::memory_order_relaxed);
    }
  }
}

uint64_t StorageImpl::RepairLoss(const std::vector<uint32_t>& segments, uint32_t index,
                                 uint64_t good_end) {
  uint64_t lost = 0;
  for (uint32_t i : segments) {
    if (i < index) continue;
    const uint64_t size = FileBytes(fs_, JoinPath(wal_dir_, SegmentName(i)));
    lost += i == index ? (size > good_end ? size - good_end : 0) : size;
  }
  return lost;
}

Status StorageImpl::Repair(const std::vector<uint32_t>& segments, uint32_t index,
                           uint64_t good_end) {
  for (uint32_t later : segments) {
    if (later <= index) continue;
    if (Status s = fs_.Remove(JoinPath(wal_dir_, SegmentName(later))); !s.ok()) return s;
    seg_stats_.erase(later);
  }
  // Cutting at the end of the last good record and zero-filling its page leaves exactly the
  // bytes Prometheus's repair would rewrite (it re-logs those records into a fresh file).
  const std::string path = JoinPath(wal_dir_, SegmentName(index));
  if (Status s = fs_.Truncate(path, good_end); !s.ok()) return s;
  if (const uint64_t used = good_end % kPageSize; used != 0) {
    auto file = fs_.OpenForAppend(path);
    if (!file.ok()) return file.status();
    Status s = (*file)->Append(std::string(kPageSize - used, '\0'));
    if (s.ok()) s = (*file)->Sync();
    Status c = (*file)->Close();
    if (!s.ok() || !c.ok()) return s.ok() ? c : s;
  }
  return fs_.SyncDir(wal_dir_);
}

Status StorageImpl::Write(std::initializer_list<std::span<MemSeries* const>> series,
                          std::span<const std::string_view> records, uint64_t n_samples,
                          int64_t max_ts) {
  std::lock_guard lock(writer_mu_);
  if (!writer_) return Status::Io("wal storage is closed");
  // A series may have been created by another appender whose commit has not happened yet; its
  // record must still precede our samples, so whoever writes first logs it.
  to_log_.clear();
  for (auto list : series) {
    for (MemSeries* s : list) {
      if (!s->logged.load(std::memory_order_relaxed)) {
        s->logged.store(true, std::memory_order_relaxed);
        to_log_.push_back(s);
      }
    }
  }
  // The Series record goes first, in the same write as the rest.
  std::string_view all[8];
  assert(records.size() < std::size(all));
  size_t n = 0;
  if (!to_log_.empty()) {
    series_record_.clear();
    series_record_.push_back(static_cast<char>(RecordType::kSeries));
    for (MemSeries* s : to_log_) {
      // A series is unlogged only from its creation until a write of its record succeeds, and
      // the store keeps its labels until ReleasePending below. Without them the entry would be
      // a corrupt record, and replay would cut the WAL there: stop instead.
      const std::string_view labels = store_.PendingLabels(s);
      if (labels.empty()) {
        spdlog::critical("wal: series ref {} is not logged and has no labels", s->ref);
        std::abort();
      }
      EncodeSeriesEntry(s->ref, labels, &series_record_);
    }
    all[n++] = series_record_;
  }
  for (std::string_view r : records) all[n++] = r;
  if (n == 0) return Status::Ok();
  Status s = writer_->Log(std::span<const std::string_view>(all, n));
  if (!s.ok()) {
    for (MemSeries* m : to_log_) m->logged.store(false, std::memory_order_relaxed);
    NoteWriteFailure(s, n_samples);
    return s;
  }
  NoteWriteSuccess();
  // In the WAL now: the store keeps no label bytes for them any more.
  store_.ReleasePending(to_log_);
  if (n_samples > 0) {
    // The sample records are the last ones logged, so they are in the writer's current segment.
    SegmentStats& st = seg_stats_[writer_->segment()];
    st.samples += n_samples;
    st.max_ts = std::max(st.max_ts, max_ts);
  }
  // The commit is in the file either way; an fsync failure is reported, the data stays.
  if (options_.fsync_interval.count() == 0) return writer_->Sync();
  return Status::Ok();
}

// A commit that cannot be written (ENOSPC, EIO) loses its samples: the scrape loop counts it
// and goes on, so this is where an operator learns why, without a line per scrape.
void StorageImpl::NoteWriteFailure(const Status& s, uint64_t n_samples) {
  WriteFailures& f = write_failures_;
  const auto now = std::chrono::steady_clock::now();
  ++f.writes;
  f.samples += n_samples;
  ++f.unlogged;
  if (f.writes > 1 && now - f.last_log < std::chrono::seconds(10)) return;
  spdlog::error(
      "msg=\"WAL write failed, samples dropped\" component=wal segment={:08d} err=\"{}\" "
      "failed_writes={} samples_dropped={} since_last_log={}",
      writer_->segment(), s.message(), f.writes, f.samples, f.unlogged);
  f.last_log = now;
  f.unlogged = 0;
}

void StorageImpl::NoteWriteSuccess() {
  WriteFailures& f = write_failures_;
  if (f.writes == 0) return;
  spdlog::warn(
      "msg=\"WAL writes succeed again\" component=wal segment={:08d} failed_writes={} "
      "samples_dropped={}",
      writer_->segment(), f.writes, f.samples);
  f = WriteFailures{};
}

Status StorageImpl::Truncate(int64_t mint_ms, uint32_t keep_from_segment) {
  std::lock_guard truncate_lock(truncate_mu_);
  auto segments = ListSegments(fs_, wal_dir_);
  if (!segments.ok()) return segments.status();
  if (segments->empty()) return Status::Ok();
  const uint32_t first = segments->front();
  const uint32_t current = segments->back();

  std::vector<SeriesRef> removed;
  store_.GC(mint_ms, &removed);
  for (SeriesRef ref : removed) deleted_[ref] = current;
  {
    std::lock_guard lock(exemplar_mu_);
    if (!last_exemplar_.empty()) {
      for (SeriesRef ref : removed) last_exemplar_.erase(ref);
    }
  }
  active_series_->Set(static_cast<double>(store_.size()));
  deleted_series_->Set(static_cast<double>(deleted_.size()));

  // A new segment, so a quiet agent does not keep more WAL than needed.
  {
    std::lock_guard lock(writer_mu_);
    if (!writer_) return Status::Io("wal storage is closed");
    if (Status s = writer_->NextSegment(); !s.ok()) return s;
  }
  // The newest segments hold mostly live samples; fold only the older two thirds of the
  // closed ones, and only when that is more than one segment.
  const int64_t newest_closed = static_cast<int64_t>(current) - 1;
  if (newest_closed <= static_cast<int64_t>(first)) return Status::Ok();
  auto last = static_cast<uint32_t>(first + (newest_closed - first) * 2 / 3);
  // Never past what an endpoint still reads.
  if (keep_from_segment <= first) return Status::Ok();
  last = std::min(last, keep_from_segment - 1);
  if (last <= first) return Status::Ok();
  return CheckpointAndDelete(first, last, mint_ms);
}

Result<std::vector<SegmentStats>> StorageImpl::DropSegments(uint32_t last) {
  std::lock_guard truncate_lock(truncate_mu_);
  std::vector<SegmentStats> dropped;
  for (const SegmentStats& st : Segments()) {
    if (st.index <= last) dropped.push_back(st);
  }
  // Never the active segment (the last one listed).
  const uint32_t active = CurrentSegment();
  std::erase_if(dropped, [active](const SegmentStats& st) { return st.index >= active; });
  if (dropped.empty()) return dropped;
  // Every sample of the dropped segments goes (and older checkpointed ones too): the mint just
  // past their newest sample.
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const auto& st : dropped) newest = std::max(newest, st.max_ts);
  const int64_t mint = newest == std::numeric_limits<int64_t>::max() ? newest : newest + 1;
  if (Status s = CheckpointAndDelete(dropped.front().index, dropped.back().index, mint); !s.ok()) {
    if (fs_.Exists(JoinPath(wal_dir_, SegmentName(dropped.front().index)))) return s;
    // Deleted, though something after failed (an old checkpoint left behind): still dropped.
    spdlog::warn("wal: after dropping segments: {}", s.message());
  }
  return dropped;
}

std::vector<SegmentStats> StorageImpl::Segments() const {
  std::vector<SegmentStats> out;
  auto listed = ListSegments(fs_, wal_dir_);
  if (!listed.ok()) return out;
  for (uint32_t index : *listed) {
    SegmentStats st;
    {
      std::lock_guard lock(writer_mu_);
      if (auto it = seg_stats_.find(index); it != seg_stats_.end()) st = it->second;
    }
    st.index = index;
    st.bytes = FileBytes(fs_, JoinPath(wal_dir_, SegmentName(index)));
    out.push_back(st);
  }
  return out;
}

uint64_t StorageImpl::CheckpointBytes() const {
  auto index = LastCheckpoint(fs_, wal_dir_);
  if (!index.ok() || *index < 0) return 0;
  return DirBytes(fs_, JoinPath(wal_dir_, CheckpointName(static_cast<uint32_t>(*index))), 1);
}

Status StorageImpl::CheckpointAndDelete(uint32_t first, uint32_t last, int64_t mint_ms) {
  auto keep = [this, last](SeriesRef ref) {
    if (store_.GetByRef(ref) != nullptr) return true;
    auto it = deleted_.find(ref);
    return it != deleted_.end() && it->second > last;
  };
  truncations_->Inc();
  checkpoint_creations_->Inc();
  auto stats = Checkpoint(fs_, wal_dir_, first, last, keep, mint_ms,
                          {.segment_bytes = options_.segment_bytes,
                           .compression = options_.compression,
                           .zstd_level = options_.zstd_level});
  if (!stats.ok()) {
    checkpoint_creations_failed_->Inc();
    truncations_failed_->Inc();
    if (stats.status().code() == Code::kCorruption) corruptions_->Inc();
    return stats.status();
  }
  // Segments covered by the checkpoint. A failure leaves extra segments, which replay skips.
  Status result;
  for (uint32_t index = first; index <= last; ++index) {
    Status s = fs_.Remove(JoinPath(wal_dir_, SegmentName(index)));
    if (!s.ok() && s.code() != Code::kNotFound && result.ok()) result = s;
  }
  {
    std::lock_guard lock(writer_mu_);
    seg_stats_.erase(seg_stats_.begin(), seg_stats_.upper_bound(last));
  }
  if (!result.ok()) truncations_failed_->Inc();
  std::erase_if(deleted_, [last](const auto& kv) { return kv.second <= last; });
  deleted_series_->Set(static_cast<double>(deleted_.size()));
  checkpoint_deletions_->Inc();
  if (Status s = DeleteCheckpoints(fs_, wal_dir_, last); !s.ok()) {
    checkpoint_deletions_failed_->Inc();
    if (result.ok()) result = s;
  }
  spdlog::info("wal: checkpoint {} done: {} series and {} samples kept, {} and {} dropped",
               CheckpointName(last), stats->series_kept, stats->samples_kept, stats->series_dropped,
               stats->samples_dropped);
  return result;
}

Status StorageImpl::Close() {
  if (syncer_.joinable()) {
    syncer_.request_stop();
    syncer_.join();
  }
  {
    std::lock_guard lock(size_probe_->mu);
    size_probe_->fs = nullptr;
  }
  std::lock_guard lock(writer_mu_);
  if (!writer_) return Status::Ok();
  closed_segment_ = writer_->segment();
  Status s = writer_->Close();
  writer_.reset();
  return s;
}

Result<MemSeries*> AppenderImpl::Create(const Labels& labels) {
  if (labels.empty()) return Status::InvalidArgument("empty label set");
  const auto& items = labels.items();
  for (size_t i = 1; i < items.size(); ++i) {
    if (items[i].name == items[i - 1].name) {
      return Status::InvalidArgument(fmt::format("label name \"{}\" is not unique", items[i].name));
    }
  }
  bool created = false;
  MemSeries* series = storage_.store_.GetOrCreate(labels, &created);
  if (created) {
    created_.push_back(series);
    storage_.active_series_->Set(static_cast<double>(storage_.store_.size()));
  }
  return series;
}

bool AppenderImpl::InOrder(const MemSeries& series, int64_t t_ms) {
  if (t_ms > series.last_ts.load(std::memory_order_relaxed)) return true;
  storage_.out_of_order_->Inc();
  return false;
}

Result<SeriesRef> AppenderImpl::Append(SeriesRef ref, const Labels& labels, int64_t t_ms,
                                       double value) {
  // The per-sample path: a cached ref, no Result until the return.
  MemSeries* series = ref != 0 ? storage_.store_.GetByRef(ref) : nullptr;
  if (series == nullptr) {
    auto created = Create(labels);
    if (!created.ok()) return created.status();
    series = *created;
  }
  if (!InOrder(*series, t_ms)) return Status::InvalidArgument("out of order sample");
  samples_.push_back(RefSample{series->ref, t_ms, value});
  sample_series_.push_back(series);
  return series->ref;
}

Result<SeriesRef> AppenderImpl::AppendHistogram(SeriesRef ref, const Labels& labels, int64_t t_ms,
                                                const Histogram* h, const FloatHistogram* fh) {
  if ((h == nullptr) == (fh == nullptr)) {
    return Status::InvalidArgument("a histogram sample needs exactly one of h and fh");
  }
  if (Status s = h != nullptr ? ValidateHistogram(*h) : ValidateHistogram(*fh); !s.ok()) return s;
  MemSeries* series = ref != 0 ? storage_.store_.GetByRef(ref) : nullptr;
  if (series == nullptr) {
    auto created = Create(labels);
    if (!created.ok()) return created.status();
    series = *created;
  }
  // One timestamp order per series, floats and histograms alike.
  if (!InOrder(*series, t_ms)) return Status::InvalidArgument("out of order sample");
  const SeriesRef r = series->ref;
  if (h != nullptr) {
    histograms_[h->schema == kCustomBucketsSchema].push_back({r, t_ms, *h});
  } else {
    float_histograms_[fh->schema == kCustomBucketsSchema].push_back({r, t_ms, *fh});
  }
  histogram_series_.push_back(series);
  histogram_ts_.push_back(t_ms);
  return r;
}

// UTF-8 code points in s (continuation bytes are not counted).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

Status AppenderImpl::AppendExemplar(SeriesRef ref, int64_t t_ms, double value,
                                    const Labels& exemplar_labels) {
  MemSeries* series = storage_.store_.GetByRef(ref);
  if (series == nullptr) {
    return Status::InvalidArgument(
        fmt::format("unknown series ref when trying to add exemplar: {}", ref));
  }
  // OpenMetrics' limit: names and values together, in UTF-8 characters.
  constexpr size_t kMaxExemplarLabelChars = 128;
  size_t chars = 0;
  for (const auto& l : exemplar_labels) chars += CodePoints(l.name) + CodePoints(l.value);
  if (chars > kMaxExemplarLabelChars) {
    return Status::InvalidArgument(
        fmt::format("exemplar labels are {} UTF-8 characters long, more than the maximum of {}",
                    chars, kMaxExemplarLabelChars));
  }
  {
    // An exact repeat of the series' last committed exemplar is dropped without an error.
    std::lock_guard lock(storage_.exemplar_mu_);
    auto it = storage_.last_exemplar_.find(series->ref);
    if (it != storage_.last_exemplar_.end() && it->second.t == t_ms && it->second.v == value &&
        it->second.labels == exemplar_labels) {
      return Status::Ok();
    }
  }
  exemplars_.push_back(RefExemplar{series->ref, t_ms, value, exemplar_labels});
  exemplar_series_.push_back(series);
  return Status::Ok();
}

size_t AppenderImpl::HistogramCount() const { return histogram_series_.size(); }

void AppenderImpl::EncodeHistogramsAndExemplars() {
  // Prometheus's order: HistogramSamples, CustomBucketsHistogramSamples, FloatHistogramSamples,
  // CustomBucketsFloatHistogramSamples, Exemplars; a kind with nothing in it is not written.
  for (int custom = 0; custom < 2; ++custom) {
    if (histograms_[custom].empty()) continue;
    records_[custom].clear();
    EncodeHistogramSamples(histograms_[custom], &records_[custom]);
    to_write_.push_back(records_[custom]);
  }
  for (int custom = 0; custom < 2; ++custom) {
    if (float_histograms_[custom].empty()) continue;
    records_[2 + custom].clear();
    EncodeFloatHistogramSamples(float_histograms_[custom], &records_[2 + custom]);
    to_write_.push_back(records_[2 + custom]);
  }
  if (!exemplars_.empty()) {
    records_[4].clear();
    EncodeExemplars(exemplars_, &records_[4]);
    to_write_.push_back(records_[4]);
  }
}

Status AppenderImpl::Commit() {
  const size_t n_samples = samples_.size() + HistogramCount();
  if ((n_samples > 0 || !exemplars_.empty()) && storage_.full()) {
    storage_.samples_rejected_->Inc(static_cast<double>(n_samples));
    Clear();
    return Status::Unavailable(
        "wal is full: retention.max-size reached with unsent data "
        "(retention policy backpressure)");
  }
  int64_t max_ts = std::numeric_limits<int64_t>::min();
  for (const auto& rs : samples_) max_ts = std::max(max_ts, rs.t);
  for (int64_t t : histogram_ts_) max_ts = std::max(max_ts, t);
  to_write_.clear();
  if (!samples_.empty()) {
    samples_record_.clear();
    EncodeSamples(samples_, &samples_record_);
    to_write_.push_back(samples_record_);
  }
  if (HistogramCount() > 0 || !exemplars_.empty()) EncodeHistogramsAndExemplars();
  Status s = storage_.Write({created_, sample_series_, histogram_series_, exemplar_series_},
                            to_write_, n_samples, max_ts);
  if (s.ok()) {
    auto advance = [](MemSeries* series, int64_t t) {
      std::atomic<int64_t>& last = series->last_ts;
      int64_t cur = last.load(std::memory_order_relaxed);
      while (t > cur && !last.compare_exchange_weak(cur, t)) {
      }
    };
    for (size_t i = 0; i < samples_.size(); ++i) advance(sample_series_[i], samples_[i].t);
    for (size_t i = 0; i < histogram_ts_.size(); ++i) {
      advance(histogram_series_[i], histogram_ts_[i]);
    }
    if (!exemplars_.empty()) RememberExemplars();
    if (!created_.empty() || !to_write_.empty()) storage_.notifier_.Notify();
  }
  CountAppended();
  Clear();
  return s;
}

void AppenderImpl::Rollback() {
  // New series stay registered and are still logged, as Prometheus does.
  if (!created_.empty() && storage_.Write({created_}, {}, 0, 0).ok()) {
    storage_.notifier_.Notify();
  }
  CountAppended();
  Clear();
}

// Prometheus remembers an exemplar as the series' last one when it is appended; here only once
// it is committed, so a rolled-back exemplar is not dropped as a repeat when scraped again.
void AppenderImpl::RememberExemplars() {
  std::lock_guard lock(storage_.exemplar_mu_);
  for (const RefExemplar& e : exemplars_) {
    // Not for a series GC dropped meanwhile: its entry would never be erased.
    if (storage_.store_.GetByRef(e.ref) != nullptr) storage_.last_exemplar_[e.ref] = e;
  }
}

// Prometheus counts at append time, whether the batch is then committed or rolled back.
void AppenderImpl::CountAppended() {
  if (!samples_.empty()) storage_.samples_appended_->Inc(static_cast<double>(samples_.size()));
  if (HistogramCount() > 0) {
    storage_.histograms_appended_->Inc(static_cast<double>(HistogramCount()));
  }
  if (!exemplars_.empty()) {
    storage_.exemplars_appended_->Inc(static_cast<double>(exemplars_.size()));
  }
}

void AppenderImpl::Clear() {
  samples_.clear();
  sample_series_.clear();
  created_.clear();
  for (auto& v : histograms_) v.clear();
  for (auto& v : float_histograms_) v.clear();
  histogram_series_.clear();
  histogram_ts_.clear();
  exemplars_.clear();
  exemplar_series_.clear();
}

}  // namespace

Result<std::unique_ptr<Storage>> Storage::Open(Fs& fs, Registry& metrics, const std::string& dir,
                                               Options options) {
  auto storage = std::make_unique<StorageImpl>(fs, metrics, dir, options);
  if (Status s = storage->Init(); !s.ok()) return s;
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace petrel::wal
