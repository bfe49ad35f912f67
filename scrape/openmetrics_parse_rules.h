// The OpenMetrics 1.0 rules that go beyond one line's syntax, checked as a body streams by:
// metric families (metadata before samples, no repeated HELP/TYPE/UNIT, no clashing names,
// sample names allowed by the type), units, stateset/info values, counter-like values, label
// constraints (le, quantile, stateset label), grouping and timestamp order within a family,
// histogram bucket consistency, and where exemplars may appear. They follow the reference
// parser of the OpenMetrics conformance suite (client_python's openmetrics/parser.py).
// One caller at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "scrape/parser.h"

namespace petrel::scrape::parse {

// A label as written: name and value without their quotes, still escaped.
struct LabelSpan {
  std::string_view name;
  std::string_view value;
  bool name_escaped = false;
  bool value_escaped = false;
};

// A set of 64-bit hashes, cleared in O(1) and reusing its memory.
class HashSet {
 public:
  // Returns false if h was already present.
  bool Insert(uint64_t h);
  bool Contains(uint64_t h) const;
  void Clear() {
    ++generation_;
    size_ = 0;
  }

 private:
  void Grow();
  struct Slot {
    uint64_t key = 0;
    uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  uint32_t generation_ = 1;
  size_t size_ = 0;
};

class OpenMetricsRules {
 public:
  struct Sample {
    std::string_view name;  // unescaped
    const std::vector<LabelSpan>* labels;
    double value;
    bool has_timestamp;
    double timestamp_seconds;
    bool has_exemplar;
  };
  enum class MetaKind { kHelp, kType, kUnit };

  // A HELP/TYPE/UNIT line for `name` (unescaped); for kType, type is the declared type, for
  // kUnit text is the unit. kInvalidArgument describes a violated rule.
  Status OnMetadata(MetaKind kind, std::string_view name, MetricType type, std::string_view text);
  Status OnSample(const Sample& s);
  // At "# EOF": closes the last family.
  Status OnEof() { return EndFamily(); }

 private:
  struct HistogramRun {
    bool active = false;
    uint64_t group = 0;
    bool has_timestamp = false;
    double timestamp = 0;
    bool has_bucket = false;
    double bucket = 0;
    double bucket_value = 0;
    bool has_count = false;
    double count = 0;
    bool has_sum = false;
    bool has_gsum = false;
    bool negative_bucket = false;
    bool negative_gsum = false;
  };

  Status StartFamily(std::string_view name, bool typed_unknown);
  Status EndFamily();
  bool Allowed(std::string_view sample_name, std::string_view* suffix) const;
  Status CheckLabels(const Sample& s, std::string_view suffix);
  Status CheckGrouping(const Sample& s, std::string_view suffix);
  Status CheckValues(const Sample& s, std::string_view suffix);
  Status CheckHistogram(const Sample& s, std::string_view suffix, uint64_t group);
  Status FinishHistogramRun();
  uint64_t GroupKey(const Sample& s, std::string_view suffix);
  std::string_view Label(const Sample& s, std::string_view name);

  bool in_family_ = false;
  std::string family_;
  MetricType type_ = MetricType::kUnknown;
  bool has_type_ = false, has_help_ = false, has_unit_ = false;
  std::string unit_;
  bool family_has_samples_ = false;

  bool has_group_ = false;
  uint64_t group_ = 0;
  bool group_has_timestamp_ = false;
  double group_timestamp_ = 0;
  HashSet seen_groups_;  // within the family
  HashSet seen_names_;   // family names and their typed suffixes, whole body
  HistogramRun run_;
  std::string scratch_, scratch2_;
};

}  // namespace petrel::scrape::parse
