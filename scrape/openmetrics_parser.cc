// OpenMetrics 1.0 text format. Line syntax follows the OpenMetrics ABNF, which is what
// Prometheus's openmetricslex.l accepts too, except that Prometheus tolerates a trailing comma
// in a label set: only the non-strict mode does. The family-level rules (strict mode only) live
// in openmetrics_parse_rules.cc. Timestamps are seconds (float) and are exposed in ms,
// truncated toward zero like Prometheus's int64(ts*1000) (saturating instead of wrapping).
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "scrape/openmetrics_parse_rules.h"
#include "scrape/parse_shared.h"
#include "scrape/parse_util.h"
#include "scrape/parser.h"

namespace petrel::scrape {
namespace {

using parse::IsLabelNameChar;
using parse::IsLabelNameStart;
using parse::IsMetricNameChar;
using parse::IsMetricNameStart;
using parse::LabelSpan;
using parse::OpenMetricsRules;

// Exemplar label names and values together may hold at most this many code points.
constexpr size_t kMaxExemplarRunes = 128;

int64_t SecondsToMillis(double seconds) {
  const double ms = std::trunc(seconds * 1000);
  if (ms >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (ms <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(ms);
}

size_t CountRunes(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The token starting at p and ending before the next space (or the end of the line).
std::string_view Token(std::string_view line, size_t* p) {
  const size_t start = *p;
  size_t e = line.find(' ', start);
  if (e == std::string_view::npos) e = line.size();
  *p = e;
  return line.substr(start, e - start);
}

class OpenMetricsParser final : public Parser {
 public:
  OpenMetricsParser(std::string_view body, bool strict) : b_(body), strict_(strict) {}

  Result<EntryType> Next() override;

  std::string_view Series() const override { return series_; }
  void AddLabels(LabelsBuilder& b) const override;
  double Value() const override { return value_; }
  std::optional<int64_t> Timestamp() const override { return timestamp_; }
  std::string_view Family() const override { return family_; }
  MetricType Type() const override { return type_; }
  std::string_view Text() const override { return text_; }
  int Line() const override { return line_; }
  bool GetExemplar(Exemplar* e) const override;
  void SetKnownSeries(KnownSeries* known) override { known_ = strict_ ? nullptr : known; }
  void* KnownEntry() const override { return known_entry_; }

 private:
  Result<EntryType> ParseMetadata(std::string_view line);
  bool TryKnownSample(std::string_view line);
  Result<EntryType> ParseSample(std::string_view line);
  Status ParseSampleTail(std::string_view line, size_t p, double* ts_seconds);
  Status ParseExemplar(std::string_view line, size_t p);
  Status ParseLabels(std::string_view line, size_t* p, bool exemplar, std::vector<LabelSpan>* out);
  Status CheckDuplicates();
  Status Fail(std::string_view problem);

  std::string_view b_;
  size_t pos_ = 0;
  int line_ = 0;
  bool done_ = false;
  Status error_;  // sticky once set
  bool strict_;
  OpenMetricsRules rules_;                       // used when strict_
  MetricType last_type_ = MetricType::kUnknown;  // of the last TYPE line, as in Prometheus
  KnownSeries* known_ = nullptr;                 // never set when strict_

  // Current sample.
  std::string_view series_;
  void* known_entry_ = nullptr;  // set: the labels below were not parsed
  std::string_view name_;        // still escaped
  bool name_set_ = false;
  bool name_escaped_ = false;
  std::vector<LabelSpan> labels_;
  std::vector<std::string_view> names_;       // scratch for the duplicate check
  std::vector<std::string> unescaped_names_;  // scratch for the duplicate check
  double value_ = 0;
  std::optional<int64_t> timestamp_;
  bool has_exemplar_ = false;
  std::vector<LabelSpan> exemplar_labels_;
  double exemplar_value_ = 0;
  std::optional<int64_t> exemplar_timestamp_;

  // Current metadata.
  std::string_view family_;
  std::string_view text_;
  MetricType type_ = MetricType::kUnknown;

  std::string family_scratch_;
  std::string text_scratch_;
  std::string name_scratch_;
  mutable parse::LabelScratch label_scratch_;
};

Status OpenMetricsParser::Fail(std::string_view problem) {
  error_ = parse::LineError(line_, problem);
  return error_;
}

Result<EntryType> OpenMetricsParser::Next() {
  if (!error_.ok()) return error_;
  known_entry_ = nullptr;
  if (done_) return EntryType::kEof;
  ++line_;
  if (pos_ >= b_.size()) return Fail("missing # EOF at the end");
  size_t e = b_.find('\n', pos_);
  const bool has_lf = e != std::string_view::npos;
  if (!has_lf) e = b_.size();
  const std::string_view line = b_.substr(pos_, e - pos_);
  pos_ = has_lf ? e + 1 : e;

  if (line == "# EOF") {
    if (pos_ < b_.size()) return Fail("data after # EOF");
    if (strict_) {
      if (Status s = rules_.OnEof(); !s.ok()) return Fail(s.message());
    }
    done_ = true;
    return EntryType::kEof;
  }
  if (line.empty()) return Fail("blank line");
  if (line[0] == '#') return ParseMetadata(line);
  if (known_ != nullptr && TryKnownSample(line)) return EntryType::kSample;
  return ParseSample(line);
}

// "<series> <value>[ <timestamp>]" whose series bytes known_ finds: those bytes parsed as a
// complete series before, and a series' extent depends on its own bytes only, so ParseSample
// would split the line at the same place; the rest is checked here as ParseSampleTail would.
// (Lenient mode only: no family rules to apply.) Lines with exemplars never match.
bool OpenMetricsParser::TryKnownSample(std::string_view line) {
  size_t sp = line.rfind(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  const std::string_view last = line.substr(sp + 1);
  double value = 0;
  std::optional<int64_t> ts;
  std::string_view series = line.substr(0, sp);
  void* entry = known_->Find(series);
  if (entry != nullptr) {
    if (last.empty() || !parse::ParseFloat(last, &value)) return false;
  } else {
    // Perhaps "<series> <value> <timestamp>".
    double seconds = 0;
    if (last.empty() || !parse::ParseGoFloat(last, &seconds) || !std::isfinite(seconds)) {
      return false;
    }
    const size_t sp2 = line.rfind(' ', sp - 1);
    if (sp2 == std::string_view::npos || sp2 == 0) return false;
    series = line.substr(0, sp2);
    entry = known_->Find(series);
    const std::string_view vtok = line.substr(sp2 + 1, sp - sp2 - 1);
    if (entry == nullptr || vtok.empty() || !parse::ParseFloat(vtok, &value)) return false;
    ts = SecondsToMillis(seconds);
  }
  series_ = series;
  known_entry_ = entry;
  value_ = std::isnan(value) ? parse::NormalNaN() : value;
  timestamp_ = ts;
  has_exemplar_ = false;
  return true;
}

// "# HELP|TYPE|UNIT <name> <text>", single spaces; <text> is the rest of the line.
Result<EntryType> OpenMetricsParser::ParseMetadata(std::string_view line) {
  std::string_view rest = line.substr(1);
  using Kind = OpenMetricsRules::MetaKind;
  Kind kind;
  if (rest.starts_with(" HELP ")) {
    kind = Kind::kHelp;
  } else if (rest.starts_with(" TYPE ")) {
    kind = Kind::kType;
  } else if (rest.starts_with(" UNIT ")) {
    kind = Kind::kUnit;
  } else {
    return Fail("expected # HELP, # TYPE, # UNIT or # EOF, got " + parse::Quote(line));
  }
  size_t p = 7;  // after "# XXXX "
  if (p < line.size() && line[p] == '"') {
    const size_t start = ++p;
    bool escaped = false;
    while (p < line.size() && line[p] != '"') {
      if (line[p] == '\\') {
        escaped = true;
        ++p;
      }
      ++p;
    }
    if (p >= line.size()) return Fail("unterminated quoted metric name");
    family_ = line.substr(start, p - start);
    ++p;
    if (escaped) family_ = parse::UnescapeLabelValue(family_, &family_scratch_);
  } else {
    const size_t start = p;
    if (p < line.size() && IsMetricNameStart(line[p])) {
      while (p < line.size() && IsMetricNameChar(line[p])) ++p;
    }
    family_ = line.substr(start, p - start);
  }
  if (family_.empty()) return Fail("expected metric name in " + parse::Quote(line));
  if (p >= line.size()) return Fail("expected a space and text after " + parse::Quote(line));
  if (line[p] != ' ') return Fail("invalid metric name in " + parse::Quote(line));
  const std::string_view text = line.substr(p + 1);

  EntryType entry = EntryType::kHelp;
  switch (kind) {
    case Kind::kHelp:
      if (!parse::ValidUtf8(text)) return Fail("HELP text is not valid UTF-8");
      text_ = parse::UnescapeLabelValue(text, &text_scratch_);
      break;
    case Kind::kUnit:
      text_ = text;
      entry = EntryType::kUnit;
      break;
    case Kind::kType: {
      static constexpr std::pair<std::string_view, MetricType> kTypes[] = {
          {"counter", MetricType::kCounter},     {"gauge", MetricType::kGauge},
          {"histogram", MetricType::kHistogram}, {"gaugehistogram", MetricType::kGaugeHistogram},
          {"summary", MetricType::kSummary},     {"info", MetricType::kInfo},
          {"stateset", MetricType::kStateset},   {"unknown", MetricType::kUnknown}};
      bool found = false;
      for (const auto& [word, type] : kTypes) {
        if (text == word) {
          type_ = type;
          found = true;
        }
      }
      if (!found) return Fail("invalid metric type " + parse::Quote(text));
      last_type_ = type_;
      text_ = text;
      entry = EntryType::kType;
      break;
    }
  }
  if (!strict_) return entry;
  if (Status s = rules_.OnMetadata(kind, family_, type_, text_); !s.ok()) {
    return Fail(s.message());
  }
  return entry;
}

// At line[*p] == '{'. Labels are name="value" pairs joined by single commas, no blanks; a
// quoted string alone is the metric name (not in exemplars). On success *p is past the '}'.
Status OpenMetricsParser::ParseLabels(std::string_view line, size_t* p, bool exemplar,
                                      std::vector<LabelSpan>* out) {
  size_t i = *p + 1;
  const size_t n = line.size();
  // Scans the quoted string at line[i] == '"'.
  // Scans the quoted string at line[i] == '"'; *ascii tells whether it was all ASCII.
  const char* b = line.data();
  auto quoted = [&](std::string_view* inner, bool* escaped, bool* ascii) {
    const size_t start = ++i;
    *escaped = false;
    *ascii = true;
    for (;;) {
      i = parse::FindQuoteStop(b, i, n);
      if (i >= n) return false;
      if (b[i] == '"') break;
      if (b[i] == '\\') {
        *escaped = true;
        if (++i >= n) return false;
      }
      if (static_cast<unsigned char>(b[i]) >= 0x80) *ascii = false;
      ++i;
    }
    *inner = line.substr(start, i - start);
    ++i;
    return true;
  };
  if (i < n && line[i] == '}') {
    *p = i + 1;
    return Status::Ok();
  }
  for (;;) {
    LabelSpan l;
    bool is_quoted = false;
    if (i < n && line[i] == '"') {
      bool ascii = true;
      if (!quoted(&l.name, &l.name_escaped, &ascii)) return Fail("unterminated quoted name");
      if (l.name.empty()) return Fail("empty quoted name");
      if (!ascii && !parse::ValidUtf8(l.name)) return Fail("quoted name is not valid UTF-8");
      is_quoted = true;
    } else if (i < n && IsLabelNameStart(line[i])) {
      const size_t start = i;
      i = parse::FindNotNameChar(b, i, n, /*metric=*/false);
      l.name = line.substr(start, i - start);
    } else {
      return Fail("expected label name in " + parse::Quote(line));
    }
    if (is_quoted && i < n && (line[i] == ',' || line[i] == '}')) {
      if (exemplar) return Fail("expected label name in exemplar");
      if (name_set_) return Fail("metric name set twice in " + parse::Quote(line));
      name_ = l.name;
      name_escaped_ = l.name_escaped;
      name_set_ = true;
    } else {
      if (i >= n || line[i] != '=') return Fail("expected '=' after label name");
      ++i;
      if (i >= n || line[i] != '"') return Fail("expected quoted label value");
      bool ascii = true;
      if (!quoted(&l.value, &l.value_escaped, &ascii)) return Fail("unterminated label value");
      if (!ascii && !parse::ValidUtf8(l.value)) return Fail("label value is not valid UTF-8");
      out->push_back(l);
    }
    if (i < n && line[i] == '}') {
      *p = i + 1;
      return Status::Ok();
    }
    if (i >= n || line[i] != ',') return Fail("expected ',' or '}' in " + parse::Quote(line));
    ++i;
    if (i < n && line[i] == '}') {
      if (strict_) return Fail("trailing comma in label set");
      *p = i + 1;
      return Status::Ok();
    }
  }
}

// Any label named twice, or __name__ next to the metric name.
Status OpenMetricsParser::CheckDuplicates() {
  bool any_escaped = false;
  for (const LabelSpan& l : labels_) any_escaped |= l.name_escaped;
  if (!any_escaped && labels_.size() <= 16) {  // the common case, without copying names
    for (size_t i = 0; i < labels_.size(); ++i) {
      const std::string_view a = labels_[i].name;
      if (a == kMetricName) return Fail("label __name__ besides the metric name");
      for (size_t j = i + 1; j < labels_.size(); ++j) {
        if (labels_[j].name == a) return Fail("duplicate label name " + parse::Quote(a));
      }
    }
    return Status::Ok();
  }
  names_.clear();
  names_.push_back(kMetricName);
  unescaped_names_.clear();
  for (const LabelSpan& l : labels_) {
    if (l.name_escaped) {
      std::string scratch;
      unescaped_names_.emplace_back(parse::UnescapeLabelValue(l.name, &scratch));
    }
  }
  size_t k = 0;
  for (const LabelSpan& l : labels_) {
    names_.push_back(l.name_escaped ? std::string_view(unescaped_names_[k++]) : l.name);
  }
  std::string_view dup;
  if (parse::FindDuplicate(&names_, &dup)) {
    if (dup == kMetricName) return Fail("label __name__ besides the metric name");
    return Fail("duplicate label name " + parse::Quote(dup));
  }
  return Status::Ok();
}

Result<EntryType> OpenMetricsParser::ParseSample(std::string_view line) {
  labels_.clear();
  name_set_ = false;
  name_escaped_ = false;
  size_t p = 0;
  if (line[0] == '{') {
    if (Status s = ParseLabels(line, &p, false, &labels_); !s.ok()) return s;
  } else if (IsMetricNameStart(line[0])) {
    p = parse::FindNotNameChar(line.data(), p, line.size(), /*metric=*/true);
    name_ = line.substr(0, p);
    name_set_ = true;
    if (p < line.size() && line[p] == '{') {
      if (Status s = ParseLabels(line, &p, false, &labels_); !s.ok()) return s;
    }
  } else {
    return Fail("expected metric name at the start of " + parse::Quote(line));
  }
  if (!name_set_) return Fail("metric name not set in " + parse::Quote(line));
  series_ = line.substr(0, p);
  if (Status s = CheckDuplicates(); !s.ok()) return s;
  if (p >= line.size()) return Fail("expected value after " + parse::Quote(series_));
  if (line[p] != ' ') return Fail("invalid metric name or labels in " + parse::Quote(line));

  double ts_seconds = 0;
  if (Status s = ParseSampleTail(line, p + 1, &ts_seconds); !s.ok()) return s;

  std::string_view name = name_;
  if (name_escaped_) name = parse::UnescapeLabelValue(name_, &name_scratch_);
  OpenMetricsRules::Sample sample{name,       &labels_,     value_, timestamp_.has_value(),
                                  ts_seconds, has_exemplar_};
  if (!strict_) return EntryType::kSample;
  if (Status s = rules_.OnSample(sample); !s.ok()) return Fail(s.message());
  return EntryType::kSample;
}

// From the value on: "<value>[ <timestamp>][ # <exemplar>]".
Status OpenMetricsParser::ParseSampleTail(std::string_view line, size_t p, double* ts_seconds) {
  const std::string_view value = Token(line, &p);
  if (value.empty()) return Fail("expected value in " + parse::Quote(line));
  if (!parse::ParseFloat(value, &value_)) return Fail("invalid value " + parse::Quote(value));
  if (std::isnan(value_)) value_ = parse::NormalNaN();
  timestamp_.reset();
  has_exemplar_ = false;
  if (p == line.size()) return Status::Ok();
  if (++p == line.size()) return Fail("trailing space in " + parse::Quote(line));
  if (line[p] != '#') {
    const std::string_view ts = Token(line, &p);
    if (!parse::ParseGoFloat(ts, ts_seconds) || !std::isfinite(*ts_seconds)) {
      return Fail("invalid timestamp " + parse::Quote(ts));
    }
    timestamp_ = SecondsToMillis(*ts_seconds);
    if (p == line.size()) return Status::Ok();
    if (++p == line.size()) return Fail("trailing space in " + parse::Quote(line));
  }
  if (line.substr(p, 3) != "# {") return Fail("expected exemplar in " + parse::Quote(line));
  return ParseExemplar(line, p + 2);
}

// At line[p] == '{': "{labels} <value>[ <timestamp>]" to the end of the line.
Status OpenMetricsParser::ParseExemplar(std::string_view line, size_t p) {
  exemplar_labels_.clear();
  if (Status s = ParseLabels(line, &p, true, &exemplar_labels_); !s.ok()) return s;
  size_t runes = 0;
  std::string scratch, other;
  for (size_t i = 0; i < exemplar_labels_.size(); ++i) {
    const LabelSpan& l = exemplar_labels_[i];
    const std::string_view name =
        l.name_escaped ? parse::UnescapeLabelValue(l.name, &scratch) : l.name;
    for (size_t j = i + 1; j < exemplar_labels_.size(); ++j) {
      const LabelSpan& m = exemplar_labels_[j];
      if (name == (m.name_escaped ? parse::UnescapeLabelValue(m.name, &other) : m.name)) {
        return Fail("duplicate exemplar label name " + parse::Quote(name));
      }
    }
  }
  for (const LabelSpan& l : exemplar_labels_) {
    runes += CountRunes(l.name_escaped ? parse::UnescapeLabelValue(l.name, &scratch) : l.name);
    runes += CountRunes(l.value_escaped ? parse::UnescapeLabelValue(l.value, &scratch) : l.value);
  }
  if (runes > kMaxExemplarRunes) return Fail("exemplar labels longer than 128 characters");
  if (p >= line.size() || line[p] != ' ') return Fail("expected exemplar value");
  ++p;
  const std::string_view value = Token(line, &p);
  if (value.empty() || !parse::ParseGoFloat(value, &exemplar_value_)) {
    return Fail("invalid exemplar value " + parse::Quote(value));
  }
  if (std::isnan(exemplar_value_)) exemplar_value_ = parse::NormalNaN();
  exemplar_timestamp_.reset();
  if (p < line.size()) {
    const std::string_view ts = line.substr(p + 1);
    double seconds = 0;
    if (ts.empty() || ts.find(' ') != std::string_view::npos ||
        !parse::ParseGoFloat(ts, &seconds) || !std::isfinite(seconds)) {
      return Fail("invalid exemplar timestamp " + parse::Quote(ts));
    }
    exemplar_timestamp_ = SecondsToMillis(seconds);
  }
  has_exemplar_ = true;
  return Status::Ok();
}

void OpenMetricsParser::AddLabels(LabelsBuilder& b) const {
  if (known_entry_ != nullptr) {
    // The labels were skipped; parse them now (rare: the caller's ref went missing).
    std::string line(series_);
    line += " 0";
    OpenMetricsParser p(line, /*strict=*/false);
    p.last_type_ = last_type_;
    auto e = p.Next();
    if (e.ok() && *e == EntryType::kSample) p.AddLabels(b);
    return;
  }
  parse::AddSpanLabels(last_type_, name_, name_escaped_, labels_, b, &label_scratch_);
}

bool OpenMetricsParser::GetExemplar(Exemplar* e) const {
  if (!has_exemplar_) return false;
  LabelsBuilder b;
  for (const LabelSpan& l : exemplar_labels_) {
    if (l.value.empty()) continue;
    std::string_view name =
        l.name_escaped ? parse::UnescapeLabelValue(l.name, &label_scratch_.name) : l.name;
    std::string_view value =
        l.value_escaped ? parse::UnescapeLabelValue(l.value, &label_scratch_.value) : l.value;
    b.Set(name, value);
  }
  e->labels = b.Build();
  e->value = exemplar_value_;
  e->timestamp = exemplar_timestamp_;
  return true;
}

}  // namespace

std::unique_ptr<Parser> NewOpenMetricsParser(std::string_view body, bool strict) {
  return std::make_unique<OpenMetricsParser>(body, strict);
}

}  // namespace petrel::scrape
