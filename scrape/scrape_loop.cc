#include "scrape/scrape_loop.h"

#include <bit>
#include <cmath>

#include "scrape/parser.h"
#include "wal/records.h"

namespace petrel::scrape {
namespace {

// Every parsed NaN becomes this quiet NaN, so no target can forge a stale marker.
constexpr uint64_t kNormalNaNBits = 0x7ff8000000000001ull;

constexpr std::array<std::string_view, 5> kReportNames = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};

}  // namespace

ScrapeMetrics::ScrapeMetrics(Registry& r)
    : out_of_order(r.GetCounter("prometheus_target_scrapes_sample_out_of_order_total",
                                "Total number of samples rejected due to not being out of the "
                                "expected order.")),
      duplicate_timestamp(
          r.GetCounter("prometheus_target_scrapes_sample_duplicate_timestamp_total",
                       "Total number of samples rejected due to duplicate timestamps but "
                       "different values.")),
      append_failed(r.GetCounter("petrel_target_scrape_commits_failed_total",
                                 "Scrapes whose samples could not be written to the WAL.")) {}

ScrapeLoop::ScrapeLoop(Target target, AppenderFactory appenders, ScrapeMetrics& metrics)
    : target_(std::move(target)), appenders_(std::move(appenders)), metrics_(metrics) {}

Labels ScrapeLoop::SeriesLabels(LabelsBuilder& scraped) const {
  // honor_labels: false (the default): target labels win; a clashing scraped label is kept
  // as exported_<name> (exported_exported_<name>, ... if that is taken too).
  for (const auto& l : target_.labels) {
    std::string existing(scraped.Get(l.name));
    if (!existing.empty()) {
      std::string name = "exported_" + l.name;
      while (!scraped.Get(name).empty()) name = "exported_" + name;
      scraped.Set(name, existing);
    }
    scraped.Set(l.name, l.value);
  }
  return scraped.Build();
}

Status ScrapeLoop::AppendBody(wal::Appender& app, const FetchResult& fetch, Counts& counts) {
  auto parser = NewParser(fetch.content_type, fetch.body);
  while (true) {
    auto entry = parser->Next();
    if (!entry.ok()) return entry.status();
    if (*entry == EntryType::kEof) return Status::Ok();
    if (*entry != EntryType::kSample) continue;
    ++counts.scraped;

    auto ts = parser->Timestamp();
    int64_t t = ts ? *ts : fetch.timestamp_ms;
    double v = parser->Value();
    if (std::isnan(v)) v = std::bit_cast<double>(kNormalNaNBits);

    auto [it, inserted] = cache_.try_emplace(std::string(parser->Series()));
    CacheEntry& entry_ref = it->second;
    if (entry_ref.last_iteration == iteration_ && !inserted) {
      // The same series twice in one exposition: Prometheus keeps the first.
      metrics_.duplicate_timestamp->Inc();
      continue;
    }
    Result<wal::SeriesRef> ref = Status::NotFound("no ref");
    if (entry_ref.ref != 0) ref = app.Append(entry_ref.ref, Labels(), t, v);
    if (!ref.ok()) {
      builder_.Clear();
      parser->AddLabels(builder_);
      Labels labels = SeriesLabels(builder_);
      ref = app.Append(0, labels, t, v);
      if (ref.ok() && entry_ref.ref == 0) ++counts.added;
    }
    if (!ref.ok()) {
      metrics_.out_of_order->Inc();
      if (inserted) cache_.erase(it);
      continue;
    }
    entry_ref.ref = *ref;
    entry_ref.previous_iteration = entry_ref.last_iteration;
    entry_ref.last_iteration = iteration_;
    entry_ref.explicit_timestamp = ts.has_value();
  }
}

void ScrapeLoop::AppendStaleMarkers(wal::Appender& app, int64_t timestamp_ms, bool all) {
  // Series seen in the previous scrape but not in this one get a marker; entries not seen
  // now are forgotten (their refs stay valid in the WAL's series store).
  for (auto it = cache_.begin(); it != cache_.end();) {
    CacheEntry& e = it->second;
    bool seen_now = !all && e.last_iteration == iteration_;
    if (seen_now) {
      ++it;
      continue;
    }
    // On failure a series live in the previous scrape is marked even if this (rolled back)
    // scrape had reached it: nothing of the scrape was kept. (Prometheus 3.14 skips those.)
    uint64_t before_now = e.last_iteration == iteration_ ? e.previous_iteration : e.last_iteration;
    bool was_live = before_now != 0 && before_now + 1 == iteration_;  // 0: never
    if (was_live && !e.explicit_timestamp && e.ref != 0) {
      (void)app.Append(e.ref, Labels(), timestamp_ms, wal::StaleNaN());
    }
    it = cache_.erase(it);
  }
}

void ScrapeLoop::AppendReport(wal::Appender& app, int64_t timestamp_ms, bool up,
                              double duration_s, const Counts& counts) {
  const std::array<double, 5> values = {up ? 1.0 : 0.0, duration_s,
                                        static_cast<double>(counts.scraped),
                                        static_cast<double>(counts.scraped),
                                        static_cast<double>(counts.added)};
  for (size_t i = 0; i < kReportNames.size(); ++i) {
    Result<wal::SeriesRef> ref = Status::NotFound("no ref");
    if (report_refs_[i] != 0) ref = app.Append(report_refs_[i], Labels(), timestamp_ms, values[i]);
    if (!ref.ok()) {
      LabelsBuilder b(target_.labels);
      b.Set(kMetricName, kReportNames[i]);
      ref = app.Append(0, b.Build(), timestamp_ms, values[i]);
    }
    if (ref.ok()) {
      report_refs_[i] = *ref;
    } else {
      metrics_.out_of_order->Inc();
    }
  }
}

Status ScrapeLoop::Process(const FetchResult& fetch) {
  ++iteration_;
  Counts counts;
  Status err = fetch.status;
  auto app = appenders_();
  if (err.ok()) {
    err = AppendBody(*app, fetch, counts);
    if (!err.ok()) {
      // A payload that fails to parse fails the whole scrape: nothing of it is kept.
      app->Rollback();
      app = appenders_();
    }
  }
  const bool up = err.ok();
  AppendStaleMarkers(*app, fetch.timestamp_ms, /*all=*/!up);
  double duration_s = std::chrono::duration<double>(fetch.duration).count();
  AppendReport(*app, fetch.timestamp_ms, up, duration_s, counts);
  Status commit = app->Commit();
  if (!commit.ok()) metrics_.append_failed->Inc();

  std::lock_guard lock(health_mu_);
  health_.up = up;
  health_.last_scrape_ms = fetch.timestamp_ms;
  health_.last_duration_seconds = duration_s;
  health_.last_error = up ? (commit.ok() ? "" : commit.message()) : err.message();
  health_.samples = counts.scraped;
  return err;
}

void ScrapeLoop::MarkAllStale(int64_t timestamp_ms) {
  ++iteration_;
  auto app = appenders_();
  AppendStaleMarkers(*app, timestamp_ms, /*all=*/true);
  for (wal::SeriesRef ref : report_refs_) {
    if (ref != 0) (void)app.get()->Append(ref, Labels(), timestamp_ms, wal::StaleNaN());
  }
  if (!app->Commit().ok()) metrics_.append_failed->Inc();
}

TargetHealth ScrapeLoop::health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

}  // namespace petrel::scrape
