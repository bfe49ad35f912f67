#include "scrape/manager.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "config/curl_options.h"
#include "scrape/gzip_body.h"
#include "scrape/http_options.h"
#include "scrape/parser.h"
#include "scrape/worker_pool.h"

namespace petrel::scrape {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// One target's schedule and HTTP state. Owned by the loop thread; `busy` hands it to a
// worker for parsing and back.
struct Entry {
  std::unique_ptr<ScrapeLoop> loop;
  uint64_t hash = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  std::string url;                          // as requested (may name tls_config.server_name)
  std::vector<std::string> static_headers;  // Accept, timeout, Host
  // The body being received, as sent (compressed or not). It is handed to the parser when the
  // transfer ends, so a target between scrapes holds no buffer; the next one reserves the last
  // body's size up front.
  std::string body;
  size_t last_body_size = 0;
  int64_t body_limit = 0;  // 0: unlimited
  bool body_limit_hit = false;
  // The reply's Content-Encoding, read when its first body bytes arrive.
  std::optional<ContentEncoding> encoding;
  std::string encoding_header;  // its value, for the error when unsupported
  SteadyTime due;
  WallTime due_wall;  // the ideal tick, used to snap timestamps
  SteadyTime started;
  int64_t timestamp_ms = 0;
  std::atomic<bool> busy{false};
  bool removed = false;

  ~Entry() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
    if (connect_to != nullptr) curl_slist_free_all(connect_to);
  }
};

// Compressed bytes are bounded while downloading too, so a never-ending or huge compressed
// body cannot grow memory: at most the limit plus 1/8 + 4 KiB (DEFLATE's worst honest
// expansion is fixed Huffman codes on bytes it cannot shrink, 9 bits for 8, plus framing).
// Decoding checks the limit itself. Saturates instead of overflowing for huge limits.
int64_t RawBodyLimit(int64_t limit) {
  const uint64_t l = static_cast<uint64_t>(limit);
  const uint64_t raw = l + l / 8 + 4096;  // < 2^64 for any limit <= INT64_MAX
  return raw > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(raw);
}

void ReadContentEncoding(Entry* e) {
  curl_header* h = nullptr;
  e->encoding_header.clear();
  // -1: the last request's reply, after any redirects. A repeated header is read as a list.
  for (size_t i = 0;
       curl_easy_header(e->easy, "Content-Encoding", i, CURLH_HEADER, -1, &h) == CURLHE_OK; ++i) {
    if (i > 0) e->encoding_header += ", ";
    e->encoding_header += h->value;
    if (i + 1 >= h->amount) break;
  }
  e->encoding = ParseContentEncoding(e->encoding_header);
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* e = static_cast<Entry*>(user);
  const size_t bytes = size * n;
  if (!e->encoding) ReadContentEncoding(e);
  if (!e->encoding->supported) return 0;  // CollectDone names it
  // body_size_limit counts decoded bytes. An identity body reaching it aborts the transfer
  // here, so a never-ending body cannot grow memory; a compressed one is checked when decoded.
  int64_t limit = e->body_limit;
  if (limit > 0 && !e->encoding->identity()) limit = RawBodyLimit(limit);
  if (limit > 0 && static_cast<int64_t>(e->body.size() + bytes) >= limit) {
    e->body_limit_hit = true;
    return 0;
  }
  if (e->body.empty()) e->body.reserve(std::max(e->last_body_size + e->last_body_size / 8, bytes));
  e->body.append(data, bytes);
  return bytes;
}

// Picks the parser's Content-Type as Prometheus 3 does: the reply's when it names a known
// format, else fallback_scrape_protocol, else the scrape fails.
Status ResolveContentType(const config::ScrapeConfig& job, std::string* content_type) {
  if (FormatFromContentType(*content_type)) return Status::Ok();
  if (job.fallback_scrape_protocol) {
    *content_type = ContentTypeOf(*job.fallback_scrape_protocol);
    return Status::Ok();
  }
  return Status::Unavailable(fmt::format(
      "received unsupported Content-Type \"{}\" and no fallback_scrape_protocol specified for "
      "target",
      *content_type));
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
        registry_(metrics),
        exceeded_body_limit_(
            metrics.GetCounter("prometheus_target_scrapes_exceeded_body_size_limit_total",
                               "Total number of scrapes that hit the body size limit")),
        exceeded_target_limit_(metrics.GetCounter(
            "prometheus_target_scrape_pool_exceeded_target_limit_total",
            "Total number of times scrape pools hit the target limit, during sync or config "
            "reload.")),
        scrape_lag_(
            metrics.GetHistogram("petrel_target_scrape_start_lag_seconds",
                                 "How late scrapes start after their scheduled tick.",
                                 {.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5})),
        sync_failed_(metrics.GetCounter("prometheus_target_sync_failed_total",
                                        "Total number of target sync failures.", {"scrape_job"},
                                        {""})),
        // Prometheus's discovery-manager counters, for its "scrape" manager.
        sd_received_(metrics.GetCounter(
            "prometheus_sd_received_updates_total",
            "Total number of update events received from the SD providers.", {"name"}, {"scrape"})),
        sd_updates_(metrics.GetCounter("prometheus_sd_updates_total",
                                       "Total number of update events sent to the SD consumers.",
                                       {"name"}, {"scrape"})) {
    thread_ = std::jthread([this](std::stop_token st) { Run(st); });
  }

  ~Impl() { Stop(); }

  Status ApplyConfig(const config::Config& config) {
    std::map<std::string, std::unique_ptr<Job>> next;
    {
      std::lock_guard lock(mu_);
      for (const auto& sc : config.scrape_configs) {
        auto it = jobs_.find(sc.job_name);
        if (it != jobs_.end() && *it->second->config == sc) {
          next.emplace(sc.job_name, std::move(it->second));  // keeps discoverers and groups
          continue;
        }
        auto job = std::make_unique<Job>();
        job->config = std::make_shared<const config::ScrapeConfig>(sc);
        next.emplace(sc.job_name, std::move(job));
      }
    }
    // Old jobs' discoverers stop outside the lock: their threads may be delivering updates.
    std::map<std::string, std::unique_ptr<Job>> old;
    {
      std::lock_guard lock(mu_);
      old = std::move(jobs_);
      jobs_ = std::move(next);
      std::set<std::string> names;
      for (auto& [name, job] : jobs_) {
        if (job->discoverers.empty() && options_.discoverers) StartDiscovery(*job);
        FullSyncLocked(name, *job);
        names.insert(name);
      }
      // A delta queued for a job that is gone must not bring its targets back.
      std::erase_if(pending_, [&](const auto& kv) { return names.count(kv.first) == 0; });
      pending_jobs_ = std::move(names);
      discovery_dirty_ = false;
    }
    for (auto& [name, job] : old) {
      if (job) StopDiscovery(*job);
    }
    curl_multi_wakeup(multi_);
    return Status::Ok();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    std::map<std::string, std::unique_ptr<Job>> jobs;
    {
      std::lock_guard lock(mu_);
      jobs = std::move(jobs_);
    }
    for (auto& [name, job] : jobs) StopDiscovery(*job);
    thread_.request_stop();
    curl_multi_wakeup(multi_);
    thread_.join();
    pool_.Stop();  // finishes scrapes being parsed
    for (auto& [job, entries] : entries_) {
      for (auto& [hash, e] : entries) curl_multi_remove_handle(multi_, e->easy);
    }
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

  void ForEachMetadata(const MetadataFn& fn) const {
    std::lock_guard lock(status_mu_);
    for (const auto* loop : status_loops_) loop->ForEachMetadata(fn);
  }

 private:
  // A group's identity within its job: discoverer index and source. Static targets use
  // kStaticGroup.
  using GroupKey = std::pair<size_t, std::string>;
  static constexpr size_t kStaticGroup = SIZE_MAX;

  // One scrape_config: its settings, discoverers and the groups they last sent.
  struct Job {
    std::shared_ptr<const config::ScrapeConfig> config;
    std::vector<std::unique_ptr<discovery::Discoverer>> discoverers;
    std::vector<std::jthread> threads;  // one per discoverer
    // The rest is guarded by the manager's mu_.
    // Groups by discoverer index, then source.
    std::vector<std::map<std::string, discovery::TargetGroup>> groups;
    std::set<GroupKey> dirty;  // groups changed since the last sync
    // What the last sync built: the target hashes of each group, and for each hash the
    // number of groups producing it (a target is scraped once however often it is listed).
    std::map<GroupKey, std::vector<uint64_t>> built;
    std::unordered_map<uint64_t, uint32_t> refs;
  };

  // A change of one job's targets for the loop thread: remove, then add. A target added
  // whose hash is already scraped keeps its loop unless its settings differ.
  struct JobUpdate {
    bool replace = false;  // add is the job's whole target set
    std::vector<uint64_t> remove;
    std::vector<Target> add;
  };

  void StartDiscovery(Job& job) {
    job.discoverers = options_.discoverers(*job.config);
    job.groups.resize(job.discoverers.size());
    for (size_t i = 0; i < job.discoverers.size(); ++i) {
      job.threads.emplace_back([this, &job, i](std::stop_token st) {
        job.discoverers[i]->Run(st, [this, &job, i](std::vector<discovery::TargetGroup> groups) {
          if (StoreGroups(job, i, std::move(groups))) curl_multi_wakeup(multi_);
        });
      });
    }
  }

  static void StopDiscovery(Job& job) {
    for (auto& t : job.threads) t.request_stop();
    job.threads.clear();  // joins
    job.discoverers.clear();
  }

  // Keeps the groups a discoverer sent and marks those that differ from what it sent before
  // dirty. True when this is the first change since the last sync, so the loop must wake up
  // to schedule it.
  bool StoreGroups(Job& job, size_t i, std::vector<discovery::TargetGroup> groups) {
    std::lock_guard lock(mu_);
    sd_received_->Inc();
    bool changed = false;
    auto& by_source = job.groups[i];
    for (auto& g : groups) {
      auto it = by_source.find(g.source);
      if (g.targets.empty() ? it == by_source.end() : it != by_source.end() && it->second == g) {
        continue;  // nothing changed
      }
      job.dirty.emplace(i, g.source);
      changed = true;
      if (g.targets.empty()) {
        by_source.erase(it);
      } else if (it != by_source.end()) {
        it->second = std::move(g);
      } else {
        std::string source = g.source;
        by_source.emplace(std::move(source), std::move(g));
      }
    }
    if (!changed || discovery_dirty_) return false;
    discovery_dirty_ = true;
    dirty_since_ = clock_.Monotonic();
    return true;
  }

  // Builds one discovered target of a group into *out when no other group of the job
  // already produces it. Caller holds mu_.
  void BuildInto(Job& job, const GroupKey& key, const Labels& target_labels,
                 const Labels& group_labels, std::vector<Target>* out) {
    BuiltTarget b = BuildTarget(job.config, target_labels, group_labels);
    if (!b.error.ok()) {
      sync_failed_->Inc();
      spdlog::warn("msg=\"Dropping invalid target\" err=\"{}\"", b.error.message());
      return;
    }
    if (!b.target) return;
    uint64_t h = b.target->Hash();
    job.built[key].push_back(h);
    if (job.refs[h]++ == 0) out->push_back(std::move(*b.target));
  }

  void SetPoolTargets(const std::string& name, const Job& job) {
    registry_
        .GetGauge("prometheus_target_scrape_pool_targets",
                  "Current number of targets in this scrape pool.", {"scrape_job"}, {name})
        ->Set(static_cast<double>(job.refs.size()));
  }

  // Rebuilds every target of the job and queues it to replace the job's set. Caller holds mu_.
  void FullSyncLocked(const std::string& name, Job& job) {
    job.dirty.clear();
    job.built.clear();
    job.refs.clear();
    JobUpdate u;
    u.replace = true;
    const GroupKey static_key{kStaticGroup, ""};
    for (const auto& sc : job.config->static_configs) {
      for (const auto& address : sc.targets) {
        BuildInto(job, static_key, Labels{{"__address__", address}}, sc.labels, &u.add);
      }
    }
    for (size_t i = 0; i < job.groups.size(); ++i) {
      for (const auto& [source, g] : job.groups[i]) {
        for (const auto& t : g.targets) BuildInto(job, {i, source}, t, g.labels, &u.add);
      }
    }
    uint64_t limit = job.config->limits.target_limit;
    if (limit > 0 && u.add.size() > limit) {
      // As Prometheus: every target of the pool is reported failed, none scraped.
      exceeded_target_limit_->Inc();
      for (auto& t : u.add) {
        t.forced_error = fmt::format("target_limit exceeded (number of targets: {}, limit: {})",
                                     u.add.size(), limit);
      }
    }
    SetPoolTargets(name, job);
    auto& queue = pending_[name];
    queue.clear();  // superseded
    queue.push_back(std::move(u));
  }

  // Rebuilds only the job's dirty groups and queues the difference. Caller holds mu_.
  void DeltaSyncLocked(const std::string& name, Job& job) {
    // target_limit judges the whole pool, so such a job is rebuilt whole.
    if (job.config->limits.target_limit > 0) return FullSyncLocked(name, job);
    std::vector<uint64_t> dropped;  // hashes no group produces any more
    for (const auto& key : job.dirty) {
      auto it = job.built.find(key);
      if (it == job.built.end()) continue;
      for (uint64_t h : it->second) {
        auto r = job.refs.find(h);
        if (--r->second == 0) {
          job.refs.erase(r);
          dropped.push_back(h);
        }
      }
      job.built.erase(it);
    }
    std::vector<Target> added;
    for (const auto& key : job.dirty) {
      const auto& by_source = job.groups[key.first];
      auto it = by_source.find(key.second);
      if (it == by_source.end()) continue;
      for (const auto& t : it->second.targets) BuildInto(job, key, t, it->second.labels, &added);
    }
    job.dirty.clear();
    // A target dropped and built again (its group changed elsewhere) is no change.
    std::unordered_map<uint64_t, bool> again;
    for (uint64_t h : dropped) again.emplace(h, false);
    JobUpdate u;
    for (auto& t : added) {
      auto it = again.find(t.Hash());
      if (it != again.end()) {
        it->second = true;
      } else {
        u.add.push_back(std::move(t));
      }
    }
    for (uint64_t h : dropped) {
      if (!again[h]) u.remove.push_back(h);
    }
    SetPoolTargets(name, job);
    if (!u.add.empty() || !u.remove.empty()) pending_[name].push_back(std::move(u));
  }

  // Applies the groups changed since the last sync. Caller holds mu_.
  void SyncDiscoveredLocked() {
    for (auto& [name, job] : jobs_) {
      if (!job->dirty.empty()) DeltaSyncLocked(name, *job);
    }
    sd_updates_->Inc();
    discovery_dirty_ = false;
  }

  void Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::chrono::milliseconds sync_in(1000);
      {
        std::lock_guard lock(mu_);
        if (discovery_dirty_) {
          auto due = dirty_since_ + options_.discovery_coalesce;
          auto now = clock_.Monotonic();
          if (now >= due) {
            SyncDiscoveredLocked();
          } else {
            sync_in = std::chrono::ceil<std::chrono::milliseconds>(due - now);
          }
        }
      }
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
      wait_ms = std::min(wait_ms, static_cast<int>(sync_in.count()));
      curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
  }

  void ApplyPending() {
    std::map<std::string, std::vector<JobUpdate>> updates;
    std::optional<std::set<std::string>> jobs;
    {
      std::lock_guard lock(mu_);
      updates.swap(pending_);
      jobs.swap(pending_jobs_);
    }
    if (updates.empty() && !jobs) return;
    if (jobs) {
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (jobs->count(it->first) != 0) {
          ++it;
          continue;
        }
        for (auto& [h, e] : it->second) Retire(std::move(e));
        it = entries_.erase(it);
      }
    }
    for (auto& [name, queue] : updates) {
      auto& entries = entries_[name];
      for (auto& u : queue) Apply(entries, std::move(u));
      if (entries.empty()) entries_.erase(name);
    }
    std::lock_guard lock(status_mu_);
    status_loops_.clear();
    for (auto& [job, entries] : entries_) {
      for (auto& [h, e] : entries) status_loops_.push_back(e->loop.get());
    }
  }

  using Entries = std::map<uint64_t, std::unique_ptr<Entry>>;

  void Apply(Entries& entries, JobUpdate u) {
    if (u.replace) {
      Entries next;
      for (auto& t : u.add) {
        uint64_t h = t.Hash();
        if (next.count(h) != 0) continue;
        auto it = entries.find(h);
        if (it != entries.end() && Reusable(*it->second, t)) {
          next.emplace(h, std::move(it->second));
          entries.erase(it);
          continue;
        }
        next.emplace(h, NewEntry(std::move(t), h));
      }
      for (auto& [h, e] : entries) Retire(std::move(e));
      entries = std::move(next);
      return;
    }
    for (uint64_t h : u.remove) {
      auto it = entries.find(h);
      if (it == entries.end()) continue;
      Retire(std::move(it->second));
      entries.erase(it);
    }
    for (auto& t : u.add) {
      uint64_t h = t.Hash();
      auto it = entries.find(h);
      if (it != entries.end()) {
        if (Reusable(*it->second, t)) continue;
        Retire(std::move(it->second));
        entries.erase(it);
      }
      entries.emplace(h, NewEntry(std::move(t), h));
    }
  }

  // An entry keeps scraping (with its cache) when the new target has the same settings.
  static bool Reusable(const Entry& e, const Target& t) {
    const Target& old = e.loop->target();
    return (old.job_config == t.job_config || *old.job_config == *t.job_config) &&
           old.forced_error == t.forced_error;
  }

  // Stops scheduling an entry; ReapRemoved writes its stale markers once it is idle.
  void Retire(std::unique_ptr<Entry> e) {
    e->removed = true;
    EraseFromSchedule(e.get());
    removed_.push_back(std::move(e));
  }

  std::unique_ptr<Entry> NewEntry(Target target, uint64_t hash) {
    auto e = std::make_unique<Entry>();
    const config::ScrapeConfig& job = *target.job_config;
    e->hash = hash;
    e->easy = curl_easy_init();
    e->url = target.url;
    std::string connect_to = config::ApplyServerName(job.http_client.tls_config.server_name,
                                                     &e->url, &e->static_headers);
    if (!connect_to.empty()) {
      e->connect_to = curl_slist_append(nullptr, connect_to.c_str());
      curl_easy_setopt(e->easy, CURLOPT_CONNECT_TO, e->connect_to);
    }
    e->static_headers.push_back("Accept: " + AcceptHeader(job.scrape_protocols));
    e->static_headers.push_back("X-Prometheus-Scrape-Timeout-Seconds: " +
                                TimeoutSeconds(target.timeout));
    config::ApplyHttpClient(e->easy, job.http_client);
    curl_easy_setopt(e->easy, CURLOPT_URL, e->url.c_str());
    curl_easy_setopt(e->easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    // "identity" asks the target not to compress. curl hands over the bytes as sent: the parse
    // worker decodes them (BodyDecoder, libdeflate; see SubmitProcess).
    curl_easy_setopt(e->easy, CURLOPT_ACCEPT_ENCODING,
                     job.enable_compression ? "gzip" : "identity");
    curl_easy_setopt(e->easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
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
    auto since_epoch =
        std::chrono::duration_cast<std::chrono::milliseconds>(now_wall.time_since_epoch());
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
        scrape_lag_->Observe(std::chrono::duration<double>(now - e->due).count());
        if (!e->loop->target().forced_error.empty()) {
          FetchResult r;
          r.timestamp_ms = ToMillis(clock_.Now());
          r.status = Status::Unavailable(e->loop->target().forced_error);
          SubmitProcess(e, std::move(r));
          Reschedule(e, interval, now);
          continue;
        }
        if (Status s = SetRequestHeaders(*e); !s.ok()) {
          FetchResult r;
          r.timestamp_ms = ToMillis(clock_.Now());
          r.status = s;
          SubmitProcess(e, std::move(r));
          Reschedule(e, interval, now);
          continue;
        }
        WallTime wall = clock_.Now();
        // Snap to the ideal tick when within min(2ms, interval/100), as Prometheus does, so
        // timestamps compress well downstream.
        auto tolerance =
            std::min<std::chrono::milliseconds>(std::chrono::milliseconds(2), interval / 100);
        auto drift = wall > e->due_wall ? wall - e->due_wall : e->due_wall - wall;
        e->timestamp_ms = ToMillis(drift <= tolerance ? e->due_wall : wall);
        e->started = now;
        e->body.clear();
        e->body_limit_hit = false;
        e->encoding.reset();
        curl_multi_add_handle(multi_, e->easy);
      }
      Reschedule(e, interval, now);
    }
  }

  // Next tick; ticks missed while busy or stalled are skipped, never bunched up.
  void Reschedule(Entry* e, std::chrono::milliseconds interval, SteadyTime now) {
    do {
      e->due += interval;
      e->due_wall += interval;
    } while (e->due <= now);
    schedule_.emplace(e->due, e);
  }

  // Headers are rebuilt per scrape so credentials_file / password_file rotation applies.
  Status SetRequestHeaders(Entry& e) {
    auto auth = config::AuthorizationHeader(e.loop->target().job_config->http_client);
    if (!auth.ok()) return auth.status();
    if (e.headers != nullptr) curl_slist_free_all(e.headers);
    e.headers = nullptr;
    for (const auto& h : e.static_headers) e.headers = curl_slist_append(e.headers, h.c_str());
    if (!auth->empty()) e.headers = curl_slist_append(e.headers, auth->c_str());
    curl_easy_setopt(e.easy, CURLOPT_HTTPHEADER, e.headers);
    return Status::Ok();
  }

  // A compressed body is decoded here, on the parse worker, rather than on the curl thread:
  // that one thread drives every target's transfer, so decoding there would serialise all
  // decoding and delay the other scrapes, while the workers run in parallel and parse the
  // decoded bytes right after, still in cache. r.body holds the bytes as sent until then.
  void SubmitProcess(Entry* e, FetchResult r, ContentEncoding encoding = {}) {
    pool_.Submit([this, e, r = std::move(r), encoding]() mutable {
      // One per worker thread: libdeflate's decompressor and the decoded-body buffer are
      // reused from scrape to scrape instead of allocated each time.
      thread_local BodyDecoder decoder;
      if (!encoding.identity()) {
        // Decoding is part of scrape_duration_seconds, as in Prometheus (which gunzips while
        // reading the body) and as when curl decoded.
        const SteadyTime start = clock_.Monotonic();
        Status d = decoder.Decode(encoding, static_cast<size_t>(e->body_limit), &r.body);
        r.duration += clock_.Monotonic() - start;
        if (!d.ok()) {
          if (d.code() == Code::kUnavailable) exceeded_body_limit_->Inc();
          r.status = std::move(d);
          r.body.clear();
        }
      }
      Status s = e->loop->Process(r);
      if (!s.ok()) {
        spdlog::debug("msg=\"Scrape failed\" target={} err=\"{}\"", e->loop->target().url,
                      s.message());
      }
      if (!encoding.identity()) decoder.Recycle(std::move(r.body));
      e->busy.store(false);
      if (multi_ != nullptr) curl_multi_wakeup(multi_);
    });
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
      // No body at all: WriteBody never ran, so the header is read here (an empty reply
      // marked gzip fails like any other undecodable gzip body, as in Prometheus).
      if (!e->encoding && code == CURLE_OK) ReadContentEncoding(e);
      const ContentEncoding encoding = e->encoding.value_or(ContentEncoding());
      // WriteBody refuses an unsupported coding; curl may also end with CURLE_OK when the
      // body it refused was empty.
      const bool bad_encoding =
          (code == CURLE_OK || code == CURLE_WRITE_ERROR) && !encoding.supported;
      bool decode = false;
      if (code == CURLE_WRITE_ERROR && e->body_limit_hit) {
        exceeded_body_limit_->Inc();
        r.status = Status::Unavailable(BodyLimitMessage(static_cast<size_t>(e->body_limit)));
      } else if (code != CURLE_OK && !bad_encoding) {
        r.status = Status::Unavailable(curl_easy_strerror(code));
      } else if (http_status != 200) {
        r.status = Status::Unavailable(fmt::format("server returned HTTP status {}", http_status));
      } else if (bad_encoding) {
        r.status = Status::Unavailable(
            fmt::format("unsupported Content-Encoding \"{}\" (petrel decodes gzip and deflate)",
                        e->encoding_header));
      } else {
        char* ct = nullptr;
        curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
        r.content_type = ct != nullptr ? ct : "";
        r.status = ResolveContentType(*e->loop->target().job_config, &r.content_type);
        e->last_body_size = e->body.size();
        r.body = std::move(e->body);
        // Not for a content type already refused: that body is dropped unparsed.
        decode = r.status.ok() && !encoding.identity();
      }
      std::string().swap(e->body);  // frees it: assigning "" would keep the memory
      SubmitProcess(e, std::move(r), decode ? encoding : ContentEncoding());
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
  Registry& registry_;
  Counter* exceeded_body_limit_;
  Counter* exceeded_target_limit_;
  HistogramMetric* scrape_lag_;
  Counter* sync_failed_;
  Counter* sd_received_;  // every discoverer update
  Counter* sd_updates_;   // syncs of changed groups into the target set

  // Guards jobs_ (and their groups), pending_, pending_jobs_, discovery_dirty_, dirty_since_.
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::map<std::string, std::vector<JobUpdate>> pending_;  // by job, in order
  std::optional<std::set<std::string>> pending_jobs_;      // set: other jobs' targets go
  bool discovery_dirty_ = false;                           // some job has dirty groups
  SteadyTime dirty_since_;                                 // first change since the last sync

  // Loop-thread state.
  std::map<std::string, Entries> entries_;  // by job
  std::vector<std::unique_ptr<Entry>> removed_;
  std::set<std::pair<SteadyTime, Entry*>> schedule_;

  mutable std::mutex status_mu_;  // guards status_loops_
  std::vector<const ScrapeLoop*> status_loops_;

  std::jthread thread_;  // last: started after every member above exists
};

Manager::Manager(Clock& clock, Registry& metrics, AppenderFactory appenders, ManagerOptions options)
    : impl_(std::make_unique<Impl>(clock, metrics, std::move(appenders), std::move(options))) {}

Manager::~Manager() = default;

Status Manager::ApplyConfig(const config::Config& config) { return impl_->ApplyConfig(config); }

void Manager::Stop() { impl_->Stop(); }

std::vector<Manager::TargetStatus> Manager::Targets() const { return impl_->Targets(); }

void Manager::ForEachMetadata(const MetadataFn& fn) const { impl_->ForEachMetadata(fn); }

}  // namespace petrel::scrape
