#include "scrape/manager.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "scrape/worker_pool.h"

namespace petrel::scrape {
namespace {

// Prometheus 3.x's default Accept header (exposition-format.md §1): OpenMetrics first.
constexpr const char* kAcceptHeader =
    "Accept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// One target's schedule and HTTP state. Owned by the loop thread; `busy` hands it to a
// worker for parsing and back.
struct Entry {
  std::unique_ptr<ScrapeLoop> loop;
  uint64_t hash = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  int64_t body_limit = 0;  // 0: unlimited
  bool body_limit_hit = false;
  SteadyTime due;
  WallTime due_wall;  // the ideal tick, used to snap timestamps
  SteadyTime started;
  int64_t timestamp_ms = 0;
  std::atomic<bool> busy{false};
  bool removed = false;

  ~Entry() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
  }
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* e = static_cast<Entry*>(user);
  const size_t bytes = size * n;
  // body_size_limit counts uncompressed bytes (curl hands us decoded data); reaching it
  // aborts the transfer, so a never-ending body cannot grow memory.
  if (e->body_limit > 0 &&
      static_cast<int64_t>(e->body.size() + bytes) >= e->body_limit) {
    e->body_limit_hit = true;
    return 0;
  }
  e->body.append(data, bytes);
  return bytes;
}

std::string TimeoutSeconds(std::chrono::milliseconds timeout) {
  return fmt::format("{}", static_cast<double>(timeout.count()) / 1000.0);
}

}  // namespace

class Manager::Impl {
 public:
  Impl(Clock& clock, Registry& metrics, AppenderFactory appenders, ManagerOptions options)
      : clock_(clock),
        appenders_(std::move(appenders)),
        options_(std::move(options)),
        scrape_metrics_(metrics),
        pool_(options_.parse_workers != 0
                  ? options_.parse_workers
                  : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4)),
        multi_(curl_multi_init()),
        targets_gauge_registry_(metrics),
        exceeded_body_limit_(metrics.GetCounter(
            "prometheus_target_scrapes_exceeded_body_size_limit_total",
            "Total number of scrapes that hit the body size limit")) {
    thread_ = std::jthread([this](std::stop_token st) { Run(st); });
  }

  ~Impl() { Stop(); }

  Status ApplyConfig(const config::Config& config) {
    std::vector<Target> all;
    for (const auto& job : config.scrape_configs) {
      auto targets = TargetsFromConfig(job);
      if (!targets.ok()) return targets.status();
      targets_gauge_registry_
          .GetGauge("prometheus_target_scrape_pool_targets",
                    "Current number of targets in this scrape pool.", {"scrape_job"},
                    {job.job_name})
          ->Set(static_cast<double>(targets->size()));
      for (auto& t : *targets) all.push_back(std::move(t));
    }
    {
      std::lock_guard lock(mu_);
      pending_ = std::move(all);
      has_pending_ = true;
    }
    curl_multi_wakeup(multi_);
    return Status::Ok();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    curl_multi_wakeup(multi_);
    thread_.join();
    pool_.Stop();  // finishes scrapes being parsed
    for (auto& [hash, e] : entries_) curl_multi_remove_handle(multi_, e->easy);
    for (auto& e : removed_) curl_multi_remove_handle(multi_, e->easy);
    {
      std::lock_guard lock(status_mu_);
      status_loops_.clear();
    }
    entries_.clear();
    removed_.clear();
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
  }

  std::vector<TargetStatus> Targets() const {
    std::lock_guard lock(status_mu_);
    std::vector<TargetStatus> out;
    for (const auto* loop : status_loops_) out.push_back({loop->target(), loop->health()});
    return out;
  }

 private:
  void Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      ApplyPending();
      ReapRemoved();
      StartDue();
      int running = 0;
      curl_multi_perform(multi_, &running);
      CollectDone();
      int wait_ms = 1000;
      if (!schedule_.empty()) {
        auto until = schedule_.begin()->first - clock_.Monotonic();
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(until).count();
        wait_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, 1000));
      }
      curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
  }

  void ApplyPending() {
    std::vector<Target> targets;
    {
      std::lock_guard lock(mu_);
      if (!has_pending_) return;
      targets = std::move(pending_);
      has_pending_ = false;
    }
    std::map<uint64_t, std::unique_ptr<Entry>> next;
    for (auto& t : targets) {
      uint64_t h = t.Hash();
      if (next.count(h) != 0) continue;  // the same target listed twice
      auto it = entries_.find(h);
      if (it != entries_.end()) {
        next.emplace(h, std::move(it->second));
        entries_.erase(it);
        continue;
      }
      next.emplace(h, NewEntry(std::move(t), h));
    }
    for (auto& [h, e] : entries_) {
      e->removed = true;
      EraseFromSchedule(e.get());
      removed_.push_back(std::move(e));
    }
    entries_ = std::move(next);
    std::lock_guard lock(status_mu_);
    status_loops_.clear();
    for (auto& [h, e] : entries_) status_loops_.push_back(e->loop.get());
  }

  std::unique_ptr<Entry> NewEntry(Target target, uint64_t hash) {
    auto e = std::make_unique<Entry>();
    e->hash = hash;
    e->easy = curl_easy_init();
    e->headers = curl_slist_append(e->headers, kAcceptHeader);
    e->headers = curl_slist_append(
        e->headers, ("X-Prometheus-Scrape-Timeout-Seconds: " + TimeoutSeconds(target.timeout)).c_str());
    curl_easy_setopt(e->easy, CURLOPT_URL, target.url.c_str());
    curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e->easy, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, static_cast<long>(target.timeout.count()));
    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, e.get());
    e->body_limit = target.body_size_limit;
    curl_easy_setopt(e->easy, CURLOPT_PRIVATE, e.get());

    // First scrape at the target's offset within the interval, aligned to wall time, so
    // restarts keep the phase: fires when (unix time mod interval) == offset.
    auto interval = target.interval;
    auto offset = ScrapeOffset(target, options_.offset_seed);
    WallTime now_wall = clock_.Now();
    auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(
        now_wall.time_since_epoch());
    auto base = since_epoch - since_epoch % interval + offset;
    if (base < since_epoch) base += interval;
    e->due_wall = WallTime(base);
    e->due = clock_.Monotonic() + (base - since_epoch);
    e->loop = std::make_unique<ScrapeLoop>(std::move(target), appenders_, scrape_metrics_);
    schedule_.emplace(e->due, e.get());
    return e;
  }

  void EraseFromSchedule(Entry* e) { schedule_.erase({e->due, e}); }

  void StartDue() {
    const SteadyTime now = clock_.Monotonic();
    while (!schedule_.empty() && schedule_.begin()->first <= now) {
      Entry* e = schedule_.begin()->second;
      schedule_.erase(schedule_.begin());
      const auto interval = e->loop->target().interval;
      if (!e->busy.load()) {
        e->busy.store(true);
        WallTime wall = clock_.Now();
        // Snap to the ideal tick when within min(2ms, interval/100), as Prometheus does, so
        // timestamps compress well downstream.
        auto tolerance = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(2),
                                                             interval / 100);
        auto drift = wall > e->due_wall ? wall - e->due_wall : e->due_wall - wall;
        e->timestamp_ms = ToMillis(drift <= tolerance ? e->due_wall : wall);
        e->started = now;
        e->body.clear();
        e->body_limit_hit = false;
        curl_multi_add_handle(multi_, e->easy);
      }
      // Next tick; ticks missed while busy or stalled are skipped, never bunched up.
      do {
        e->due += interval;
        e->due_wall += interval;
      } while (e->due <= now);
      schedule_.emplace(e->due, e);
    }
  }

  void CollectDone() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      CURLcode code = msg->data.result;
      Entry* e = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &e);
      curl_multi_remove_handle(multi_, easy);

      FetchResult r;
      r.timestamp_ms = e->timestamp_ms;
      r.duration = clock_.Monotonic() - e->started;
      long http_status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
      if (code == CURLE_WRITE_ERROR && e->body_limit_hit) {
        exceeded_body_limit_->Inc();
        r.status = Status::Unavailable(
            fmt::format("body size limit exceeded ({} bytes)", e->body_limit));
      } else if (code != CURLE_OK) {
        r.status = Status::Unavailable(curl_easy_strerror(code));
      } else if (http_status != 200) {
        r.status = Status::Unavailable(fmt::format("server returned HTTP status {}", http_status));
      } else {
        char* ct = nullptr;
        curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
        if (ct != nullptr) r.content_type = ct;
        r.body = e->body;
      }
      pool_.Submit([this, e, r = std::move(r)] {
        Status s = e->loop->Process(r);
        if (!s.ok()) {
          spdlog::debug("scrape failed target={} err=\"{}\"", e->loop->target().url, s.message());
        }
        e->busy.store(false);
        if (multi_ != nullptr) curl_multi_wakeup(multi_);
      });
    }
  }

  void ReapRemoved() {
    for (auto it = removed_.begin(); it != removed_.end();) {
      Entry* e = it->get();
      if (e->busy.load()) {
        ++it;
        continue;
      }
      e->busy.store(true);
      auto owned = std::make_shared<std::unique_ptr<Entry>>(std::move(*it));
      it = removed_.erase(it);
      int64_t now_ms = ToMillis(clock_.Now());
      // shared_ptr: std::function needs a copyable callable to own the entry.
      pool_.Submit([owned, now_ms] { (*owned)->loop->MarkAllStale(now_ms); });
    }
  }

  Clock& clock_;
  AppenderFactory appenders_;
  ManagerOptions options_;
  ScrapeMetrics scrape_metrics_;
  WorkerPool pool_;
  CURLM* multi_;
  Registry& targets_gauge_registry_;
  Counter* exceeded_body_limit_;

  std::mutex mu_;  // guards pending_, has_pending_
  std::vector<Target> pending_;
  bool has_pending_ = false;

  // Loop-thread state.
  std::map<uint64_t, std::unique_ptr<Entry>> entries_;
  std::vector<std::unique_ptr<Entry>> removed_;
  std::set<std::pair<SteadyTime, Entry*>> schedule_;

  mutable std::mutex status_mu_;  // guards status_loops_
  std::vector<const ScrapeLoop*> status_loops_;

  std::jthread thread_;  // last: started after every member above exists
};

Manager::Manager(Clock& clock, Registry& metrics, AppenderFactory appenders,
                 ManagerOptions options)
    : impl_(std::make_unique<Impl>(clock, metrics, std::move(appenders), std::move(options))) {}

Manager::~Manager() = default;

Status Manager::ApplyConfig(const config::Config& config) { return impl_->ApplyConfig(config); }

void Manager::Stop() { impl_->Stop(); }

std::vector<Manager::TargetStatus> Manager::Targets() const { return impl_->Targets(); }

}  // namespace petrel::scrape
