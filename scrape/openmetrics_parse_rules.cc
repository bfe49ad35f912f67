#include "scrape/openmetrics_parse_rules.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <span>

#include "scrape/parse_util.h"

namespace petrel::scrape::parse {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// A quick 64-bit hash for short strings (label names and values), eight bytes at a time;
// callers mix the result further (Mix, HashSet).
uint64_t HashBytes(std::string_view s) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  uint64_t h = (s.size() + 1) * kMul;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  return h;
}

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> set) {
  for (std::string_view x : set) {
    if (s == x) return true;
  }
  return false;
}

bool IsIntegral(double v) { return std::isfinite(v) && v == std::trunc(v); }

// The sample-name suffixes a family of this type may use ("" is the bare family name).
std::span<const std::string_view> Suffixes(MetricType t) {
  static constexpr std::string_view kCounter[] = {"_total", "_created"};
  static constexpr std::string_view kSummary[] = {"", "_count", "_sum", "_created"};
  static constexpr std::string_view kHistogram[] = {"_count", "_sum", "_bucket", "_created"};
  static constexpr std::string_view kGaugeHistogram[] = {"_gcount", "_gsum", "_bucket"};
  static constexpr std::string_view kInfo[] = {"_info"};
  static constexpr std::string_view kBare[] = {""};
  switch (t) {
    case MetricType::kCounter:
      return kCounter;
    case MetricType::kSummary:
      return kSummary;
    case MetricType::kHistogram:
      return kHistogram;
    case MetricType::kGaugeHistogram:
      return kGaugeHistogram;
    case MetricType::kInfo:
      return kInfo;
    default:
      return kBare;
  }
}

bool IsHistogram(MetricType t) {
  return t == MetricType::kHistogram || t == MetricType::kGaugeHistogram;
}

Status Invalid(std::string m) { return Status::InvalidArgument(std::move(m)); }

}  // namespace

bool HashSet::Insert(uint64_t h) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  const size_t mask = slots_.size() - 1;
  for (size_t i = Mix(h) & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.generation != generation_) {
      s.key = h;
      s.generation = generation_;
      ++size_;
      return true;
    }
    if (s.key == h) return false;
  }
}

bool HashSet::Contains(uint64_t h) const {
  if (slots_.empty()) return false;
  const size_t mask = slots_.size() - 1;
  for (size_t i = Mix(h) & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.generation != generation_) return false;
    if (s.key == h) return true;
  }
}

void HashSet::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
  const uint32_t live = generation_;
  generation_ = 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.generation == live) Insert(s.key);
  }
}

Status OpenMetricsRules::StartFamily(std::string_view name, bool typed_unknown) {
  // EndFamily claims the names; checking the bare one now reports a clash where it starts.
  if (seen_names_.Contains(HashBytes(name))) {
    return Invalid(fmt::format("clashing metric family name {}", Quote(name)));
  }
  in_family_ = true;
  family_.assign(name);
  type_ = MetricType::kUnknown;
  has_type_ = typed_unknown;
  has_help_ = has_unit_ = false;
  unit_.clear();
  family_has_samples_ = false;
  has_group_ = false;
  seen_groups_.Clear();
  run_ = HistogramRun{};
  return Status::Ok();
}

Status OpenMetricsRules::EndFamily() {
  if (!in_family_) return Status::Ok();
  in_family_ = false;
  if (IsHistogram(type_) && run_.active) {
    if (Status s = FinishHistogramRun(); !s.ok()) return s;
  }
  // A family claims its bare name and every name its type may use.
  bool bare_listed = false;
  for (std::string_view suffix : Suffixes(type_)) bare_listed |= suffix.empty();
  auto claim = [&](std::string_view suffix) -> Status {
    scratch_.assign(family_).append(suffix);
    if (!seen_names_.Insert(HashBytes(scratch_))) {
      return Invalid(fmt::format("clashing metric family name {}", Quote(scratch_)));
    }
    return Status::Ok();
  };
  if (!bare_listed) {
    if (Status s = claim(""); !s.ok()) return s;
  }
  for (std::string_view suffix : Suffixes(type_)) {
    if (Status s = claim(suffix); !s.ok()) return s;
  }
  return Status::Ok();
}

Status OpenMetricsRules::OnMetadata(MetaKind kind, std::string_view name, MetricType type,
                                    std::string_view text) {
  if (in_family_ && name == family_) {
    if (family_has_samples_) {
      return Invalid(fmt::format("metadata for {} after its samples", Quote(name)));
    }
  } else {
    if (Status s = EndFamily(); !s.ok()) return s;
    if (Status s = StartFamily(name, false); !s.ok()) return s;
  }
  const bool unitless = type_ == MetricType::kInfo || type_ == MetricType::kStateset;
  switch (kind) {
    case MetaKind::kHelp:
      if (has_help_) return Invalid(fmt::format("second HELP for {}", Quote(name)));
      has_help_ = true;
      break;
    case MetaKind::kType:
      if (has_type_) return Invalid(fmt::format("second TYPE for {}", Quote(name)));
      has_type_ = true;
      type_ = type;
      if (!unit_.empty() && (type == MetricType::kInfo || type == MetricType::kStateset)) {
        return Invalid(fmt::format("a UNIT is not allowed for {} of this type", Quote(name)));
      }
      break;
    case MetaKind::kUnit:
      if (has_unit_) return Invalid(fmt::format("second UNIT for {}", Quote(name)));
      has_unit_ = true;
      unit_.assign(text);
      if (!text.empty()) {
        if (name.size() < text.size() + 1 || !name.ends_with(text) ||
            name[name.size() - text.size() - 1] != '_') {
          return Invalid(fmt::format("unit {} is not a suffix of {}", Quote(text), Quote(name)));
        }
        if (unitless) {
          return Invalid(fmt::format("a UNIT is not allowed for {} of this type", Quote(name)));
        }
      }
      break;
  }
  return Status::Ok();
}

bool OpenMetricsRules::Allowed(std::string_view sample_name, std::string_view* suffix) const {
  if (!sample_name.starts_with(family_)) return false;
  std::string_view rest = sample_name.substr(family_.size());
  for (std::string_view s : Suffixes(type_)) {
    if (rest == s) {
      *suffix = rest;
      return true;
    }
  }
  return false;
}

// The unescaped value of label `name` in s, or nullopt-like {} with found=false.
std::string_view OpenMetricsRules::Label(const Sample& s, std::string_view name) {
  for (const LabelSpan& l : *s.labels) {
    std::string_view n = l.name_escaped ? UnescapeLabelValue(l.name, &scratch_) : l.name;
    if (n == name) return l.value_escaped ? UnescapeLabelValue(l.value, &scratch2_) : l.value;
  }
  return std::string_view(nullptr, 0);
}

Status OpenMetricsRules::OnSample(const Sample& s) {
  std::string_view suffix;
  if (!in_family_ || !Allowed(s.name, &suffix)) {
    if (Status st = EndFamily(); !st.ok()) return st;
    if (Status st = StartFamily(s.name, true); !st.ok()) return st;
    suffix = {};
  }
  family_has_samples_ = true;
  if (Status st = CheckLabels(s, suffix); !st.ok()) return st;
  if (Status st = CheckValues(s, suffix); !st.ok()) return st;
  return CheckGrouping(s, suffix);
}

Status OpenMetricsRules::CheckLabels(const Sample& s, std::string_view suffix) {
  if (type_ == MetricType::kStateset && Label(s, family_).data() == nullptr) {
    return Invalid(fmt::format("stateset sample without the {} label", Quote(family_)));
  }
  if (suffix == "_bucket") {
    std::string_view le = Label(s, "le");
    double b = 0;
    if (le.data() == nullptr || !ParseGoFloat(le, &b) || std::isnan(b)) {
      return Invalid("bucket without a valid le label");
    }
    if (std::isinf(b) && b > 0 && le != "+Inf") {
      return Invalid(fmt::format("le {} must be written +Inf", Quote(le)));
    }
    if (!IsIntegral(s.value)) return Invalid("bucket value must be an integer");
  }
  if ((suffix == "_count" || suffix == "_gcount") && !IsIntegral(s.value)) {
    return Invalid("count value must be an integer");
  }
  if (type_ == MetricType::kSummary && suffix.empty()) {
    std::string_view q = Label(s, "quantile");
    double v = 0;
    if (q.data() == nullptr || !ParseGoFloat(q, &v) || !(v >= 0 && v <= 1)) {
      return Invalid("summary quantile sample without a valid quantile label (0 to 1)");
    }
  }
  return Status::Ok();
}

Status OpenMetricsRules::CheckValues(const Sample& s, std::string_view suffix) {
  const double v = s.value;
  if (type_ == MetricType::kStateset && v != 0 && v != 1) {
    return Invalid("stateset value must be 0 or 1");
  }
  if (type_ == MetricType::kInfo && v != 1) return Invalid("info value must be 1");
  if (type_ == MetricType::kSummary && suffix.empty() && v < 0) {
    return Invalid("quantile value must not be negative");
  }
  if (std::isnan(v) &&
      IsOneOf(suffix, {"_total", "_sum", "_count", "_bucket", "_gcount", "_gsum"})) {
    return Invalid("counter-like value must not be NaN");
  }
  if (v < 0 && IsOneOf(suffix, {"_total", "_sum", "_count", "_bucket", "_gcount"})) {
    return Invalid("counter-like value must not be negative");
  }
  if (s.has_exemplar) {
    const bool ok = (IsHistogram(type_) && s.name.ends_with("_bucket")) ||
                    (type_ == MetricType::kCounter && s.name.ends_with("_total"));
    if (!ok) return Invalid("exemplars are allowed only on counter _total and histogram _bucket");
  }
  return Status::Ok();
}

// Identifies the metric (one label set) a sample belongs to within its family: its labels
// without the one that tells the family's samples apart (le, quantile, the stateset label).
// Order-independent.
uint64_t OpenMetricsRules::GroupKey(const Sample& s, std::string_view suffix) {
  if (type_ == MetricType::kInfo) return 0;
  std::string_view skip;
  if (type_ == MetricType::kSummary && suffix.empty()) skip = "quantile";
  if (type_ == MetricType::kStateset) skip = family_;
  if (IsHistogram(type_) && suffix == "_bucket") skip = "le";
  uint64_t key = 0;
  for (const LabelSpan& l : *s.labels) {
    std::string_view n = l.name_escaped ? UnescapeLabelValue(l.name, &scratch_) : l.name;
    if (!skip.empty() && n == skip) continue;
    std::string_view v = l.value_escaped ? UnescapeLabelValue(l.value, &scratch2_) : l.value;
    key += Mix(HashBytes(n) ^ (HashBytes(v) * 0x9e3779b97f4a7c15ULL));
  }
  return key;
}

Status OpenMetricsRules::CheckGrouping(const Sample& s, std::string_view suffix) {
  const uint64_t g = GroupKey(s, suffix);
  if (has_group_ && g != group_ && seen_groups_.Contains(g)) {
    return Invalid(fmt::format("samples of one metric of {} are not together", Quote(family_)));
  }
  if (has_group_ && g == group_) {
    if (s.has_timestamp != group_has_timestamp_) {
      return Invalid("a metric mixes samples with and without timestamps");
    }
    if (s.has_timestamp && s.timestamp_seconds < group_timestamp_ && type_ != MetricType::kInfo) {
      return Invalid("timestamps went backwards within a metric");
    }
  }
  has_group_ = true;
  group_ = g;
  group_has_timestamp_ = s.has_timestamp;
  group_timestamp_ = s.timestamp_seconds;
  seen_groups_.Insert(g);
  if (IsHistogram(type_) && !suffix.empty()) return CheckHistogram(s, suffix, g);
  return Status::Ok();
}

Status OpenMetricsRules::CheckHistogram(const Sample& s, std::string_view suffix, uint64_t group) {
  const bool same_run = run_.active && run_.group == group &&
                        run_.has_timestamp == s.has_timestamp &&
                        (!s.has_timestamp || run_.timestamp == s.timestamp_seconds);
  if (!same_run) {
    if (run_.active) {
      if (Status st = FinishHistogramRun(); !st.ok()) return st;
    }
    run_ = HistogramRun{};
    run_.active = true;
    run_.group = group;
    run_.has_timestamp = s.has_timestamp;
    run_.timestamp = s.timestamp_seconds;
  }
  if (suffix == "_bucket") {
    double b = 0;
    ParseGoFloat(Label(s, "le"), &b);  // validated by CheckLabels
    if (b < 0) run_.negative_bucket = true;
    if (run_.has_bucket && b <= run_.bucket) {
      return Invalid(fmt::format("buckets of {} out of order", Quote(family_)));
    }
    if (s.value < run_.bucket_value) {
      return Invalid(fmt::format("bucket values of {} decrease", Quote(family_)));
    }
    run_.has_bucket = true;
    run_.bucket = b;
    run_.bucket_value = s.value;
  } else if (suffix == "_count" || suffix == "_gcount") {
    run_.has_count = true;
    run_.count = s.value;
  } else if (suffix == "_sum") {
    run_.has_sum = true;
  } else if (suffix == "_gsum") {
    run_.has_gsum = true;
    if (s.value < 0) run_.negative_gsum = true;
  }
  return Status::Ok();
}

Status OpenMetricsRules::FinishHistogramRun() {
  const HistogramRun& r = run_;
  run_.active = false;
  const std::string name = Quote(family_);
  if (!r.has_bucket || !(std::isinf(r.bucket) && r.bucket > 0)) {
    return Invalid(fmt::format("histogram {} has no +Inf bucket", name));
  }
  if (r.has_count && r.bucket_value != r.count) {
    return Invalid(fmt::format("histogram {}: count differs from the +Inf bucket", name));
  }
  if ((r.has_sum || r.has_gsum) && !r.has_count) {
    return Invalid(fmt::format("histogram {} has a sum but no count", name));
  }
  if (!(r.has_sum || r.has_gsum) && r.has_count) {
    return Invalid(fmt::format("histogram {} has a count but no sum", name));
  }
  if (r.negative_bucket && r.has_sum) {
    return Invalid(fmt::format("histogram {} has negative buckets and a _sum", name));
  }
  if (!r.negative_bucket && r.negative_gsum) {
    return Invalid(
        fmt::format("gauge histogram {}: negative _gsum without negative buckets", name));
  }
  return Status::Ok();
}

}  // namespace petrel::scrape::parse
