#include "scrape/scrape_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "config/relabel.h"
#include "scrape/native_histogram.h"
#include "scrape/parser.h"
#include "wal/records.h"

namespace petrel::scrape {
namespace {

// Every parsed NaN becomes this quiet NaN, so no target can forge a stale marker.
constexpr uint64_t kNormalNaNBits = 0x7ff8000000000001ull;

// Prometheus keeps a family's metadata for 10 scrapes after the family disappeared.
constexpr uint64_t kKeepMetadataScrapes = 10;

// wal::Appender rejects every sample with kInvalidArgument; out of order is the one rejection
// a scrape survives (Prometheus counts it and goes on), told apart by the WAL's message.
bool IsOutOfOrder(const Status& s) { return s.message() == "out of order sample"; }

// The cache keeps a scrape's number in 32 bits, never 0 (which stands for "never"). Numbers
// repeat only after 2^32 - 1 scrapes, and an entry lives at most one scrape past the last that
// met it, so the cache only compares them for equality and never confuses two.
uint32_t CacheTag(uint64_t iteration) { return static_cast<uint32_t>(iteration % 0xffffffffu) + 1; }

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
                                 "Scrapes whose samples could not be written to the WAL.")),
      exceeded_sample_limit(
          r.GetCounter("prometheus_target_scrapes_exceeded_sample_limit_total",
                       "Total number of scrapes that hit the sample limit and were rejected.")),
      exceeded_label_limits(
          r.GetCounter("prometheus_target_scrape_pool_exceeded_label_limits_total",
                       "Total number of times scrape pools hit the label limits, during sync or "
                       "on scrape.")),
      exceeded_bucket_limit(
          r.GetCounter("prometheus_target_scrapes_exceeded_native_histogram_bucket_limit_total",
                       "Total number of scrapes that hit the native histogram bucket limit and "
                       "were rejected.")),
      exemplar_out_of_order(
          r.GetCounter("prometheus_target_scrapes_exemplar_out_of_order_total",
                       "Total number of exemplar rejected due to not being out of the expected "
                       "order.")) {}

ScrapeLoop::ScrapeLoop(Target target, AppenderFactory appenders, ScrapeMetrics& metrics)
    : target_(std::move(target)), appenders_(std::move(appenders)), metrics_(metrics) {}

const config::ScrapeConfig& ScrapeLoop::Settings() const {
  static const config::ScrapeConfig kDefaults;
  return target_.job_config ? *target_.job_config : kDefaults;
}

Labels ScrapeLoop::SeriesLabels(LabelsBuilder& scraped) const {
  if (Settings().honor_labels) {
    // Scraped labels win; target labels fill in only what the series lacks.
    for (const auto& l : target_.labels) {
      if (scraped.Get(l.name).empty()) scraped.Set(l.name, l.value);
    }
    return scraped.Build();
  }
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

Status ScrapeLoop::CheckLabelLimits(const Labels& labels) const {
  const auto& limits = Settings().limits;
  if (limits.label_limit > 0 && labels.size() > limits.label_limit) {
    return Status::InvalidArgument(
        fmt::format("label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
                    labels.Get(kMetricName), labels.size(), limits.label_limit));
  }
  for (const auto& l : labels) {
    if (limits.label_name_length_limit > 0 && l.name.size() > limits.label_name_length_limit) {
      return Status::InvalidArgument(
          fmt::format("label_name_length_limit exceeded (metric: {}, label name: {}, limit: {})",
                      labels.Get(kMetricName), l.name, limits.label_name_length_limit));
    }
    if (limits.label_value_length_limit > 0 && l.value.size() > limits.label_value_length_limit) {
      return Status::InvalidArgument(
          fmt::format("label_value_length_limit exceeded (metric: {}, label: {}, limit: {})",
                      labels.Get(kMetricName), l.name, limits.label_value_length_limit));
    }
  }
  return Status::Ok();
}

// Every sample's series is hashed once (XXH3 on ~80 bytes: a few ns) and compared with the
// predicted entry's 16-byte hash; a miss is remembered with its hash, so AppendBody adds the
// new series without hashing or looking it up again.
void* ScrapeLoop::Known::Find(std::string_view series) {
  ScrapeLoop& l = loop_;
  const ScrapeCache::Hash h = ScrapeCache::HashOf(series);
  ScrapeCache::Entry* e = l.cache_.Find(h);
  if (e == nullptr) {
    l.last_miss_ = series;
    l.last_miss_hash_ = h;
  }
  return e;
}

void ScrapeLoop::MarkMet(ScrapeCache::Entry& e) {
  e.live_before = e.last_scrape == tag_before_;
  e.last_scrape = tag_now_;
  cache_.Met(&e);
}

void ScrapeLoop::NextIteration() {
  ++iteration_;
  tag_now_ = CacheTag(iteration_);
  tag_before_ = CacheTag(iteration_ - 1);
}

Status ScrapeLoop::AppendBody(wal::Appender& app, const FetchResult& fetch, Counts& counts) {
  const config::ScrapeConfig& cfg = Settings();
  auto parser = NewParser(fetch.content_type, fetch.body,
                          {.native_histograms = cfg.scrape_native_histograms,
                           .keep_classic = cfg.always_scrape_classic_histograms});
  // cache_'s keys are trusted by a parser of the format that accepted them.
  const ExpositionFormat format =
      ContentTypeIsOpenMetrics(fetch.content_type) ? ExpositionFormat::kOpenMetrics
      : FormatFromContentType(fetch.content_type) == ExpositionFormat::kProtobuf
          ? ExpositionFormat::kProtobuf
          : ExpositionFormat::kPrometheusText;
  if (format == cache_format_) parser->SetKnownSeries(&known_);
  cache_format_ = format;
  bool bucket_limit_hit = false;
  cache_.StartScrape();
  last_miss_ = {};
  Status limit_error;
  while (true) {
    auto entry = parser->Next();
    if (!entry.ok()) return entry.status();
    if (*entry == EntryType::kEof) break;
    const bool histogram = *entry == EntryType::kHistogram;
    if (*entry != EntryType::kSample && !histogram) {
      if (*entry != EntryType::kComment) NoteMetadata(*entry, *parser);
      continue;
    }
    ++counts.scraped;
    // Past a limit, parsing goes on only to count scrape_samples_scraped.
    if (!limit_error.ok()) continue;

    auto ts = cfg.honor_timestamps ? parser->Timestamp() : std::nullopt;
    int64_t t = ts ? *ts : fetch.timestamp_ms;
    double v = 0;
    const Histogram* h = nullptr;
    const FloatHistogram* fh = nullptr;
    if (histogram) {
      if (Status s = LimitHistogram(*parser, &h, &fh); !s.ok()) {
        // Counted once per scrape; the scrape fails, parsing goes on for the counts.
        bucket_limit_hit = true;
        limit_error = s;
        continue;
      }
    } else {
      v = parser->Value();
      if (std::isnan(v)) v = std::bit_cast<double>(kNormalNaNBits);
    }
    auto append = [&](wal::SeriesRef r, const Labels& l) {
      return histogram ? app.AppendHistogram(r, l, t, h, fh) : app.Append(r, l, t, v);
    };

    // Valid until cache_.Insert or Erase; each is the last use of it for this sample.
    auto* cached = static_cast<ScrapeCache::Entry*>(parser->KnownEntry());
    bool inserted = false;
    if (cached == nullptr) {
      const std::string_view series = parser->Series();
      // A series the parser just failed to find (same bytes of the body) is not looked up again.
      // (A null view never counts as the last miss: last_miss_ starts each scrape null.)
      const bool missed = series.data() != nullptr && series.data() == last_miss_.data() &&
                          series.size() == last_miss_.size();
      const ScrapeCache::Hash hash = missed ? last_miss_hash_ : ScrapeCache::HashOf(series);
      if (!missed) cached = cache_.Find(hash);
      if (cached == nullptr) {
        cached = cache_.Insert(hash);
        inserted = true;
      }
    }
    ScrapeCache::Entry& e = *cached;
    if (e.last_scrape == tag_now_ && !inserted) {
      // The same series twice in one exposition: Prometheus keeps the first.
      metrics_.duplicate_timestamp->Inc();
      continue;
    }
    if (e.dropped) {  // metric_relabel_configs dropped it before; cached so it costs a lookup
      MarkMet(e);
      continue;
    }
    // (A Status is built only for a series without a ref: it costs a string.)
    Result<wal::SeriesRef> ref =
        e.ref != 0 ? append(e.ref, Labels()) : Result<wal::SeriesRef>(Status::NotFound("no ref"));
    Labels labels;  // built when the cached ref did not do (none yet, or the WAL forgot it)
    if (!ref.ok() && !IsOutOfOrder(ref.status())) {
      builder_.Clear();
      parser->AddLabels(builder_);
      labels = SeriesLabels(builder_);
      if (!cfg.metric_relabel_configs.empty()) {
        LabelsBuilder relabeled(labels);
        if (!config::Relabel(relabeled, cfg.metric_relabel_configs) ||
            relabeled.Get(kMetricName).empty()) {
          e.dropped = true;
          MarkMet(e);
          continue;
        }
        labels = relabeled.Build();
      }
      if (Status s = CheckLabelLimits(labels); !s.ok()) {
        metrics_.exceeded_label_limits->Inc();
        limit_error = s;
        if (inserted) cache_.Erase(&e);
        continue;
      }
      ref = append(0, labels);
      if (ref.ok() && e.ref == 0) ++counts.added;
    }
    if (!ref.ok() && !IsOutOfOrder(ref.status())) {
      // As Prometheus's checkAddError: any other rejection (an invalid histogram, bad labels)
      // fails the whole scrape, which Process rolls back.
      return ref.status().Prefixed(fmt::format("series {}", labels.ToString()));
    }
    ++counts.post_relabel;
    if (cfg.limits.sample_limit > 0 && counts.post_relabel > cfg.limits.sample_limit) {
      metrics_.exceeded_sample_limit->Inc();
      limit_error = Status::InvalidArgument(
          fmt::format("sample_limit exceeded (limit: {})", cfg.limits.sample_limit));
      continue;
    }
    if (!ref.ok()) {  // out of order: counted, and the scrape goes on
      metrics_.out_of_order->Inc();
      if (inserted) cache_.Erase(&e);
      continue;
    }
    e.ref = *ref;
    e.explicit_timestamp = ts.has_value() && !cfg.track_timestamps_staleness;
    MarkMet(e);
    // The text format 0.0.4 has no exemplars; a sample without one costs one virtual call.
    // (GetExemplar is GetExemplarAt(0) in every parser, and one virtual call.)
    if (format != ExpositionFormat::kPrometheusText && parser->GetExemplar(&exemplar_)) {
      AppendExemplars(app, *parser, *ref, t, histogram);
    }
  }
  if (bucket_limit_hit) metrics_.exceeded_bucket_limit->Inc();
  return limit_error;
}

Status ScrapeLoop::LimitHistogram(const Parser& parser, const Histogram** h,
                                  const FloatHistogram** fh) {
  const config::ScrapeConfig& cfg = Settings();
  const uint64_t limit = cfg.native_histogram_bucket_limit;
  const int32_t max_schema = MaxSchemaForBucketFactor(cfg.native_histogram_min_bucket_factor);
  // Only exponential schemas can be reduced; reserved ones (9..52) always are, to max_schema.
  auto reduce = [&](auto* parsed, auto& copy, auto** out) -> Status {
    *out = parsed;
    if (parsed == nullptr) return Status::Ok();
    const bool exponential =
        parsed->schema >= kExponentialSchemaMin && parsed->schema <= kExponentialSchemaMaxReserved;
    auto buckets = [](const auto& x) {
      return x.positive_buckets.size() + x.negative_buckets.size();
    };
    const bool too_fine = exponential && parsed->schema > max_schema;
    const bool too_many = limit > 0 && buckets(*parsed) > limit;
    if (!too_fine && !too_many) return Status::Ok();
    if (too_many && !exponential) return Status::InvalidArgument("histogram bucket limit exceeded");
    copy = *parsed;
    if (too_fine) ReduceResolution(copy, max_schema);
    while (limit > 0 && buckets(copy) > limit) {
      if (copy.schema <= kExponentialSchemaMin) {
        return Status::InvalidArgument("histogram bucket limit exceeded");
      }
      ReduceResolution(copy, copy.schema - 1);
    }
    *out = &copy;
    return Status::Ok();
  };
  if (Status s = reduce(parser.IntHistogram(), hist_, h); !s.ok()) return s;
  return reduce(parser.FloatHistogramValue(), float_hist_, fh);
}

void ScrapeLoop::AppendExemplars(wal::Appender& app, const Parser& parser, wal::SeriesRef ref,
                                 int64_t t_ms, bool histogram) {
  // exemplar_ holds the first one (AppendBody fetched it).
  exemplars_.clear();
  for (size_t i = 1;; ++i) {
    Exemplar& e = exemplar_;
    if (!e.timestamp && !histogram) e.timestamp = t_ms;  // the sample's timestamp
    // Prometheus drops a native histogram's exemplars without a timestamp.
    if (e.timestamp) exemplars_.push_back(std::move(e));
    e = Exemplar{};
    if (!parser.GetExemplarAt(i, &e)) break;
  }
  if (exemplars_.empty()) return;
  // As exemplar.Compare: by timestamp, then value, then labels.
  std::sort(exemplars_.begin(), exemplars_.end(), [](const Exemplar& a, const Exemplar& b) {
    if (*a.timestamp != *b.timestamp) return *a.timestamp < *b.timestamp;
    if (a.value != b.value) return a.value < b.value;
    return a.labels < b.labels;
  });
  for (Exemplar& x : exemplars_) {
    auto [last, inserted] = last_exemplar_.try_emplace(ref);
    // exemplar.Equals: same labels, timestamp and value (a NaN value never equals).
    if (!inserted && last->second.timestamp == x.timestamp && last->second.value == x.value &&
        last->second.labels == x.labels) {
      continue;  // the same exemplar as last time: not appended again
    }
    // Like Prometheus, a rejected exemplar does not fail the scrape.
    if (app.AppendExemplar(ref, *x.timestamp, x.value, x.labels).ok()) {
      last->second = std::move(x);
    } else if (inserted) {
      last_exemplar_.erase(last);
    }
  }
}

void ScrapeLoop::NoteMetadata(EntryType entry, const Parser& parser) {
  auto it = metadata_.find(parser.Family());
  if (it == metadata_.end()) {
    std::lock_guard lock(metadata_mu_);
    it = metadata_.emplace(std::string(parser.Family()), FamilyMetadata{}).first;
  }
  FamilyMetadata& m = it->second;
  m.last_iteration = iteration_;
  // Written only when changed: a steady target costs a lookup and a comparison per line.
  if (entry == EntryType::kType && m.type != parser.Type()) {
    std::lock_guard lock(metadata_mu_);
    m.type = parser.Type();
  } else if (entry == EntryType::kHelp && m.help != parser.Text()) {
    std::lock_guard lock(metadata_mu_);
    m.help.assign(parser.Text());
  } else if (entry == EntryType::kUnit && m.unit != parser.Text()) {
    std::lock_guard lock(metadata_mu_);
    m.unit.assign(parser.Text());
  }
}

void ScrapeLoop::ExpireMetadata() {
  std::lock_guard lock(metadata_mu_);
  std::erase_if(metadata_, [this](const auto& kv) {
    return iteration_ - kv.second.last_iteration > kKeepMetadataScrapes;
  });
}

void ScrapeLoop::ForEachMetadata(const MetadataFn& fn) const {
  std::lock_guard lock(metadata_mu_);
  for (const auto& [family, m] : metadata_) fn(family, m.type, m.help, m.unit);
}

void ScrapeLoop::AppendStaleMarkers(wal::Appender& app, int64_t timestamp_ms, bool all) {
  // The entries this scrape met survive the sweep below; after a failure none do.
  const size_t met = cache_.MetCount();
  cache_.FinishScrape();
  // This scrape met each entry at most once: when it met all of them, nothing vanished (the
  // steady state), and the sweep is skipped.
  if (!all && met == cache_.size()) return;
  // Series seen in the previous scrape but not in this one get a marker; entries not seen
  // now are forgotten (their refs stay valid in the WAL's series store).
  auto keep = [&](const ScrapeCache::Entry& e) {
    if (!all && e.last_scrape == tag_now_) return true;
    // On failure a series live in the previous scrape is marked even if this (rolled back)
    // scrape had reached it: nothing of the scrape was kept. (Prometheus 3.14 skips those.)
    const bool was_live = e.last_scrape == tag_now_ ? e.live_before : e.last_scrape == tag_before_;
    // A histogram series is marked stale with the float StaleNaN too, as Prometheus does.
    if (was_live && !e.explicit_timestamp && e.ref != 0) {
      (void)app.Append(e.ref, Labels(), timestamp_ms, wal::StaleNaN());
    }
    if (!last_exemplar_.empty()) last_exemplar_.erase(e.ref);
    return false;
  };
  if (all) {
    cache_.ForEach(keep);
    cache_.Clear();
  } else {
    cache_.EraseIf(keep);
  }
}

void ScrapeLoop::AppendReport(wal::Appender& app, int64_t timestamp_ms, bool up, double duration_s,
                              const Counts& counts) {
  const std::array<double, 5> values = {
      up ? 1.0 : 0.0, duration_s, static_cast<double>(counts.scraped),
      static_cast<double>(counts.post_relabel), static_cast<double>(counts.added)};
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
  NextIteration();
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
  ExpireMetadata();
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
  NextIteration();
  auto app = appenders_();
  AppendStaleMarkers(*app, timestamp_ms, /*all=*/true);
  {
    std::lock_guard lock(metadata_mu_);
    metadata_.clear();
  }
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
