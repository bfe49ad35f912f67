#include "remotewrite/queue_manager.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <deque>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "remotewrite/encoder.h"
#include "remotewrite/http_client.h"
#include "remotewrite/logfmt.h"
#include "remotewrite/metadata_sender.h"
#include "remotewrite/resharding.h"
#include "remotewrite/series_cache.h"
#include "remotewrite/shard.h"
#include "remotewrite/token_bucket.h"
#include "remotewrite/watcher.h"

namespace petrel::remotewrite {
namespace {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

// Records read per turn of the loop before it services the HTTP transfers again.
constexpr size_t kMaxRecordsPerPoll = 64;
// Longest wait for a WAL write notification while no transfer runs.
constexpr milliseconds kIdleWait(100);
// Longest wait on curl while transfers run; the WAL is looked at in between.
constexpr milliseconds kBusyWait(25);
// How often the acknowledged WAL position is written at most (and once more on Stop).
constexpr auto kProgressInterval = std::chrono::seconds(1);

// The progress file of endpoint `name`: <storage>/remote_write/<name>.progress, next to wal_dir.
std::string ProgressPath(const std::string& wal_dir, const std::string& name) {
  std::string dir = wal_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  size_t slash = dir.rfind('/');
  std::string storage =
      slash == std::string::npos ? "." : dir.substr(0, std::max<size_t>(slash, 1));
  std::string file;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    file.push_back(ok && !(file.empty() && c == '.') ? c : '_');
  }
  return JoinPath(JoinPath(storage, "remote_write"), file + ".progress");
}

// What a progress file holds. `at`: every sample before it is done with. Samples after it
// may be done too (a record is done only once all its samples are, and shards finish at their
// own pace): `done[i]` is the newest done sample of shard i, with samples routed by
// ref % done.size(). Without it (no file yet, v1, or saved during a reshard) a restart sends
// the samples after `at` again, some of them twice.
struct SavedProgress {
  WalPosition at;
  std::vector<std::optional<SamplePos>> done;
};

// "v1 <segment> <offset>\n", or "v2 <segment> <offset> <shards> <done>...\n" with each done
// "<segment>:<offset>:<index>" or "-".
std::optional<SavedProgress> ParseProgress(const std::string& text) {
  std::istringstream in(text);
  std::string version;
  SavedProgress p;
  uint64_t segment = 0;
  if (!(in >> version >> segment >> p.at.offset) || segment > UINT32_MAX) return std::nullopt;
  p.at.segment = static_cast<uint32_t>(segment);
  if (version == "v2") {
    size_t n = 0;
    if (!(in >> n) || n == 0 || n > 100000) return std::nullopt;
    for (size_t i = 0; i < n; ++i) {
      std::string d;
      if (!(in >> d)) return std::nullopt;
      if (d == "-") {
        p.done.emplace_back();
        continue;
      }
      unsigned long long seg = 0, off = 0;
      unsigned idx = 0;
      char end = 0;
      if (std::sscanf(d.c_str(), "%llu:%llu:%u%c", &seg, &off, &idx, &end) != 3 ||
          seg > UINT32_MAX) {
        return std::nullopt;
      }
      p.done.push_back(SamplePos{{static_cast<uint32_t>(seg), off}, idx});
    }
  } else if (version != "v1") {
    return std::nullopt;
  }
  std::string rest;
  if (in >> rest) return std::nullopt;
  return p;
}

std::string FormatProgress(WalPosition at, const std::vector<std::optional<SamplePos>>& done) {
  if (done.empty()) return fmt::format("v1 {} {}\n", at.segment, at.offset);
  std::string out = fmt::format("v2 {} {} {}", at.segment, at.offset, done.size());
  for (const auto& d : done) {
    if (d) {
      fmt::format_to(std::back_inserter(out), " {}:{}:{}", d->record.segment, d->record.offset,
                     d->index);
    } else {
      out += " -";
    }
  }
  out += '\n';
  return out;
}

// A record read by the watcher: done once every shard popped past what it pushed up to it.
// Shards added later are missing from `pushed` (they held nothing of it); shards removed are
// cut from it (they were empty).
struct Mark {
  WalPosition end;
  std::vector<uint64_t> pushed;  // per shard, Shard::pushed after the record's samples
};

// Cache entries no longer in the SeriesCache, freed once no queued sample can point at them.
struct Grave {
  std::vector<uint64_t> pushed;  // per shard, Shard::pushed when they were retired
  uint64_t ticket;               // SeriesCache::TakeRetired's
};

// True when every shard popped what `pushed` says it had pushed.
bool AllPopped(const std::vector<Shard>& shards, const std::vector<uint64_t>& pushed) {
  const size_t n = std::min(shards.size(), pushed.size());
  for (size_t i = 0; i < n; ++i) {
    if (shards[i].queue.popped() < pushed[i]) return false;
  }
  return true;
}

}  // namespace

class QueueManager::Impl final : public Watcher::Sink {
 public:
  Impl(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier, std::string wal_dir,
       config::RemoteWriteConfig config, Labels external_labels, QueueOptions options);
  ~Impl() override;

  void Start();
  void Stop(milliseconds flush_deadline);
  void RequestStop(milliseconds flush_deadline);
  const config::RemoteWriteConfig& config() const { return config_; }
  int64_t CurrentSegment() const { return acked_segment_.load(std::memory_order_relaxed); }

  void StoreSeries(std::span<const wal::RefSeries> series, uint32_t segment) override;
  void SeriesReset(uint32_t segment) override;
  size_t Append(std::span<const wal::RefSample> samples) override;
  size_t AppendHistograms(std::span<const wal::RefHistogramSample> h) override;
  size_t AppendFloatHistograms(std::span<const wal::RefFloatHistogramSample> h) override;
  size_t AppendExemplars(std::span<const wal::RefExemplar> e) override;
  void Read(WalPosition end) override;
  void BeginRecord(WalPosition end) override;

 private:
  void RegisterMetrics();
  // Queues a record's items of one kind (see Append); returns how many were taken.
  template <typename T>
  size_t Enqueue(std::span<const T> items, ItemKind kind);
  // RW 2.0: the metadata of the series' metric family, or null when unknown.
  const MetricMetadata* MetadataOf(const CachedSeries& series);
  // RW 2.0: re-reads QueueOptions::metadata into families_ when due.
  void MaybeRefreshMetadata(SteadyTime now);
  // A 2xx: counts what the receiver says it did not write as failed (RW 2.0 semantics).
  void CheckWritten(const Shard& shard, const WrittenCounts& written, SteadyTime now);
  void Bury();
  void FreeGraves();
  void Run(std::stop_token stop, Watcher& watcher);
  void MaybeSend(Shard& shard, SteadyTime now, bool flushing);
  // Encodes the first shard.batch samples, leaving out those older than sample_age_limit.
  // False when none is left (the batch is finished then).
  bool EncodeBatch(Shard& shard, SteadyTime now);
  void StartAttempt(Shard& shard, SteadyTime now);
  void MaybeSendMetadata(SteadyTime now);
  // Samples with t below this are too old; INT64_MIN without sample_age_limit.
  int64_t TooOldBefore() const;
  void MaybeReshard(SteadyTime now, bool flushing);
  void Reshard(size_t count);
  // Lowers the barrier once every shard sent its pre-fence samples; drops unrouted shards.
  void CheckBarrier();
  // Handles finished transfers; returns how many.
  size_t DrainCompletions(SteadyTime now);
  void OnDone(Shard& shard, CURLcode code, SteadyTime now);
  void FinishBatch(Shard& shard, SteadyTime now);
  SteadyTime NextTimer(bool flushing) const;
  bool AllSent() const;
  void Abandon();
  // Moves acked_ over the marks whose samples are all done.
  void AdvanceAcked();
  void SetAcked(WalPosition p);
  // Writes acked_ when it moved (at most every kProgressInterval unless force).
  void SaveProgress(bool force);

  Fs& fs_;
  Clock& clock_;
  Registry& metrics_;
  wal::WriteNotifier& notifier_;
  const std::string wal_dir_;
  const config::RemoteWriteConfig config_;
  const std::string name_;
  const std::string progress_path_;
  const size_t max_per_send_;
  const size_t shard_capacity_;
  QueueOptions options_;

  // Everything below is touched only by the loop thread while it runs (Start/Stop bracket it).
  SeriesCache cache_;
  std::unique_ptr<Watcher> watcher_;
  std::deque<Grave> graves_;
  // Reserved for max_shards up front, so a Shard never moves (transfers point at its body).
  // During a reshard barrier it may hold more than routed_ shards (those being retired).
  std::vector<Shard> shards_;
  size_t routed_ = 0;     // samples go to shards_[ref % routed_]
  bool barrier_ = false;  // a reshard's fences are not all passed yet
  ShardTuner tuner_;
  SteadyTime next_reshard_{};
  SteadyTime last_send_done_{};
  SteadyTime reshard_disabled_until_{};
  TokenBucket bucket_;
  std::unique_ptr<MetadataSender> metadata_;
  CURLM* multi_ = nullptr;
  RequestEncoder encoder_;
  V2RequestEncoder v2_encoder_;
  // RW 2.0 batch encoding: the batch's exemplars by series, so each rides with an item of its
  // series (EncodeBatch). Reused between batches.
  struct PendingExemplar {
    const CachedSeries* series;
    size_t item;   // index in the batch
    size_t extra;  // its ItemExtra
  };
  std::vector<PendingExemplar> v2_exemplars_;
  absl::flat_hash_map<const CachedSeries*, uint32_t> v2_exemplars_at_;  // first in v2_exemplars_
  const bool v2_;               // protobuf_message is io.prometheus.write.v2.Request
  const bool send_histograms_;  // send_native_histograms, or RW 2.0 (which always sends them)
  // RW 2.0 metadata: metric family name -> its metadata, from QueueOptions::metadata.
  absl::flat_hash_map<std::string, MetricMetadata> families_;
  SteadyTime families_read_{};
  bool families_missed_ = false;  // a series' family was not found since the last read
  std::string last_name_;         // MetadataOf's one-entry memo: consecutive items share it
  const MetricMetadata* last_metadata_ = nullptr;
  int64_t highest_ms_ = INT64_MIN;
  LogLimiter retry_log_;
  LogLimiter drop_log_;
  std::deque<Mark> marks_;  // records read but not yet done, oldest first
  WalPosition acked_;       // everything before it is acknowledged (or dropped for good)
  std::string saved_;       // what the progress file holds
  // The record Append is taking samples of, and the index of the next one offered.
  WalPosition record_;
  uint32_t record_index_ = 0;
  SamplePos last_pushed_;  // the newest sample pushed into a shard
  SamplePos fence_pos_;    // last_pushed_ at the last reshard
  // From the progress file: samples done before the restart (see SavedProgress), skipped
  // until the watcher reads past the newest of them.
  std::vector<std::optional<SamplePos>> resume_done_;
  WalPosition resume_done_until_;
  SteadyTime last_save_{};
  bool frozen_ = false;  // samples were abandoned unsent: acked_ must not pass them
  std::atomic<int64_t> acked_segment_{-1};

  bool started_ = false;                       // Start runs once
  std::atomic<int64_t> flush_deadline_ms_{0};  // set by Stop before it requests the stop

  // Indexed by ItemKind: samples, histograms, exemplars.
  std::array<Counter*, kItemKinds> total_;
  std::array<Counter*, kItemKinds> failed_;
  std::array<Counter*, kItemKinds> retried_;
  std::array<Counter*, kItemKinds> dropped_unknown_;
  std::array<Counter*, kItemKinds> dropped_relabel_;
  std::array<Counter*, kItemKinds> dropped_too_old_;
  std::array<Gauge*, kItemKinds> pending_;
  Counter* dropped_no_sample_;  // exemplars_dropped_total{reason="no_sample"} (RW 2.0)
  Counter* dropped_nhcb_;       // histograms_dropped_total{reason="nhcb_in_rw1_not_supported"}
  Counter* metadata_total_;     // RW 2.0: per-series metadata copies sent
  Counter* resent_skipped_;
  Counter* bytes_total_;
  Counter* enqueue_retries_;
  Gauge* highest_ts_;
  Gauge* highest_sent_ts_;
  HistogramMetric* duration_;
  Gauge* shards_gauge_;
  Gauge* shards_desired_;

  std::jthread thread_;  // the endpoint's loop; last member, so it stops before the rest goes
};

QueueManager::Impl::Impl(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier,
                         std::string wal_dir, config::RemoteWriteConfig config,
                         Labels external_labels, QueueOptions options)
    : fs_(fs),
      clock_(clock),
      metrics_(metrics),
      notifier_(notifier),
      wal_dir_(std::move(wal_dir)),
      config_(std::move(config)),
      name_(config_.name),
      progress_path_(ProgressPath(wal_dir_, name_)),
      max_per_send_(static_cast<size_t>(std::max(1, config_.queue_config.max_samples_per_send))),
      // A shard holds at least one full batch, so a batch can always form.
      shard_capacity_(
          std::max(static_cast<size_t>(std::max(1, config_.queue_config.capacity)), max_per_send_)),
      options_(std::move(options)),
      cache_(std::move(external_labels), config_.write_relabel_configs),
      tuner_(std::max(1, config_.queue_config.min_shards),
             std::max(1, config_.queue_config.max_shards), options_.shard_update_interval),
      bucket_(config_.queue_config.max_bytes_per_second, std::chrono::steady_clock::now()),
      v2_(config_.protobuf_message == config::RemoteWriteProto::kV2),
      send_histograms_(v2_ || config_.send_native_histograms) {
  RegisterMetrics();
}

QueueManager::Impl::~Impl() {
  Stop(milliseconds(0));
  for (Shard& s : shards_) s.client.reset();
  metadata_.reset();
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

void QueueManager::Impl::RegisterMetrics() {
  const std::vector<std::string> names = {"remote_name", "url"};
  const std::vector<std::string> values = {name_, RedactUrl(config_.url)};
  const std::string p = "prometheus_remote_storage_";
  auto counter = [&](const std::string& n, const std::string& help) {
    return metrics_.GetCounter(p + n, help, names, values);
  };
  auto gauge = [&](const std::string& n, const std::string& help) {
    return metrics_.GetGauge(p + n, help, names, values);
  };
  // Prometheus' help texts; one family per kind of item.
  static constexpr const char* kWhat[kItemKinds] = {"samples", "histograms", "exemplars"};
  static constexpr const char* kHelpWhat[kItemKinds] = {"samples", "histograms", "exemplars"};
  for (size_t k = 0; k < kItemKinds; ++k) {
    const std::string what = kWhat[k];
    const std::string help_what = kHelpWhat[k];
    total_[k] =
        counter(what + "_total", "Total number of " + help_what + " sent to remote storage.");
    failed_[k] = counter(what + "_failed_total",
                         "Total number of " + help_what +
                             " which failed on send to remote storage, non-recoverable errors.");
    retried_[k] = counter(what + "_retried_total",
                          "Total number of " + help_what +
                              " which failed on send to remote storage but were retried because "
                              "the send error was recoverable.");
    pending_[k] = gauge(what + "_pending", "The number of " + help_what +
                                               " pending in the queues shards to be sent to the "
                                               "remote storage.");
    auto dropped = [&](const char* reason) {
      return metrics_.GetCounter(
          p + what + "_dropped_total",
          "Total number of " + help_what +
              " which were dropped after being read from the WAL before being sent via remote "
              "write, either via relabelling, due to being too old or unintentionally because of "
              "an unknown reference ID.",
          {"remote_name", "url", "reason"}, {values[0], values[1], reason});
    };
    dropped_unknown_[k] = dropped("unintentionally_dropped_series");
    dropped_relabel_[k] = dropped("dropped_series");
    dropped_too_old_[k] = dropped("too_old");
    if (k == static_cast<size_t>(ItemKind::kHistogram)) {
      dropped_nhcb_ = dropped("nhcb_in_rw1_not_supported");
    }
    if (k == static_cast<size_t>(ItemKind::kExemplar)) dropped_no_sample_ = dropped("no_sample");
  }
  metadata_total_ = counter("metadata_total", "Total number of metadata entries sent.");
  resent_skipped_ = metrics_.GetCounter(
      "petrel_remote_storage_resent_samples_skipped_total",
      "Samples after the saved WAL position that were acknowledged before a restart, and so "
      "not sent again.",
      names, values);
  bytes_total_ = counter("bytes_total",
                         "The total number of bytes of data (not metadata) sent by the queue "
                         "after compression.");
  enqueue_retries_ = counter("enqueue_retries_total",
                             "Total number of times enqueue has failed because a shards queue "
                             "was full.");
  highest_ts_ = gauge("queue_highest_timestamp_seconds",
                      "Timestamp from a WAL sample, the highest timestamp successfully written "
                      "by Prometheus to the WAL for any series that made it into the queue.");
  highest_sent_ts_ = gauge("queue_highest_sent_timestamp_seconds",
                           "Timestamp from a WAL sample, the highest timestamp successfully sent "
                           "by this queue.");
  duration_ = metrics_.GetHistogram(
      p + "sent_batch_duration_seconds", "Duration of send calls to the remote storage.",
      {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25, 60, 120, 300}, names, values);
  const config::QueueConfig& q = config_.queue_config;
  shards_gauge_ =
      gauge("shards", "The number of shards used for parallel sending to the remote storage.");
  shards_gauge_->Set(std::max(1, q.min_shards));
  shards_desired_ = gauge("shards_desired",
                          "The number of shards that the queues shard calculation wants to run "
                          "based on the rate of samples in vs. samples out.");
  shards_desired_->Set(std::max(1, q.min_shards));
  gauge("shards_min", "The minimum number of shards that the queue is allowed to run.")
      ->Set(q.min_shards);
  gauge("shards_max", "The maximum number of shards that the queue is allowed to run.")
      ->Set(q.max_shards);
  gauge("shard_capacity",
        "The capacity of each shard of the queue used for parallel sending "
        "to the remote storage.")
      ->Set(q.capacity);
  gauge("max_samples_per_send",
        "The maximum number of samples to be sent, in a single request, "
        "to the remote storage.")
      ->Set(q.max_samples_per_send);
}

void QueueManager::Impl::Start() {
  if (started_) return;
  started_ = true;
  const config::QueueConfig& q = config_.queue_config;
  multi_ = curl_multi_init();
  const size_t count = static_cast<size_t>(std::max(1, q.min_shards));
  shards_.reserve(static_cast<size_t>(std::max({1, q.min_shards, q.max_shards})));
  for (size_t i = 0; i < count; ++i) shards_.emplace_back(shard_capacity_);
  routed_ = count;
  // RW 2.0 sends metadata with each series instead (Prometheus ignores metadata_config.send).
  const bool send_metadata = options_.metadata && config_.metadata_config.send && !v2_;
  for (size_t i = 0; i < count + (send_metadata ? 1 : 0); ++i) {
    auto client = HttpClient::Create(config_, clock_);
    if (!client.ok() || multi_ == nullptr) {
      spdlog::error(
          "msg=\"Cannot start remote write queue\" component=remote remote_name={} err={}", name_,
          Quote(client.ok() ? "curl_multi_init failed" : client.status().ToString()));
      return;
    }
    if (i < count) {
      shards_[i].client = std::move(*client);
    } else {
      metadata_ = std::make_unique<MetadataSender>(config_, options_.metadata, std::move(*client),
                                                   metrics_, std::chrono::steady_clock::now());
    }
  }
  next_reshard_ = std::chrono::steady_clock::now() + options_.shard_update_interval;
  watcher_ =
      std::make_unique<Watcher>(fs_, metrics_, wal_dir_, name_, ToMillis(clock_.Now()), *this);
  watcher_->Forward(config_.send_exemplars, send_histograms_);
  if (fs_.Exists(progress_path_)) {
    auto text = ReadFileToString(fs_, progress_path_);
    std::optional<SavedProgress> p = text.ok() ? ParseProgress(*text) : std::nullopt;
    if (p) {
      watcher_->ResumeFrom(p->at);
      saved_ = *text;
      resume_done_ = std::move(p->done);
      for (const auto& d : resume_done_) {
        if (d) resume_done_until_ = std::max(resume_done_until_, d->record);
      }
    } else {
      spdlog::warn(
          "msg=\"Unreadable remote write progress, sending only new samples\" component=remote "
          "remote_name={} path={} err={}",
          name_, Quote(progress_path_), Quote(text.ok() ? "malformed" : text.status().ToString()));
    }
  }
  watcher_->Begin();
  SetAcked(watcher_->start_position());
  thread_ = std::jthread([this](std::stop_token stop) {
    std::stop_callback wake(stop, [this] { curl_multi_wakeup(multi_); });
    Run(stop, *watcher_);
  });
}

void QueueManager::Impl::RequestStop(milliseconds flush_deadline) {
  if (!thread_.joinable() || thread_.get_stop_token().stop_requested()) return;
  flush_deadline_ms_.store(flush_deadline.count());
  thread_.request_stop();
}

void QueueManager::Impl::Stop(milliseconds flush_deadline) {
  if (!thread_.joinable()) return;
  RequestStop(flush_deadline);
  thread_.join();
}

void QueueManager::Impl::StoreSeries(std::span<const wal::RefSeries> series, uint32_t segment) {
  for (const wal::RefSeries& s : series) cache_.Store(s.ref, s.labels, segment);
  if (cache_.has_retired()) Bury();
}

void QueueManager::Impl::SeriesReset(uint32_t segment) {
  cache_.Reset(segment);
  if (cache_.has_retired()) Bury();
}

void QueueManager::Impl::Bury() {
  Grave g;
  for (const Shard& s : shards_) g.pushed.push_back(s.queue.pushed());
  g.ticket = cache_.TakeRetired();
  graves_.push_back(std::move(g));
  FreeGraves();
}

void QueueManager::Impl::FreeGraves() {
  while (!graves_.empty() && AllPopped(shards_, graves_.front().pushed)) {
    cache_.FreeRetired(graves_.front().ticket);
    graves_.pop_front();
  }
}

void QueueManager::Impl::Read(WalPosition end) {
  std::vector<uint64_t> pushed;
  pushed.reserve(shards_.size());
  for (const Shard& s : shards_) pushed.push_back(s.queue.pushed());
  if (!marks_.empty() && marks_.back().pushed == pushed) {
    marks_.back().end = end;  // no sample since the last mark: it covers this record too
  } else {
    marks_.push_back(Mark{end, std::move(pushed)});
  }
  AdvanceAcked();
}

void QueueManager::Impl::AdvanceAcked() {
  if (frozen_) return;
  std::optional<WalPosition> moved;
  while (!marks_.empty() && AllPopped(shards_, marks_.front().pushed)) {
    moved = marks_.front().end;
    marks_.pop_front();
  }
  if (moved) SetAcked(*moved);
}

void QueueManager::Impl::SetAcked(WalPosition p) {
  acked_ = p;
  acked_segment_.store(p.segment, std::memory_order_relaxed);
}

void QueueManager::Impl::SaveProgress(bool force) {
  SteadyTime now = std::chrono::steady_clock::now();
  if (!force && now - last_save_ < kProgressInterval) return;
  // Per-shard positions only when one mapping routed every sample after acked_: not during a
  // reshard barrier (then samples before the fence were routed by the old shard count).
  std::vector<std::optional<SamplePos>> done;
  // Nor while records whose samples the watcher filtered by start time are unacknowledged:
  // a resumed watcher does not filter, so its sample indices there would differ.
  if (!barrier_ && watcher_->last_filtered() < acked_) {
    for (size_t i = 0; i < routed_; ++i) {
      const auto& d = shards_[i].done;
      done.push_back(d && acked_ < d->record ? d : std::nullopt);
    }
    if (std::none_of(done.begin(), done.end(), [](const auto& d) { return d.has_value(); })) {
      done.clear();
    }
  }
  std::string text = FormatProgress(acked_, done);
  if (text == saved_) return;
  last_save_ = now;
  const std::string dir = progress_path_.substr(0, progress_path_.rfind('/'));
  Status st = fs_.MkdirAll(dir);
  if (st.ok()) {
    st = WriteFileAtomic(fs_, progress_path_, text);
  }
  if (!st.ok()) {
    size_t suppressed = 0;
    if (drop_log_.Allow(now, &suppressed)) {
      spdlog::error(
          "msg=\"Cannot save remote write progress\" component=remote remote_name={} err={} "
          "suppressed={}",
          name_, Quote(st.ToString()), suppressed);
    }
    return;
  }
  saved_ = std::move(text);
}

void QueueManager::Impl::BeginRecord(WalPosition end) {
  record_ = end;
  record_index_ = 0;
  if (!resume_done_.empty() && resume_done_until_ < end) resume_done_.clear();
}

namespace {

double ValueOf(const wal::RefSample& s) { return s.v; }
double ValueOf(const wal::RefExemplar& e) { return e.v; }
double ValueOf(const wal::RefHistogramSample&) { return 0; }
double ValueOf(const wal::RefFloatHistogramSample&) { return 0; }

// The schema of a histogram item; 0 for other items.
int32_t SchemaOf(const wal::RefHistogramSample& h) { return h.h.schema; }
int32_t SchemaOf(const wal::RefFloatHistogramSample& h) { return h.fh.schema; }
template <typename T>
int32_t SchemaOf(const T&) {
  return 0;
}

void FillExtra(const wal::RefSample&, ItemExtra*) {}
void FillExtra(const wal::RefHistogramSample& h, ItemExtra* x) {
  EncodeHistogram(h.h, &x->histogram);
}
void FillExtra(const wal::RefFloatHistogramSample& h, ItemExtra* x) {
  EncodeHistogram(h.fh, &x->histogram);
}
void FillExtra(const wal::RefExemplar& e, ItemExtra* x) { x->exemplar_labels = e.labels; }

}  // namespace

size_t QueueManager::Impl::Append(std::span<const wal::RefSample> samples) {
  return Enqueue(samples, ItemKind::kSample);
}
size_t QueueManager::Impl::AppendHistograms(std::span<const wal::RefHistogramSample> h) {
  return Enqueue(h, ItemKind::kHistogram);
}
size_t QueueManager::Impl::AppendFloatHistograms(std::span<const wal::RefFloatHistogramSample> h) {
  return Enqueue(h, ItemKind::kHistogram);
}
size_t QueueManager::Impl::AppendExemplars(std::span<const wal::RefExemplar> e) {
  return Enqueue(e, ItemKind::kExemplar);
}

template <typename T>
size_t QueueManager::Impl::Enqueue(std::span<const T> items, ItemKind kind) {
  const size_t k = static_cast<size_t>(kind);
  const SteadyTime now = std::chrono::steady_clock::now();
  const int64_t too_old = TooOldBefore();
  size_t taken = 0;
  size_t queued = 0;
  int64_t max_t = highest_ms_;
  for (; taken < items.size(); ++taken) {
    const T& s = items[taken];
    const SamplePos pos{record_, record_index_ + static_cast<uint32_t>(taken)};
    if (!resume_done_.empty()) {
      // Acknowledged before a restart (its shard finished it, or a later item of its shard).
      // Item indices count within one record, whatever its kind.
      const auto& done = resume_done_[s.ref % resume_done_.size()];
      if (done && pos <= *done) {
        resent_skipped_->Inc();
        continue;
      }
    }
    const CachedSeries* series = cache_.Find(s.ref);
    if (series == nullptr) {
      dropped_unknown_[k]->Inc();
      tuner_.SamplesDropped(1);
      continue;
    }
    if (series->dropped()) {
      dropped_relabel_[k]->Inc();
      tuner_.SamplesDropped(1);
      continue;
    }
    if (s.t < too_old) {
      dropped_too_old_[k]->Inc();
      tuner_.SamplesDropped(1);
      continue;
    }
    if (!v2_ && SchemaOf(s) == kCustomBucketsSchema) {
      // RW 1.0 has custom_values, but Prometheus sends custom-bucket histograms only with 2.0.
      dropped_nhcb_->Inc();
      tuner_.SamplesDropped(1);
      continue;
    }
    Shard& shard = shards_[routed_ == 1 ? 0 : s.ref % routed_];  // 1 shard: no division
    if (shard.queue.full()) {
      // The watcher keeps the rest and offers it again: the WAL is the buffer.
      enqueue_retries_->Inc();
      break;
    }
    if (shard.queue.size() == 0) shard.wait_started = now;
    if (kind == ItemKind::kSample) {
      shard.queue.Push({series, s.t, ValueOf(s), pos});
    } else {
      ItemExtra extra;
      FillExtra(s, &extra);
      shard.queue.Push({series, s.t, ValueOf(s), pos}, kind, &extra);
    }
    last_pushed_ = pos;
    ++queued;
    max_t = std::max(max_t, s.t);
  }
  record_index_ += static_cast<uint32_t>(taken);
  tuner_.SamplesIn(taken);
  if (queued > 0) pending_[k]->Add(static_cast<double>(queued));
  if (max_t > highest_ms_) {
    highest_ms_ = max_t;
    highest_ts_->Set(static_cast<double>(max_t) / 1000.0);
  }
  return taken;
}

void QueueManager::Impl::Run(std::stop_token stop, Watcher& watcher) {
  struct SaveOnExit {
    Impl* q;
    ~SaveOnExit() { q->SaveProgress(/*force=*/true); }
  } save_on_exit{this};
  uint64_t seen = 0;
  bool flushing = false;
  SteadyTime deadline{};
  while (true) {
    SteadyTime now = std::chrono::steady_clock::now();
    if (!flushing && stop.stop_requested()) {
      flushing = true;
      deadline = now + milliseconds(flush_deadline_ms_.load());
    }
    auto progress = flushing ? Watcher::Progress::kIdle : watcher.Poll(kMaxRecordsPerPoll, stop);
    int running = 0;
    curl_multi_perform(multi_, &running);
    now = std::chrono::steady_clock::now();
    DrainCompletions(now);
    MaybeReshard(now, flushing);
    for (Shard& s : shards_) MaybeSend(s, now, flushing);
    if (!flushing) MaybeSendMetadata(now);
    curl_multi_perform(multi_, &running);
    // On loopback a transfer can finish inside that perform; its completion would otherwise
    // wait for the next turn, and nothing on the socket would end the wait below early.
    const bool completed = DrainCompletions(std::chrono::steady_clock::now()) > 0;
    if (flushing) {
      if (AllSent()) break;
      if (now >= deadline) {
        Abandon();
        break;
      }
    }
    SaveProgress(/*force=*/false);

    SteadyTime until =
        progress == Watcher::Progress::kRead || completed ? now : NextTimer(flushing);
    const bool in_flight =
        std::any_of(shards_.begin(), shards_.end(), [](const Shard& s) { return s.in_flight; }) ||
        (metadata_ && metadata_->in_flight());
    if (in_flight || flushing) {
      // curl_multi_wakeup (Stop) and socket activity end this wait early.
      until = std::min({until, now + kBusyWait, flushing ? deadline : until});
      auto wait = std::chrono::ceil<milliseconds>(until - now);
      if (wait.count() > 0) {
        curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait.count()), nullptr);
      }
    } else {
      until = std::min(until, now + kIdleWait);
      auto wait = std::chrono::ceil<milliseconds>(until - now);
      if (wait.count() > 0) notifier_.WaitFor(&seen, wait, stop);
    }
  }
  if (metadata_) {
    if (metadata_->in_flight()) curl_multi_remove_handle(multi_, metadata_->client().handle());
    metadata_->Abandon();
  }
}

SteadyTime QueueManager::Impl::NextTimer(bool flushing) const {
  SteadyTime t = flushing ? SteadyTime::max() : next_reshard_;
  bool waits_for_tokens = false;
  for (const Shard& s : shards_) {
    if (s.in_flight) continue;
    if (s.batch > 0) {
      t = std::min(t, s.retry_at);
      waits_for_tokens = true;
      continue;
    }
    const size_t n = s.Sendable(barrier_);
    if (n == 0) continue;  // empty, or waiting for the barrier: a completion moves it on
    waits_for_tokens = true;
    const bool cut = n >= max_per_send_ || (barrier_ && n < s.queue.size());
    t = flushing || cut ? std::min(t, SteadyTime::min())
                        : std::min(t, s.wait_started + config_.queue_config.batch_send_deadline);
  }
  if (metadata_ && !flushing) {
    t = std::min(t, metadata_->NextTimer());
    waits_for_tokens = true;
  }
  if (waits_for_tokens && !bucket_.unlimited()) {
    // Paced: nothing can start before the bucket is out of debt.
    t = std::max(t, bucket_.ReadyAt(std::chrono::steady_clock::now()));
  }
  return t;
}

int64_t QueueManager::Impl::TooOldBefore() const {
  const auto limit = config_.queue_config.sample_age_limit;
  if (limit.count() <= 0) return INT64_MIN;
  return ToMillis(clock_.Now()) - std::chrono::duration_cast<milliseconds>(limit).count();
}

void QueueManager::Impl::MaybeSend(Shard& shard, SteadyTime now, bool flushing) {
  if (shard.in_flight) return;
  if (shard.batch > 0) {  // waiting to retry
    if (now < shard.retry_at || bucket_.ReadyAt(now) > now) return;
    if (shard.batch_min_t < TooOldBefore() && !EncodeBatch(shard, now)) return;
    StartAttempt(shard, now);
    return;
  }
  const size_t sendable = shard.Sendable(barrier_);
  const size_t n = std::min(sendable, max_per_send_);
  if (n == 0) return;
  // A reshard's fence ends the batch early: the samples behind it wait for the barrier.
  const bool cut_by_fence = barrier_ && n < max_per_send_ && n < shard.queue.size();
  if (n < max_per_send_ && !flushing && !cut_by_fence &&
      now - shard.wait_started < config_.queue_config.batch_send_deadline) {
    return;
  }
  if (bucket_.ReadyAt(now) > now) return;
  shard.batch = n;
  shard.attempt = 0;
  shard.backoff = config_.queue_config.min_backoff;
  if (!EncodeBatch(shard, now)) return;
  bytes_total_->Inc(static_cast<double>(shard.body.size()));
  StartAttempt(shard, now);
}

bool QueueManager::Impl::EncodeBatch(Shard& shard, SteadyTime now) {
  const int64_t too_old = TooOldBefore();
  if (v2_) {
    MaybeRefreshMetadata(now);
    v2_encoder_.Reset();
  } else {
    encoder_.Reset();
  }
  int64_t min_t = INT64_MAX, max_t = INT64_MIN;
  std::array<size_t, kItemKinds> all{}, sent{};
  size_t with_metadata = 0;
  size_t extra = 0;  // index of the next histogram's or exemplar's ItemExtra
  // RW 2.0 TimeSeries must hold a sample or a histogram (spec; receivers answer 400 to one
  // holding only exemplars), so each exemplar rides with the first sample or histogram of its
  // series in this batch. A WAL commit logs its samples before its exemplars, so the partner is
  // normally here; an exemplar without one is dropped, counted with reason "no_sample".
  v2_exemplars_.clear();
  v2_exemplars_at_.clear();
  if (v2_ && config_.send_exemplars) {
    for (size_t i = 0, e = 0; i < shard.batch; ++i) {
      const ItemKind kind = shard.queue.kind(i);
      if (kind == ItemKind::kSample) continue;
      if (kind == ItemKind::kExemplar && shard.queue.at(i).t >= too_old) {
        v2_exemplars_.push_back({shard.queue.at(i).series, i, e});
      }
      ++e;
    }
    std::stable_sort(v2_exemplars_.begin(), v2_exemplars_.end(),
                     [](const PendingExemplar& a, const PendingExemplar& b) {
                       return std::less<const CachedSeries*>()(a.series, b.series);
                     });
    for (size_t i = v2_exemplars_.size(); i-- > 0;) {
      v2_exemplars_at_[v2_exemplars_[i].series] = static_cast<uint32_t>(i);
    }
  }
  for (size_t i = 0; i < shard.batch; ++i) {
    const QueuedSample& q = shard.queue.at(i);
    const ItemKind kind = shard.queue.kind(i);
    const ItemExtra* x = kind == ItemKind::kSample ? nullptr : &shard.queue.extra(extra++);
    ++all[static_cast<size_t>(kind)];
    if (q.t < too_old) continue;
    const PairedLabels labels = cache_.LabelsOf(*q.series);
    if (v2_) {
      if (kind == ItemKind::kExemplar) continue;  // attached to its partner, or dropped below
      const MetricMetadata* m = MetadataOf(*q.series);
      with_metadata += m != nullptr;
      if (kind == ItemKind::kSample) {
        v2_encoder_.AddSample(labels, m, q.t, q.v);
      } else {
        v2_encoder_.AddHistogram(labels, m, q.t, x->histogram);
      }
      if (!v2_exemplars_at_.empty()) {
        auto it = v2_exemplars_at_.find(q.series);
        if (it != v2_exemplars_at_.end()) {
          for (size_t e = it->second;
               e < v2_exemplars_.size() && v2_exemplars_[e].series == q.series; ++e) {
            const PendingExemplar& pe = v2_exemplars_[e];
            const QueuedSample& eq = shard.queue.at(pe.item);
            v2_encoder_.AttachExemplar(eq.t, eq.v, shard.queue.extra(pe.extra).exemplar_labels);
            ++sent[static_cast<size_t>(ItemKind::kExemplar)];
            min_t = std::min(min_t, eq.t);
            max_t = std::max(max_t, eq.t);
          }
          v2_exemplars_at_.erase(it);
        }
      }
    } else {
      switch (kind) {
        case ItemKind::kSample:
          encoder_.AddSample(labels, q.t, q.v);
          break;
        case ItemKind::kHistogram:
          encoder_.AddHistogram(labels, q.t, x->histogram);
          break;
        case ItemKind::kExemplar:
          encoder_.AddExemplar(labels, q.t, q.v, x->exemplar_labels);
          break;
      }
    }
    min_t = std::min(min_t, q.t);
    max_t = std::max(max_t, q.t);
    ++sent[static_cast<size_t>(kind)];
  }
  // Exemplars left without a partner (RW 2.0): the same ones on every attempt of the batch,
  // counted once.
  const size_t unmatched = v2_exemplars_.size() - sent[static_cast<size_t>(ItemKind::kExemplar)];
  if (shard.attempt == 0) shard.batch_kinds = all;
  auto before = shard.attempt == 0 ? all : shard.sent_kinds;
  size_t dropped = 0;
  if (shard.attempt == 0 && unmatched > 0) {
    dropped_no_sample_->Inc(static_cast<double>(unmatched));
    before[static_cast<size_t>(ItemKind::kExemplar)] -= unmatched;
    dropped += unmatched;
  }
  for (size_t k = 0; k < kItemKinds; ++k) {
    if (before[k] > sent[k]) dropped_too_old_[k]->Inc(static_cast<double>(before[k] - sent[k]));
    dropped += before[k] - sent[k];
  }
  if (dropped > 0) tuner_.SamplesDropped(dropped);
  shard.sent_kinds = sent;
  shard.sent_metadata = with_metadata;
  shard.sent = sent[0] + sent[1] + sent[2];
  if (shard.sent == 0) {
    shard.batch_max_t = INT64_MIN;
    FinishBatch(shard, now);
    return false;
  }
  shard.body = SnappyCompress(v2_ ? v2_encoder_.bytes() : encoder_.bytes(), &shard.body_buf);
  shard.batch_min_t = min_t;
  shard.batch_max_t = max_t;
  return true;
}

void QueueManager::Impl::MaybeRefreshMetadata(SteadyTime now) {
  if (!options_.metadata) return;
  // Read at first use, every send_interval, and sooner (every 10 s at most) while some series'
  // family is unknown: its target may have been scraped for the first time since.
  const bool due = families_read_ == SteadyTime{} ||
                   now - families_read_ >= config_.metadata_config.send_interval ||
                   (families_missed_ && now - families_read_ >= std::chrono::seconds(10));
  if (!due) return;
  families_read_ = now;
  families_missed_ = false;
  last_name_.clear();
  last_metadata_ = nullptr;
  families_.clear();
  options_.metadata([this](const MetricMetadata& m) { families_.emplace(m.family_name, m); });
}

const MetricMetadata* QueueManager::Impl::MetadataOf(const CachedSeries& series) {
  std::string_view name;
  const LabelPairTable& pairs = cache_.pairs();
  cache_.LabelsOf(series).ForEach([&name, &pairs](uint32_t id) {
    if (pairs.name(id) != "__name__") return true;
    name = pairs.value(id);
    return false;
  });
  if (name == last_name_ && !name.empty()) return last_metadata_;
  const MetricMetadata* found = nullptr;
  auto find = [this](std::string_view n) {
    return families_.find(absl::string_view(n.data(), n.size()));
  };
  auto it = find(name);
  if (it == families_.end()) {
    // A series of a family: counters' _total (text format families keep it in their name),
    // histograms' and summaries' _bucket/_count/_sum, OpenMetrics' _created and _info.
    for (std::string_view suffix :
         {"_total", "_bucket", "_count", "_sum", "_created", "_info", "_gcount", "_gsum"}) {
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        it = find(name.substr(0, name.size() - suffix.size()));
        if (it != families_.end()) break;
      }
    }
  }
  if (it != families_.end()) found = &it->second;
  if (found == nullptr) families_missed_ = true;
  last_name_.assign(name);
  last_metadata_ = found;
  return found;
}

void QueueManager::Impl::StartAttempt(Shard& shard, SteadyTime now) {
  bucket_.Take(now, shard.body.size());
  for (size_t k = 0; k < kItemKinds; ++k) {
    if (shard.sent_kinds[k] > 0) total_[k]->Inc(static_cast<double>(shard.sent_kinds[k]));
  }
  if (shard.sent_metadata > 0) metadata_total_->Inc(static_cast<double>(shard.sent_metadata));
  shard.attempt_started = now;
  if (!shard.client->Prepare(shard.body, shard.attempt).ok()) {
    // An unreadable credentials file: retried with backoff like a transport error.
    OnDone(shard, CURLE_FAILED_INIT, now);
    return;
  }
  CURLMcode rc = curl_multi_add_handle(multi_, shard.client->handle());
  if (rc != CURLM_OK) {
    // Not expected (the handle is never in the multi twice); treat as a transport error.
    spdlog::error("msg=\"curl_multi_add_handle failed\" component=remote remote_name={} err={}",
                  name_, Quote(curl_multi_strerror(rc)));
    OnDone(shard, CURLE_FAILED_INIT, now);
    return;
  }
  shard.in_flight = true;
}

void QueueManager::Impl::MaybeSendMetadata(SteadyTime now) {
  if (!metadata_) return;
  metadata_->Collect(now);
  if (!metadata_->Ready(now) || bucket_.ReadyAt(now) > now) return;
  HttpClient& client = metadata_->client();
  bucket_.Take(now, metadata_->body().size());
  metadata_->Started(now);
  if (!client.Prepare(metadata_->body(), metadata_->attempt()).ok() ||
      curl_multi_add_handle(multi_, client.handle()) != CURLM_OK) {
    metadata_->Done(client.Complete(CURLE_FAILED_INIT), now);
  }
}

size_t QueueManager::Impl::DrainCompletions(SteadyTime now) {
  size_t done = 0;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    // msg does not survive curl_multi_remove_handle.
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    curl_multi_remove_handle(multi_, easy);
    ++done;
    if (metadata_ && metadata_->client().handle() == easy) {
      metadata_->Done(metadata_->client().Complete(code), now);
      continue;
    }
    for (Shard& s : shards_) {
      if (s.client->handle() == easy) {
        s.in_flight = false;
        OnDone(s, code, now);
        break;
      }
    }
  }
  return done;
}

void QueueManager::Impl::OnDone(Shard& shard, CURLcode code, SteadyTime now) {
  const auto took = now - shard.attempt_started;
  duration_->Observe(std::chrono::duration<double>(took).count());
  last_send_done_ = now;
  SendResult r = shard.client->Complete(code);
  if (r.status.ok()) {
    tuner_.SamplesOut(shard.sent, took);
    CheckWritten(shard, r.written, now);
    FinishBatch(shard, now);
    return;
  }
  size_t suppressed = 0;
  if (r.status.code() == Code::kUnavailable) {
    for (size_t k = 0; k < kItemKinds; ++k) {
      if (shard.sent_kinds[k] > 0) retried_[k]->Inc(static_cast<double>(shard.sent_kinds[k]));
    }
    milliseconds sleep = r.retry_after.count() > 0 ? r.retry_after : shard.backoff;
    shard.retry_at = now + sleep;
    shard.backoff = std::min(2 * sleep, config_.queue_config.max_backoff);
    ++shard.attempt;
    // As Prometheus: the failing receiver, not the rates, explains the backlog for now.
    reshard_disabled_until_ = std::max(reshard_disabled_until_, now + 2 * sleep);
    if (retry_log_.Allow(now, &suppressed)) {
      spdlog::warn(
          "msg=\"Failed to send batch, retrying\" component=remote remote_name={} samples={} "
          "retry_in={}ms err={} suppressed={}",
          name_, shard.sent, sleep.count(), Quote(r.status.message()), suppressed);
    }
    return;
  }
  tuner_.SamplesOut(shard.sent, took);
  for (size_t k = 0; k < kItemKinds; ++k) {
    if (shard.sent_kinds[k] > 0) failed_[k]->Inc(static_cast<double>(shard.sent_kinds[k]));
  }
  if (drop_log_.Allow(now, &suppressed)) {
    spdlog::error(
        "msg=\"non-recoverable error, dropping batch\" component=remote remote_name={} samples={} "
        "err={} suppressed={}",
        name_, shard.sent, Quote(r.status.message()), suppressed);
  }
  FinishBatch(shard, now);
}

void QueueManager::Impl::CheckWritten(const Shard& shard, const WrittenCounts& w, SteadyTime now) {
  const auto& sent = shard.sent_kinds;
  const std::array<int64_t, kItemKinds> written = {w.samples, w.histograms, w.exemplars};
  // RW 2.0: a receiver MUST report what it wrote, and a missing header means 0. A 2xx that
  // reports nothing written for a non-empty request most likely came from a 1.x receiver that
  // decoded the request as an (empty) RW 1.0 message: nothing of it was stored (Prometheus
  // treats it so too). RW 1.0: no headers means unknown, taken as all written.
  const bool none = written[0] == 0 && written[1] == 0 && written[2] == 0;
  if (!w.reported && !v2_) return;
  std::array<size_t, kItemKinds> lost{};
  for (size_t k = 0; k < kItemKinds; ++k) {
    if (v2_ && none) {
      lost[k] = sent[k];
    } else if (written[k] < static_cast<int64_t>(sent[k])) {
      lost[k] = sent[k] - static_cast<size_t>(written[k]);
    }
  }
  if (lost[0] + lost[1] + lost[2] == 0) return;
  for (size_t k = 0; k < kItemKinds; ++k) {
    if (lost[k] > 0) failed_[k]->Inc(static_cast<double>(lost[k]));
  }
  size_t suppressed = 0;
  if (drop_log_.Allow(now, &suppressed)) {
    spdlog::error(
        "msg=\"non-recoverable error, receiver wrote less than sent\" component=remote "
        "remote_name={} samples={} histograms={} exemplars={} samples_written={} "
        "histograms_written={} exemplars_written={} headers={} suppressed={}",
        name_, sent[0], sent[1], sent[2], written[0], written[1], written[2],
        w.reported ? "present" : "missing", suppressed);
  }
}

void QueueManager::Impl::FinishBatch(Shard& shard, SteadyTime now) {
  // Prometheus moves the sent high-water mark after a success and after a non-recoverable
  // failure alike: either way the batch is done with.
  if (shard.batch_max_t != INT64_MIN) {
    double sent_s = static_cast<double>(shard.batch_max_t / 1000);
    if (sent_s > highest_sent_ts_->Value()) highest_sent_ts_->Set(sent_s);
  }
  for (size_t k = 0; k < kItemKinds; ++k) {
    if (shard.batch_kinds[k] > 0) pending_[k]->Add(-static_cast<double>(shard.batch_kinds[k]));
  }
  shard.batch_kinds = {};
  if (shard.batch > 0) shard.done = shard.queue.at(shard.batch - 1).pos;
  shard.queue.Pop(shard.batch);
  shard.batch = 0;
  shard.sent = 0;
  shard.wait_started = now;
  if (!graves_.empty()) FreeGraves();
  AdvanceAcked();
  if (barrier_) CheckBarrier();
}

void QueueManager::Impl::MaybeReshard(SteadyTime now, bool flushing) {
  if (now < next_reshard_) return;
  next_reshard_ = now + options_.shard_update_interval;
  const int current = static_cast<int>(routed_);
  ShardDecision d = tuner_.Evaluate(current, static_cast<double>(highest_ms_) / 1000.0,
                                    highest_sent_ts_->Value());
  shards_desired_->Set(d.desired);
  int want = options_.decide_shards ? options_.decide_shards(current, d.shards) : d.shards;
  const config::QueueConfig& q = config_.queue_config;
  want = std::clamp(want, std::max(1, q.min_shards), std::max({1, q.min_shards, q.max_shards}));
  if (want == current || flushing || barrier_) return;
  if (!options_.decide_shards) {
    if (now - last_send_done_ > options_.shard_update_interval || now < reshard_disabled_until_) {
      return;
    }
  }
  spdlog::info(
      "msg=\"Remote storage resharding\" component=remote remote_name={} from={} to={} "
      "desired={:.2f}",
      name_, current, want, d.desired);
  Reshard(static_cast<size_t>(want));
}

void QueueManager::Impl::Reshard(size_t count) {
  // Fence everything queued under the old mapping; what arrives from now on follows the new
  // one and waits until the fenced samples are done (CheckBarrier).
  for (Shard& s : shards_) s.fence = s.queue.pushed();
  fence_pos_ = last_pushed_;
  while (shards_.size() < count) {
    auto client = HttpClient::Create(config_, clock_);
    if (!client.ok()) {  // not expected: the first shards were created from the same config
      spdlog::error("msg=\"Cannot add remote write shard\" component=remote remote_name={} err={}",
                    name_, Quote(client.status().ToString()));
      count = shards_.size();
      break;
    }
    Shard& s = shards_.emplace_back(shard_capacity_);
    s.client = std::move(*client);
  }
  routed_ = count;
  shards_gauge_->Set(static_cast<double>(count));
  barrier_ = true;
  CheckBarrier();
}

void QueueManager::Impl::CheckBarrier() {
  for (const Shard& s : shards_) {
    if (s.queue.popped() < s.fence) return;
  }
  barrier_ = false;
  // Every sample pushed before the fence is done, whichever shard it went to.
  for (Shard& s : shards_) {
    if (!s.done || *s.done < fence_pos_) s.done = fence_pos_;
  }
  // Shards past routed_ took no sample since the fence, and have sent all before it.
  while (shards_.size() > routed_) {
    assert(shards_.back().queue.size() == 0 && !shards_.back().in_flight);
    shards_.pop_back();
  }
  for (Mark& m : marks_) m.pushed.resize(std::min(m.pushed.size(), routed_));
  for (Grave& g : graves_) g.pushed.resize(std::min(g.pushed.size(), routed_));
}

bool QueueManager::Impl::AllSent() const {
  return std::all_of(shards_.begin(), shards_.end(),
                     [](const Shard& s) { return s.queue.size() == 0 && !s.in_flight; });
}

void QueueManager::Impl::Abandon() {
  AdvanceAcked();
  frozen_ = true;  // what is dropped here is sent again after a restart
  std::array<size_t, kItemKinds> kinds{};
  size_t lost = 0;
  for (Shard& s : shards_) {
    if (s.in_flight) {
      curl_multi_remove_handle(multi_, s.client->handle());
      s.in_flight = false;
    }
    for (size_t i = 0; i < s.queue.size(); ++i) ++kinds[static_cast<size_t>(s.queue.kind(i))];
    lost += s.queue.size();
    s.queue.Pop(s.queue.size());
    s.batch = 0;
  }
  if (lost == 0) return;
  for (size_t k = 0; k < kItemKinds; ++k) {
    failed_[k]->Inc(static_cast<double>(kinds[k]));
    pending_[k]->Add(-static_cast<double>(kinds[k]));
  }
  spdlog::error(
      "msg=\"Flush deadline passed, dropping unsent samples\" component=remote remote_name={} "
      "samples={}",
      name_, lost);
}

QueueManager::QueueManager(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier,
                           std::string wal_dir, config::RemoteWriteConfig config,
                           Labels external_labels, QueueOptions options)
    : impl_(std::make_unique<Impl>(fs, clock, metrics, notifier, std::move(wal_dir),
                                   std::move(config), std::move(external_labels),
                                   std::move(options))) {}

QueueManager::~QueueManager() = default;

void QueueManager::Start() { impl_->Start(); }

void QueueManager::Stop(std::chrono::milliseconds flush_deadline) { impl_->Stop(flush_deadline); }

void QueueManager::RequestStop(std::chrono::milliseconds flush_deadline) {
  impl_->RequestStop(flush_deadline);
}

const config::RemoteWriteConfig& QueueManager::config() const { return impl_->config(); }

int64_t QueueManager::CurrentSegment() const { return impl_->CurrentSegment(); }

}  // namespace petrel::remotewrite
