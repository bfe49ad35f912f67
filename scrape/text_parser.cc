// Prometheus text format 0.0.4, accepting exactly what Prometheus's promlex.l/promparse.go
// accept. Notable upstream behaviours kept on purpose:
//  - blanks may lead a line and surround every token; a value may follow the metric name or
//    label block without a blank ("foo{}1");
//  - label pairs need no comma between them, and a trailing comma is fine;
//  - label values may hold raw LFs; a backslash may precede any byte but LF (only \\ \" \n
//    are unescaped, other pairs are kept as written);
//  - "# HELP"/"# TYPE" need a blank after the keyword, else the line is a plain comment; after
//    the family name one separator byte is dropped, the rest of the line is the text;
//  - a NUL byte where a line (or token) would start ends the body;
//  - timestamps are digits only (no sign), and must fit an int64;
//  - duplicate or out-of-family TYPE/HELP lines are not rejected.
// Scanning is allocation-free: entries are views into the body; unescaping happens on demand
// in scratch strings.
#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "scrape/parse_shared.h"
#include "scrape/parse_util.h"
#include "scrape/parser.h"

namespace petrel::scrape {
namespace {

using parse::IsDigit;
using parse::IsLabelNameChar;
using parse::IsLabelNameStart;
using parse::IsMetricNameChar;
using parse::IsMetricNameStart;

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

class TextParser final : public Parser {
 public:
  explicit TextParser(std::string_view body) : b_(body) {}

  Result<EntryType> Next() override;

  std::string_view Series() const override { return series_; }
  void AddLabels(LabelsBuilder& b) const override;
  double Value() const override { return value_; }
  std::optional<int64_t> Timestamp() const override { return timestamp_; }
  std::string_view Family() const override { return family_; }
  MetricType Type() const override { return type_; }
  std::string_view Text() const override { return text_; }
  int Line() const override { return line_of_entry_; }
  void SetKnownSeries(KnownSeries* known) override { known_ = known; }
  void* KnownEntry() const override { return known_entry_; }

 private:
  struct LabelSpan {
    std::string_view name;   // without quotes, still escaped
    std::string_view value;  // without quotes, still escaped
    bool name_escaped;
    bool value_escaped;
  };

  char Peek() const { return pos_ < b_.size() ? b_[pos_] : '\n'; }  // a final LF is implied
  // Loops index through locals: a char load may alias any member, so a loop over pos_ would
  // reload and store it at every byte.
  void SkipBlanks() {
    const char* b = b_.data();
    const size_t n = b_.size();
    size_t i = pos_;
    while (i < n && IsBlank(b[i])) ++i;
    pos_ = i;
  }
  // Advances pos_ over bytes of class `cls`.
  void ScanWhile(uint8_t cls) {
    const char* b = b_.data();
    const size_t n = b_.size();
    size_t i = pos_;
    while (i < n && parse::Is(b[i], cls)) ++i;
    pos_ = i;
  }
  // Advances pos_ up to the next byte of class `cls`.
  void ScanUntil(uint8_t cls) {
    const char* b = b_.data();
    const size_t n = b_.size();
    size_t i = pos_;
    while (i < n && !parse::Is(b[i], cls)) ++i;
    pos_ = i;
  }
  size_t LineEnd() const {
    size_t e = b_.find('\n', pos_);
    return e == std::string_view::npos ? b_.size() : e;
  }
  // Consumes the LF at pos_ (or nothing at the end of the body).
  void EndLine() {
    if (pos_ < b_.size()) {
      ++pos_;
      ++line_;
    }
  }

  Result<EntryType> ParseHashLine();
  Result<EntryType> ParseMetadata(bool help);
  Result<EntryType> ParseSample();
  bool TryKnownSample();
  bool TryFastSample();
  Status ParseLabels();
  Status CheckDuplicateLabels();
  bool ScanQuoted(bool nul_ok, std::string_view* inner, bool* escaped, bool* ascii);
  Status Fail(std::string_view problem);
  std::string_view Got() const;

  std::string_view b_;
  size_t pos_ = 0;
  int line_ = 1;  // line of pos_
  int line_of_entry_ = 0;
  Status error_;  // sticky once set
  KnownSeries* known_ = nullptr;

  // Current entry.
  std::string_view series_;
  void* known_entry_ = nullptr;  // set: the labels below were not parsed
  std::string_view name_;        // metric name, still escaped
  bool name_set_ = false;
  bool name_escaped_ = false;
  std::vector<LabelSpan> labels_;
  std::vector<std::string_view> names_;       // scratch for the duplicate check
  std::vector<std::string> unescaped_names_;  // scratch for the duplicate check
  double value_ = 0;
  std::optional<int64_t> timestamp_;
  std::string_view family_;
  std::string_view text_;
  MetricType type_ = MetricType::kUnknown;  // of the last TYPE line, as in promparse

  std::string family_scratch_;
  std::string text_scratch_;
  mutable parse::LabelScratch label_scratch_;
};

Status TextParser::Fail(std::string_view problem) {
  error_ = parse::LineError(line_of_entry_, problem);
  return error_;
}

// A short excerpt of what stands at pos_, for error messages.
std::string_view TextParser::Got() const {
  if (pos_ >= b_.size()) return "end of input";
  size_t e = pos_;
  while (e < b_.size() && e - pos_ < 20 && b_[e] != '\n') ++e;
  if (e == pos_) return "end of line";
  return b_.substr(pos_, e - pos_);
}

Result<EntryType> TextParser::Next() {
  if (!error_.ok()) return error_;
  known_entry_ = nullptr;
  for (;;) {
    SkipBlanks();
    line_of_entry_ = line_;
    if (pos_ >= b_.size()) return EntryType::kEof;
    const char c = b_[pos_];
    if (c == '\n') {
      EndLine();
      continue;
    }
    if (c == '\0') {  // promlex treats a NUL at a token start as the end of input
      pos_ = b_.size();
      return EntryType::kEof;
    }
    if (c == '#') return ParseHashLine();
    if (known_ != nullptr && TryKnownSample()) return EntryType::kSample;
    if (IsMetricNameStart(c) && TryFastSample()) return EntryType::kSample;
    if (IsMetricNameStart(c) || c == '{') return ParseSample();
    return Fail("expected a metric name, '{' or '#' at the start of a line, got " +
                parse::Quote(Got()));
  }
}

Result<EntryType> TextParser::ParseHashLine() {
  const size_t start = pos_;
  ++pos_;  // '#'
  if (pos_ < b_.size() && IsBlank(b_[pos_])) {
    SkipBlanks();
    std::string_view rest = b_.substr(pos_);
    if (rest.size() > 4 && IsBlank(rest[4])) {
      const std::string_view word = rest.substr(0, 4);
      if (word == "HELP" || word == "TYPE") {
        pos_ += 4;
        SkipBlanks();
        return ParseMetadata(word == "HELP");
      }
    }
  }
  pos_ = LineEnd();
  text_ = b_.substr(start, pos_ - start);
  EndLine();
  return EntryType::kComment;
}

Result<EntryType> TextParser::ParseMetadata(bool help) {
  const char* what = help ? "HELP" : "TYPE";
  const char c = Peek();
  if (c == '"') {
    bool escaped = false, ascii = true;
    if (!ScanQuoted(/*nul_ok=*/false, &family_, &escaped, &ascii)) {
      return Fail(fmt::format("unterminated quoted metric name after {}", what));
    }
    if (escaped) family_ = parse::UnescapeLabelValue(family_, &family_scratch_);
  } else if (IsMetricNameStart(c)) {
    const size_t s = pos_;
    ScanWhile(parse::kMetricChar);
    family_ = b_.substr(s, pos_ - s);
  } else {
    return Fail(fmt::format("expected metric name after {}, got {}", what, parse::Quote(Got())));
  }

  // The text: one separator byte is dropped; a rest made only of blanks is no text at all.
  const size_t end = LineEnd();
  std::string_view rest = b_.substr(pos_, end - pos_);
  pos_ = end;
  const bool only_blanks = rest.find_first_not_of(" \t") == std::string_view::npos;
  std::string_view text = only_blanks ? std::string_view() : rest.substr(1);

  if (help) {
    if (!parse::ValidUtf8(text)) return Fail("HELP text is not valid UTF-8");
    text_ = parse::UnescapeHelp(text, &text_scratch_);
    EndLine();
    return EntryType::kHelp;
  }
  if (text == "counter") {
    type_ = MetricType::kCounter;
  } else if (text == "gauge") {
    type_ = MetricType::kGauge;
  } else if (text == "histogram") {
    type_ = MetricType::kHistogram;
  } else if (text == "summary") {
    type_ = MetricType::kSummary;
  } else if (text == "untyped") {
    type_ = MetricType::kUnknown;
  } else {
    return Fail("invalid metric type " + parse::Quote(text));
  }
  text_ = text;
  EndLine();
  return EntryType::kType;
}

// At an opening quote. Scans to the closing quote: a backslash escapes the next byte, which
// must not be LF (or NUL unless nul_ok); raw LFs inside are allowed and counted. On success
// pos_ is past the closing quote and *ascii tells whether every byte was ASCII.
bool TextParser::ScanQuoted(bool nul_ok, std::string_view* inner, bool* escaped, bool* ascii) {
  const char* b = b_.data();
  const size_t n = b_.size();
  const size_t start = pos_ + 1;
  size_t i = start;
  bool esc = false, high = false;
  int lines = 0;
  for (;;) {
    i = parse::FindQuoteStop(b, i, n);
    if (i >= n) return false;
    const char c = b[i];
    if (c == '"') break;
    if (c == '\\') {
      esc = true;
      if (i + 1 >= n) return false;
      const char next = b[i + 1];
      if (next == '\n' || (next == '\0' && !nul_ok)) return false;
      high |= static_cast<unsigned char>(next) >= 0x80;
      i += 2;
      continue;
    }
    if (c == '\n') {
      ++lines;
    } else if (c == '\0') {
      if (!nul_ok) return false;
    } else {
      high = true;
    }
    ++i;
  }
  *inner = b_.substr(start, i - start);
  *escaped = esc;
  *ascii = !high;
  line_ += lines;
  pos_ = i + 1;
  return true;
}

// A line "<series> <value>[ <timestamp>]" (single spaces) whose series bytes known_ finds.
// Those bytes parsed as a complete series before, and a series' extent depends on its own
// bytes only, so the full parse would split the line at the same place; what follows is
// checked here exactly as ParseSample would. Otherwise returns false with pos_ unchanged.
bool TextParser::TryKnownSample() {
  const char* b = b_.data();
  const size_t n = b_.size();
  const size_t start = pos_;
  const void* lf = std::memchr(b + start, '\n', n - start);
  const size_t end = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - b) : n;
  // A raw LF inside a label value ends `end` early; such series never match, so they miss.
  size_t sp = end;
  while (sp > start && b[sp - 1] != ' ') --sp;
  if (sp <= start + 1) return false;
  const std::string_view last = b_.substr(sp, end - sp);
  double value = 0;
  std::optional<int64_t> ts;
  std::string_view series = b_.substr(start, sp - 1 - start);
  void* entry = known_->Find(series);
  if (entry != nullptr) {
    if (!parse::ParseFloat(last, &value)) return false;
  } else {
    // Perhaps "<series> <value> <timestamp>".
    if (last.empty()) return false;
    for (char c : last) {
      if (!IsDigit(c)) return false;
    }
    int64_t t = 0;
    if (std::from_chars(last.data(), last.data() + last.size(), t).ec != std::errc()) {
      return false;
    }
    size_t sp2 = sp - 1;
    while (sp2 > start && b[sp2 - 1] != ' ') --sp2;
    if (sp2 <= start + 1) return false;
    series = b_.substr(start, sp2 - 1 - start);
    entry = known_->Find(series);
    if (entry == nullptr || !parse::ParseFloat(b_.substr(sp2, sp - 1 - sp2), &value)) {
      return false;
    }
    ts = t;
  }
  series_ = series;
  known_entry_ = entry;
  value_ = value != value ? parse::NormalNaN() : value;
  timestamp_ = ts;
  pos_ = end;
  EndLine();
  return true;
}

// The common line shape in one pass: name[{l="v",...}] value[ timestamp] with single spaces,
// legacy label names and plain-ASCII values without escapes. It accepts a subset of what
// ParseSample accepts, with the same result; anything else (blanks, quoted names, escapes,
// non-ASCII, errors of any kind) returns false with pos_ unchanged, for ParseSample to handle.
bool TextParser::TryFastSample() {
  const char* b = b_.data();
  const size_t n = b_.size();
  const size_t start = pos_;
  size_t i = parse::FindNotNameChar(b, start, n, /*metric=*/true);
  const size_t name_end = i;
  labels_.clear();
  if (i < n && b[i] == '{') {
    ++i;
    while (i < n && b[i] != '}') {
      const size_t ns = i;
      if (!parse::Is(b[i], parse::kLabelStart)) return false;
      i = parse::FindNotNameChar(b, i, n, /*metric=*/false);
      const size_t ne = i;
      if (i + 1 >= n || b[i] != '=' || b[i + 1] != '"') return false;
      i += 2;
      const size_t vs = i;
      i = parse::FindQuoteStop(b, i, n);
      if (i >= n || b[i] != '"') return false;
      labels_.push_back({b_.substr(ns, ne - ns), b_.substr(vs, i - vs), false, false});
      ++i;
      if (i < n && b[i] == ',') {
        ++i;
      } else if (i >= n || b[i] != '}') {
        return false;
      }
    }
    if (i >= n) return false;
    ++i;  // '}'
  }
  const size_t series_end = i;
  if (i >= n || b[i] != ' ') return false;
  const size_t vs = ++i;
  while (i < n && !parse::Is(b[i], parse::kValueEnd)) ++i;
  double value;
  if (i == vs || !parse::ParseFloat(b_.substr(vs, i - vs), &value)) return false;
  std::optional<int64_t> ts;
  if (i < n && b[i] == ' ') {
    const size_t ts_start = ++i;
    while (i < n && parse::Is(b[i], parse::kDigitChar)) ++i;
    int64_t t = 0;
    if (i == ts_start || std::from_chars(b + ts_start, b + i, t).ec != std::errc()) return false;
    ts = t;
  }
  if (i < n && b[i] != '\n') return false;
  // Duplicates are ParseSample's to report.
  if (labels_.size() > 16) return false;
  for (size_t k = 0; k < labels_.size(); ++k) {
    const LabelSpan& a = labels_[k];
    if (a.value.empty()) continue;
    if (a.name == kMetricName) return false;
    for (size_t j = k + 1; j < labels_.size(); ++j) {
      if (labels_[j].name == a.name && !labels_[j].value.empty()) return false;
    }
  }
  name_ = b_.substr(start, name_end - start);
  name_set_ = true;
  name_escaped_ = false;
  series_ = b_.substr(start, series_end - start);
  value_ = value != value ? parse::NormalNaN() : value;
  timestamp_ = ts;
  pos_ = i;
  EndLine();
  return true;
}

Result<EntryType> TextParser::ParseSample() {
  const size_t start = pos_;
  labels_.clear();
  name_set_ = false;
  name_escaped_ = false;
  size_t series_end;
  if (b_[pos_] == '{') {
    ++pos_;
    if (Status s = ParseLabels(); !s.ok()) return s;
    series_end = pos_;
  } else {
    ScanWhile(parse::kMetricChar);
    name_ = b_.substr(start, pos_ - start);
    name_set_ = true;
    series_end = pos_;
    SkipBlanks();
    if (Peek() == '{') {
      ++pos_;
      if (Status s = ParseLabels(); !s.ok()) return s;
      series_end = pos_;
    }
  }
  if (!name_set_) return Fail("metric name not set in " + parse::Quote(b_.substr(start)));
  series_ = b_.substr(start, series_end - start);
  if (Status s = CheckDuplicateLabels(); !s.ok()) return s;

  SkipBlanks();
  const size_t vstart = pos_;
  ScanUntil(parse::kValueEnd);
  const std::string_view vtext = b_.substr(vstart, pos_ - vstart);
  if (vtext.empty()) {
    return Fail("expected value after metric, got " + parse::Quote(Got()));
  }
  if (!parse::ParseFloat(vtext, &value_)) {
    return Fail("invalid value " + parse::Quote(vtext));
  }
  if (value_ != value_) value_ = parse::NormalNaN();

  timestamp_.reset();
  SkipBlanks();
  if (IsDigit(Peek())) {
    const size_t tstart = pos_;
    ScanWhile(parse::kDigitChar);
    int64_t ts = 0;
    auto [p, ec] = std::from_chars(b_.data() + tstart, b_.data() + pos_, ts);
    if (ec != std::errc()) {
      return Fail("timestamp out of range " + parse::Quote(b_.substr(tstart, pos_ - tstart)));
    }
    timestamp_ = ts;
    SkipBlanks();
    if (Peek() != '\n') {
      return Fail("expected end of line after timestamp, got " + parse::Quote(Got()));
    }
  } else if (Peek() != '\n') {
    return Fail("expected timestamp or end of line, got " + parse::Quote(Got()));
  }
  EndLine();
  return EntryType::kSample;
}

// After '{'. Reads label pairs (and a quoted metric name) up to and including '}'.
Status TextParser::ParseLabels() {
  for (;;) {
    SkipBlanks();
    char c = Peek();
    if (c == '}') {
      ++pos_;
      return Status::Ok();
    }
    LabelSpan l{};
    bool quoted = false;
    if (c == '"') {
      bool ascii = true;
      if (!ScanQuoted(/*nul_ok=*/false, &l.name, &l.name_escaped, &ascii)) {
        return Fail("unterminated quoted name");
      }
      // Prometheus fails the scrape on such names after parsing; failing here is the same.
      if (l.name.empty()) return Fail("empty quoted name");
      if (!ascii && !parse::ValidUtf8(l.name)) return Fail("quoted name is not valid UTF-8");
      quoted = true;
    } else if (IsLabelNameStart(c)) {
      const size_t s = pos_;
      ScanWhile(parse::kLabelChar);
      l.name = b_.substr(s, pos_ - s);
    } else {
      return Fail("expected label name, got " + parse::Quote(Got()));
    }
    SkipBlanks();
    c = Peek();
    if (quoted && (c == ',' || c == '}')) {  // a quoted metric name
      if (name_set_) return Fail("metric name already set");
      name_ = l.name;
      name_escaped_ = l.name_escaped;
      name_set_ = true;
      ++pos_;
      if (c == '}') return Status::Ok();
      continue;
    }
    if (c != '=') {
      return Fail("expected '=' after label name " + parse::Quote(l.name) + ", got " +
                  parse::Quote(Got()));
    }
    ++pos_;
    SkipBlanks();
    if (Peek() != '"') return Fail("expected quoted label value, got " + parse::Quote(Got()));
    bool ascii = true;
    if (!ScanQuoted(/*nul_ok=*/true, &l.value, &l.value_escaped, &ascii)) {
      return Fail("unterminated label value or invalid escape for label " + parse::Quote(l.name));
    }
    if (!ascii && !parse::ValidUtf8(l.value)) {
      return Fail("invalid UTF-8 in value of label " + parse::Quote(l.name));
    }
    labels_.push_back(l);
    SkipBlanks();
    if (Peek() == ',') ++pos_;
  }
}

// Prometheus rejects a series naming a label twice (with non-empty values) when appending;
// refusing it here fails the scrape just the same, and earlier. The metric name counts as
// __name__.
Status TextParser::CheckDuplicateLabels() {
  bool any_escaped = false;
  for (const LabelSpan& l : labels_) any_escaped |= l.name_escaped;
  if (!any_escaped && labels_.size() <= 16) {  // the common case, without copying names
    for (size_t i = 0; i < labels_.size(); ++i) {
      const LabelSpan& a = labels_[i];
      if (a.value.empty()) continue;
      if (a.name == kMetricName) return Fail("duplicate label name \"__name__\"");
      for (size_t j = i + 1; j < labels_.size(); ++j) {
        if (labels_[j].name == a.name && !labels_[j].value.empty()) {
          return Fail("duplicate label name " + parse::Quote(a.name));
        }
      }
    }
    return Status::Ok();
  }
  names_.clear();
  names_.push_back(kMetricName);
  if (!any_escaped) {
    for (const LabelSpan& l : labels_) {
      if (!l.value.empty()) names_.push_back(l.name);
    }
  } else {  // rare: compare unescaped names
    unescaped_names_.clear();
    for (const LabelSpan& l : labels_) {
      if (l.value.empty()) continue;
      std::string scratch;
      unescaped_names_.emplace_back(parse::UnescapeLabelValue(l.name, &scratch));
    }
    for (const std::string& n : unescaped_names_) names_.push_back(n);
  }
  std::string_view dup;
  if (parse::FindDuplicate(&names_, &dup)) return Fail("duplicate label name " + parse::Quote(dup));
  return Status::Ok();
}

void TextParser::AddLabels(LabelsBuilder& b) const {
  if (known_entry_ != nullptr) {
    // The labels were skipped; parse them now (rare: the caller's ref went missing).
    std::string line(series_);
    line += " 0";
    TextParser p(line);
    p.type_ = type_;
    auto e = p.Next();
    if (e.ok() && *e == EntryType::kSample) p.AddLabels(b);
    return;
  }
  parse::AddSpanLabels(type_, name_, name_escaped_, labels_, b, &label_scratch_);
}

}  // namespace

std::unique_ptr<Parser> NewTextParser(std::string_view body) {
  return std::make_unique<TextParser>(body);
}

}  // namespace petrel::scrape
