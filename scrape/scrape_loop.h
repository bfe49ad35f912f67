// ScrapeLoop: turns one target's scrape results into WAL appends.
//
// Keeps the scrape cache (a hash of the raw series bytes as written by the target -> series
// ref; scrape_cache.h), so an unchanged series costs a hash instead of label parsing; writes
// stale markers for series that vanished since the previous scrape (or all of them when the
// scrape failed); and appends the automatic series up, scrape_duration_seconds,
// scrape_samples_scraped, scrape_samples_post_metric_relabeling and scrape_series_added. Also keeps
// the target's metadata (TYPE/HELP/UNIT per metric family) for remote write.
//
// One caller at a time (the manager never runs two scrapes of a target at once), except
// health() and ForEachMetadata(), which any thread may call.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "scrape/parser.h"
#include "scrape/scrape_cache.h"
#include "scrape/target.h"
#include "wal/appender.h"

namespace petrel::scrape {

using AppenderFactory = std::function<std::unique_ptr<wal::Appender>()>;

// Receives one metric family's metadata: TYPE (kUnknown when absent or untyped), HELP and UNIT
// ("" when absent). The views are valid during the call only.
using MetadataFn = std::function<void(std::string_view family, MetricType type,
                                      std::string_view help, std::string_view unit)>;

// What one HTTP fetch produced.
struct FetchResult {
  int64_t timestamp_ms = 0;  // scrape time, the timestamp of samples without their own
  Status status;             // transport error, timeout or non-200 status
  std::string content_type;
  // Owned: the fetcher moves its buffer in and the parse runs later on another thread.
  std::string body;
  std::chrono::nanoseconds duration{0};  // time spent fetching
};

// Process-wide scrape counters (prometheus_target_*). Thread-safe.
struct ScrapeMetrics {
  explicit ScrapeMetrics(Registry& r);
  Counter* out_of_order;
  Counter* duplicate_timestamp;
  Counter* append_failed;
  Counter* exceeded_sample_limit;
  Counter* exceeded_label_limits;
  Counter* exceeded_bucket_limit;  // native_histogram_bucket_limit
  // Registered as Prometheus does; like Prometheus's agent, whose appender reports no
  // out-of-order exemplars, nothing counts into it.
  Counter* exemplar_out_of_order;
};

// The outcome of the most recent scrape, for status pages and tests.
struct TargetHealth {
  bool up = false;
  int64_t last_scrape_ms = 0;
  double last_duration_seconds = 0;
  std::string last_error;
  size_t samples = 0;
};

class ScrapeLoop {
 public:
  ScrapeLoop(Target target, AppenderFactory appenders, ScrapeMetrics& metrics);

  const Target& target() const { return target_; }

  // Parses the fetched body and commits its samples, stale markers and automatic series.
  // Returns the scrape's error (transport, HTTP, parse, a limit, or a sample the WAL rejected
  // for a reason other than out of order, naming its series), which also made up=0 and rolled
  // the scrape's samples back. Out-of-order samples are counted and skipped.
  Status Process(const FetchResult& fetch);

  // Writes stale markers for every series of the last scrape (target went away).
  void MarkAllStale(int64_t timestamp_ms);

  TargetHealth health() const;

  // Calls fn for each metric family of the target's recent scrapes that had a TYPE, HELP or
  // UNIT line, with the latest of each ("" / kUnknown when absent). A family is kept until
  // 10 scrapes after its last appearance (as Prometheus), and forgotten by MarkAllStale. fn
  // runs under a lock: it must not call back into this loop.
  void ForEachMetadata(const MetadataFn& fn) const;

 private:
  struct FamilyMetadata {
    MetricType type = MetricType::kUnknown;
    std::string help;
    std::string unit;
    uint64_t last_iteration = 0;  // written by the scrape only; not read by ForEachMetadata
  };
  struct Counts {
    size_t scraped = 0;
    size_t added = 0;
    size_t post_relabel = 0;  // samples that survived metric relabeling
  };

  Status AppendBody(wal::Appender& app, const FetchResult& fetch, Counts& counts);
  // The histogram of a kHistogram entry, reduced to the job's max schema and bucket limit
  // (kept in hist_ / float_hist_ when changed). kInvalidArgument when over the limit at the
  // lowest resolution.
  Status LimitHistogram(const Parser& parser, const Histogram** h, const FloatHistogram** fh);
  void AppendExemplars(wal::Appender& app, const Parser& parser, wal::SeriesRef ref, int64_t t_ms,
                       bool histogram);
  void NoteMetadata(EntryType entry, const Parser& parser);
  void ExpireMetadata();
  const config::ScrapeConfig& Settings() const;  // the job's, or defaults
  Labels SeriesLabels(LabelsBuilder& scraped) const;
  Status CheckLabelLimits(const Labels& labels) const;
  void NextIteration();                 // a new scrape (or MarkAllStale)
  void MarkMet(ScrapeCache::Entry& e);  // this scrape met e: recorded in its order
  void AppendStaleMarkers(wal::Appender& app, int64_t timestamp_ms, bool all);
  void AppendReport(wal::Appender& app, int64_t timestamp_ms, bool up, double duration_s,
                    const Counts& counts);

  Target target_;
  AppenderFactory appenders_;
  ScrapeMetrics& metrics_;
  // Heterogeneous lookup: metadata_ is looked up by the parser's family name without copying.
  struct ViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  ScrapeCache cache_;
  // The parser's view of cache_ (entries are ScrapeCache::Entry*, valid until the sample is
  // processed: only AppendBody inserts or erases, and it does so after taking KnownEntry()).
  class Known final : public KnownSeries {
   public:
    explicit Known(ScrapeLoop& loop) : loop_(loop) {}
    void* Find(std::string_view series) override;

   private:
    ScrapeLoop& loop_;
  };
  Known known_{*this};
  // The last series Find missed (a view into this scrape's body) and its hash.
  std::string_view last_miss_;
  ScrapeCache::Hash last_miss_hash_;
  // The format whose parser accepted cache_'s keys.
  ExpositionFormat cache_format_ = ExpositionFormat::kPrometheusText;
  uint64_t iteration_ = 0;
  uint32_t tag_now_ = 0;  // iteration_ and iteration_ - 1 as cache_ keeps them (CacheTag)
  uint32_t tag_before_ = 0;
  std::array<wal::SeriesRef, 5> report_refs_{};
  LabelsBuilder builder_;            // reused across samples
  Exemplar exemplar_;                // the current sample's first exemplar
  std::vector<Exemplar> exemplars_;  // all of them, reused across samples
  // The last exemplar appended per series that had one: an equal one is not appended again
  // (Prometheus's agent appender does the same). Entries go with the series' cache entry.
  std::unordered_map<wal::SeriesRef, Exemplar> last_exemplar_;
  Histogram hist_;  // copies of a parsed histogram whose resolution had to be reduced
  FloatHistogram float_hist_;
  mutable std::mutex health_mu_;  // guards health_ (read by status pages on other threads)
  TargetHealth health_;
  // Guards metadata_'s structure and its entries' type, help and unit (read by
  // ForEachMetadata on other threads); the scrape reads them without it, as the only writer.
  mutable std::mutex metadata_mu_;
  std::unordered_map<std::string, FamilyMetadata, ViewHash, std::equal_to<>> metadata_;
};

}  // namespace petrel::scrape
