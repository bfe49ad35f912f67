#include "remotewrite/queue_manager.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "remotewrite/encoder.h"
#include "remotewrite/http_client.h"
#include "remotewrite/logfmt.h"
#include "remotewrite/series_cache.h"
#include "remotewrite/shard.h"
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

// Progress files hold "v1 <segment> <offset>\n".
std::optional<WalPosition> ParseProgress(const std::string& text) {
  unsigned long long segment = 0, offset = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "v1 %llu %llu%c", &segment, &offset, &tail) < 2)
    return std::nullopt;
  if (segment > UINT32_MAX || (tail != 0 && tail != '\n')) return std::nullopt;
  return WalPosition{static_cast<uint32_t>(segment), offset};
}

// A record read by the watcher: done once every shard popped past what it pushed up to it.
struct Mark {
  WalPosition end;
  std::vector<uint64_t> pushed;  // per shard, Shard::pushed after the record's samples
};

// Cache entries no longer in the SeriesCache, freed once no queued sample can point at them.
struct Grave {
  std::vector<uint64_t> pushed;  // per shard, Shard::pushed when they were retired
  std::vector<std::unique_ptr<CachedSeries>> entries;
};

}  // namespace

class QueueManager::Impl final : public Watcher::Sink {
 public:
  Impl(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier, std::string wal_dir,
       config::RemoteWriteConfig config, Labels external_labels);
  ~Impl() override;

  void Start();
  void Stop(milliseconds flush_deadline);
  void RequestStop(milliseconds flush_deadline);
  const config::RemoteWriteConfig& config() const { return config_; }
  int64_t CurrentSegment() const { return acked_segment_.load(std::memory_order_relaxed); }

  void StoreSeries(std::span<const wal::RefSeries> series, uint32_t segment) override;
  void SeriesReset(uint32_t segment) override;
  size_t Append(std::span<const wal::RefSample> samples) override;
  void Read(WalPosition end) override;

 private:
  void RegisterMetrics();
  void Bury();
  void FreeGraves();
  void Run(std::stop_token stop, Watcher& watcher);
  void MaybeSend(Shard& shard, SteadyTime now, bool flushing);
  void StartAttempt(Shard& shard, SteadyTime now);
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

  // Everything below is touched only by the loop thread while it runs (Start/Stop bracket it).
  SeriesCache cache_;
  std::unique_ptr<Watcher> watcher_;
  std::deque<Grave> graves_;
  std::vector<Shard> shards_;  // resharding will change the count
  CURLM* multi_ = nullptr;
  RequestEncoder encoder_;
  int64_t highest_ms_ = INT64_MIN;
  LogLimiter retry_log_;
  LogLimiter drop_log_;
  std::deque<Mark> marks_;            // records read but not yet done, oldest first
  WalPosition acked_;                 // everything before it is acknowledged (or dropped for good)
  std::optional<WalPosition> saved_;  // what the progress file holds
  SteadyTime last_save_{};
  bool frozen_ = false;  // samples were abandoned unsent: acked_ must not pass them
  std::atomic<int64_t> acked_segment_{-1};

  bool started_ = false;                       // Start runs once
  std::atomic<int64_t> flush_deadline_ms_{0};  // set by Stop before it requests the stop

  Counter* samples_total_;
  Counter* failed_total_;
  Counter* retried_total_;
  Counter* dropped_unknown_;
  Counter* dropped_relabel_;
  Counter* bytes_total_;
  Counter* enqueue_retries_;
  Gauge* pending_;
  Gauge* highest_ts_;
  Gauge* highest_sent_ts_;
  Histogram* duration_;

  std::jthread thread_;  // the endpoint's loop; last member, so it stops before the rest goes
};

QueueManager::Impl::Impl(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier,
                         std::string wal_dir, config::RemoteWriteConfig config,
                         Labels external_labels)
    : fs_(fs),
      clock_(clock),
      metrics_(metrics),
      notifier_(notifier),
      wal_dir_(std::move(wal_dir)),
      config_(std::move(config)),
      name_(config_.name),
      progress_path_(ProgressPath(wal_dir_, name_)),
      max_per_send_(static_cast<size_t>(std::max(1, config_.queue_config.max_samples_per_send))),
      cache_(std::move(external_labels), config_.write_relabel_configs) {
  RegisterMetrics();
}

QueueManager::Impl::~Impl() {
  Stop(milliseconds(0));
  for (Shard& s : shards_) s.client.reset();
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
  samples_total_ = counter("samples_total", "Total number of samples sent to remote storage.");
  failed_total_ = counter("samples_failed_total",
                          "Total number of samples which failed on send to remote storage, "
                          "non-recoverable errors.");
  retried_total_ = counter("samples_retried_total",
                           "Total number of samples which failed on send to remote storage but "
                           "were retried because the send error was recoverable.");
  auto dropped = [&](const char* reason) {
    return metrics_.GetCounter(
        p + "samples_dropped_total",
        "Total number of samples which were dropped after being read from the WAL before being "
        "sent via remote write, either via relabelling, due to being too old or unintentionally "
        "because of an unknown reference ID.",
        {"remote_name", "url", "reason"}, {values[0], values[1], reason});
  };
  dropped_unknown_ = dropped("unintentionally_dropped_series");
  dropped_relabel_ = dropped("dropped_series");
  bytes_total_ = counter("bytes_total",
                         "The total number of bytes of data (not metadata) sent by the queue "
                         "after compression.");
  enqueue_retries_ = counter("enqueue_retries_total",
                             "Total number of times enqueue has failed because a shards queue "
                             "was full.");
  pending_ = gauge("samples_pending",
                   "The number of samples pending in the queues shards to be "
                   "sent to the remote storage.");
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
  gauge("shards", "The number of shards used for parallel sending to the remote storage.")
      ->Set(std::max(1, q.min_shards));
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
  // Resharding will change the count; samples go to shard ref % shards_.size().
  // A shard holds at least one full batch, so a batch can always form.
  const size_t capacity = std::max(static_cast<size_t>(std::max(1, q.capacity)), max_per_send_);
  const size_t count = static_cast<size_t>(std::max(1, q.min_shards));
  shards_.reserve(count);
  for (size_t i = 0; i < count; ++i) shards_.emplace_back(capacity);
  for (Shard& s : shards_) {
    auto client = HttpClient::Create(config_, clock_);
    if (!client.ok() || multi_ == nullptr) {
      spdlog::error(
          "msg=\"Cannot start remote write queue\" component=remote remote_name={} err={}", name_,
          Quote(client.ok() ? "curl_multi_init failed" : client.status().ToString()));
      return;
    }
    s.client = std::move(*client);
  }
  watcher_ =
      std::make_unique<Watcher>(fs_, metrics_, wal_dir_, name_, ToMillis(clock_.Now()), *this);
  if (fs_.Exists(progress_path_)) {
    auto text = ReadFileToString(fs_, progress_path_);
    std::optional<WalPosition> p = text.ok() ? ParseProgress(*text) : std::nullopt;
    if (p) {
      watcher_->ResumeFrom(*p);
      saved_ = p;
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
  g.entries = cache_.TakeRetired();
  graves_.push_back(std::move(g));
  FreeGraves();
}

void QueueManager::Impl::FreeGraves() {
  while (!graves_.empty()) {
    const Grave& g = graves_.front();
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (shards_[i].queue.popped() < g.pushed[i]) return;
    }
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
  while (!marks_.empty()) {
    const Mark& m = marks_.front();
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (shards_[i].queue.popped() < m.pushed[i]) {
        if (moved) SetAcked(*moved);
        return;
      }
    }
    moved = m.end;
    marks_.pop_front();
  }
  if (moved) SetAcked(*moved);
}

void QueueManager::Impl::SetAcked(WalPosition p) {
  acked_ = p;
  acked_segment_.store(p.segment, std::memory_order_relaxed);
}

void QueueManager::Impl::SaveProgress(bool force) {
  if (saved_ && *saved_ == acked_) return;
  SteadyTime now = std::chrono::steady_clock::now();
  if (!force && now - last_save_ < kProgressInterval) return;
  last_save_ = now;
  const std::string dir = progress_path_.substr(0, progress_path_.rfind('/'));
  Status st = fs_.MkdirAll(dir);
  if (st.ok()) {
    st = WriteFileAtomic(fs_, progress_path_,
                         fmt::format("v1 {} {}\n", acked_.segment, acked_.offset));
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
  saved_ = acked_;
}

size_t QueueManager::Impl::Append(std::span<const wal::RefSample> samples) {
  const SteadyTime now = std::chrono::steady_clock::now();
  size_t taken = 0;
  size_t queued = 0;
  int64_t max_t = highest_ms_;
  for (; taken < samples.size(); ++taken) {
    const wal::RefSample& s = samples[taken];
    const CachedSeries* series = cache_.Find(s.ref);
    if (series == nullptr) {
      dropped_unknown_->Inc();
      continue;
    }
    if (series->dropped) {
      dropped_relabel_->Inc();
      continue;
    }
    Shard& shard = shards_[s.ref % shards_.size()];
    if (shard.queue.full()) {
      // The watcher keeps the rest and offers it again: the WAL is the buffer.
      enqueue_retries_->Inc();
      break;
    }
    if (shard.queue.size() == 0) shard.wait_started = now;
    shard.queue.Push({series, s.t, s.v});
    ++queued;
    max_t = std::max(max_t, s.t);
  }
  if (queued > 0) pending_->Add(static_cast<double>(queued));
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
    for (Shard& s : shards_) MaybeSend(s, now, flushing);
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
        std::any_of(shards_.begin(), shards_.end(), [](const Shard& s) { return s.in_flight; });
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
}

SteadyTime QueueManager::Impl::NextTimer(bool flushing) const {
  SteadyTime t = SteadyTime::max();
  for (const Shard& s : shards_) {
    if (s.in_flight) continue;
    if (s.batch > 0) {
      t = std::min(t, s.retry_at);
    } else if (s.queue.size() > 0) {
      t = flushing ? SteadyTime::min()
                   : std::min(t, s.wait_started + config_.queue_config.batch_send_deadline);
    }
  }
  return t;
}

void QueueManager::Impl::MaybeSend(Shard& shard, SteadyTime now, bool flushing) {
  if (shard.in_flight) return;
  if (shard.batch > 0) {  // waiting to retry
    if (now >= shard.retry_at) StartAttempt(shard, now);
    return;
  }
  const size_t n = std::min(shard.queue.size(), max_per_send_);
  if (n == 0) return;
  if (n < max_per_send_ && !flushing &&
      now - shard.wait_started < config_.queue_config.batch_send_deadline) {
    return;
  }
  encoder_.Reset();
  int64_t max_t = INT64_MIN;
  for (size_t i = 0; i < n; ++i) {
    const QueuedSample& q = shard.queue.at(i);
    encoder_.AddSample(q.series->encoded_labels, q.t, q.v);
    max_t = std::max(max_t, q.t);
  }
  SnappyCompress(encoder_.bytes(), &shard.body);
  bytes_total_->Inc(static_cast<double>(shard.body.size()));
  shard.batch = n;
  shard.batch_max_t = max_t;
  shard.attempt = 0;
  shard.backoff = config_.queue_config.min_backoff;
  StartAttempt(shard, now);
}

void QueueManager::Impl::StartAttempt(Shard& shard, SteadyTime now) {
  if (!shard.client->Prepare(shard.body, shard.attempt).ok()) {
    // An unreadable credentials file: retried with backoff like a transport error.
    samples_total_->Inc(static_cast<double>(shard.batch));
    shard.attempt_started = now;
    OnDone(shard, CURLE_FAILED_INIT, now);
    return;
  }
  CURLMcode rc = curl_multi_add_handle(multi_, shard.client->handle());
  if (rc != CURLM_OK) {
    // Not expected (the handle is never in the multi twice); treat as a transport error.
    spdlog::error("msg=\"curl_multi_add_handle failed\" component=remote remote_name={} err={}",
                  name_, Quote(curl_multi_strerror(rc)));
    samples_total_->Inc(static_cast<double>(shard.batch));
    OnDone(shard, CURLE_FAILED_INIT, now);
    return;
  }
  shard.in_flight = true;
  shard.attempt_started = now;
  samples_total_->Inc(static_cast<double>(shard.batch));
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
    for (Shard& s : shards_) {
      if (s.client->handle() == easy) {
        s.in_flight = false;
        OnDone(s, code, now);
        ++done;
        break;
      }
    }
  }
  return done;
}

void QueueManager::Impl::OnDone(Shard& shard, CURLcode code, SteadyTime now) {
  duration_->Observe(std::chrono::duration<double>(now - shard.attempt_started).count());
  SendResult r = shard.client->Complete(code);
  if (r.status.ok()) {
    FinishBatch(shard, now);
    return;
  }
  size_t suppressed = 0;
  if (r.status.code() == Code::kUnavailable) {
    retried_total_->Inc(static_cast<double>(shard.batch));
    milliseconds sleep = r.retry_after.count() > 0 ? r.retry_after : shard.backoff;
    shard.retry_at = now + sleep;
    shard.backoff = std::min(2 * sleep, config_.queue_config.max_backoff);
    ++shard.attempt;
    if (retry_log_.Allow(now, &suppressed)) {
      spdlog::warn(
          "msg=\"Failed to send batch, retrying\" component=remote remote_name={} samples={} "
          "retry_in={}ms err={} suppressed={}",
          name_, shard.batch, sleep.count(), Quote(r.status.message()), suppressed);
    }
    return;
  }
  failed_total_->Inc(static_cast<double>(shard.batch));
  if (drop_log_.Allow(now, &suppressed)) {
    spdlog::error(
        "msg=\"non-recoverable error, dropping batch\" component=remote remote_name={} samples={} "
        "err={} suppressed={}",
        name_, shard.batch, Quote(r.status.message()), suppressed);
  }
  FinishBatch(shard, now);
}

void QueueManager::Impl::FinishBatch(Shard& shard, SteadyTime now) {
  // Prometheus moves the sent high-water mark after a success and after a non-recoverable
  // failure alike: either way the batch is done with.
  double sent_s = static_cast<double>(shard.batch_max_t / 1000);
  if (sent_s > highest_sent_ts_->Value()) highest_sent_ts_->Set(sent_s);
  pending_->Add(-static_cast<double>(shard.batch));
  shard.queue.Pop(shard.batch);
  shard.batch = 0;
  shard.wait_started = now;
  if (!graves_.empty()) FreeGraves();
  AdvanceAcked();
}

bool QueueManager::Impl::AllSent() const {
  return std::all_of(shards_.begin(), shards_.end(),
                     [](const Shard& s) { return s.queue.size() == 0 && !s.in_flight; });
}

void QueueManager::Impl::Abandon() {
  AdvanceAcked();
  frozen_ = true;  // what is dropped here is sent again after a restart
  size_t lost = 0;
  for (Shard& s : shards_) {
    if (s.in_flight) {
      curl_multi_remove_handle(multi_, s.client->handle());
      s.in_flight = false;
    }
    lost += s.queue.size();
    s.queue.Pop(s.queue.size());
    s.batch = 0;
  }
  if (lost == 0) return;
  failed_total_->Inc(static_cast<double>(lost));
  pending_->Add(-static_cast<double>(lost));
  spdlog::error(
      "msg=\"Flush deadline passed, dropping unsent samples\" component=remote remote_name={} "
      "samples={}",
      name_, lost);
}

QueueManager::QueueManager(Fs& fs, Clock& clock, Registry& metrics, wal::WriteNotifier& notifier,
                           std::string wal_dir, config::RemoteWriteConfig config,
                           Labels external_labels)
    : impl_(std::make_unique<Impl>(fs, clock, metrics, notifier, std::move(wal_dir),
                                   std::move(config), std::move(external_labels))) {}

QueueManager::~QueueManager() = default;

void QueueManager::Start() { impl_->Start(); }

void QueueManager::Stop(std::chrono::milliseconds flush_deadline) { impl_->Stop(flush_deadline); }

void QueueManager::RequestStop(std::chrono::milliseconds flush_deadline) {
  impl_->RequestStop(flush_deadline);
}

const config::RemoteWriteConfig& QueueManager::config() const { return impl_->config(); }

int64_t QueueManager::CurrentSegment() const { return impl_->CurrentSegment(); }

}  // namespace petrel::remotewrite
