#include "agent/check.h"

#include <array>
#include <istream>
#include <iterator>
#include <memory>
#include <ostream>
#include <unordered_map>

#include "config/config.h"
#include "scrape/parser.h"

namespace petrel::agent {
namespace {

using scrape::EntryType;
using scrape::MetricType;

constexpr std::string_view kUsage =
    "usage: petrel check metrics [--format=prometheus|openmetrics] < body\n"
    "       petrel check config FILE...\n";

// One metric family as the lint sees it: declared by TYPE/HELP/UNIT, or implied by a sample
// whose name belongs to no declared family (untyped, no help).
struct Family {
  std::string name;
  int line = 0;
  MetricType type = MetricType::kUnknown;
  bool typed = false;
  bool has_help = false;
};

// Sample-name suffixes that still belong to the family named without them.
constexpr std::array<std::string_view, 8> kFamilySuffixes = {
    "_total", "_created", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_info"};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool BelongsTo(std::string_view sample_name, std::string_view family) {
  if (sample_name == family) return true;
  if (sample_name.substr(0, family.size()) != family) return false;
  std::string_view rest = sample_name.substr(family.size());
  for (std::string_view s : kFamilySuffixes) {
    if (rest == s) return true;
  }
  return false;
}

bool HasUpper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

// promlint's unit check: a name token that is a non-base unit, or an SI/IEC prefix glued to a
// base unit ("milliseconds"), gets "use base unit".
std::string NonBaseUnitProblem(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kBase = {
      "amperes", "bytes",  "celsius", "grams",   "joules",
      "kelvin",  "meters", "metres",  "seconds", "volts"};
  static constexpr std::array<std::string_view, 4> kTime = {"minutes", "hours", "days", "weeks"};
  static constexpr std::array<std::string_view, 18> kPrefixes = {
      "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo",
      "kibi", "mega", "mebi",  "giga",  "gibi",  "tera", "tebi", "peta",  "pebi"};
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('_', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view tok = name.substr(start, end - start);
    start = end + 1;
    for (std::string_view t : kTime) {
      if (tok == t) return "use base unit \"seconds\" instead of \"" + std::string(tok) + "\"";
    }
    for (std::string_view p : kPrefixes) {
      if (tok.size() <= p.size() || tok.substr(0, p.size()) != p) continue;
      for (std::string_view b : kBase) {
        if (tok.substr(p.size()) == b) {
          return "use base unit \"" + std::string(b) + "\" instead of \"" + std::string(tok) + "\"";
        }
      }
    }
  }
  return "";
}

// The promlint-style problems of one family, each as "<name> <problem>".
std::vector<std::string> LintFamily(const Family& f, CheckFormat format) {
  std::vector<std::string> problems;
  auto add = [&](const std::string& text) { problems.push_back(f.name + " " + text); };
  if (!f.has_help) add("no help text");
  // An OpenMetrics counter family is named without "_total" (its samples carry it).
  if (format == CheckFormat::kPrometheusText && f.typed && f.type == MetricType::kCounter &&
      !EndsWith(f.name, "_total")) {
    add("counter metrics should have \"_total\" suffix");
  }
  if (f.typed && f.type != MetricType::kCounter && EndsWith(f.name, "_total")) {
    add("non-counter metrics should not have \"_total\" suffix");
  }
  if (std::string unit = NonBaseUnitProblem(f.name); !unit.empty()) add(unit);
  if (HasUpper(f.name)) add("metric names should be written in 'snake_case' not 'camelCase'");
  if (f.name.find(':') != std::string::npos) add("metric names should not contain ':'");
  return problems;
}

class Linter {
 public:
  explicit Linter(CheckFormat format) : format_(format) {}

  void OnMetadata(std::string_view family, EntryType type, MetricType mtype, int line) {
    Family& f = Get(family, line);
    if (type == EntryType::kType) {
      f.typed = true;
      f.type = mtype;
    } else if (type == EntryType::kHelp) {
      f.has_help = true;
    }
    current_ = &f;
  }

  void OnSample(const scrape::Parser& p) {
    builder_.Clear();
    p.AddLabels(builder_);
    Labels labels = builder_.Build();
    std::string_view name = labels.Get(kMetricName);
    for (const Label& l : labels) {
      if (l.name != kMetricName && HasUpper(l.name) && camel_labels_.emplace(l.name, 0).second) {
        label_problems_.push_back("line " + std::to_string(p.Line()) + ": " + std::string(name) +
                                  " label names should be written in 'snake_case' not "
                                  "'camelCase'");
      }
    }
    if (current_ != nullptr && BelongsTo(name, current_->name)) return;
    current_ = &Get(name, p.Line());
  }

  void Report(std::ostream& err) const {
    for (const auto& f : families_) {
      for (const std::string& problem : LintFamily(*f, format_)) {
        err << "line " << f->line << ": " << problem << "\n";
      }
    }
    for (const std::string& problem : label_problems_) err << problem << "\n";
  }

 private:
  Family& Get(std::string_view name, int line) {
    auto [it, added] = index_.emplace(std::string(name), families_.size());
    if (added) {
      families_.push_back(std::make_unique<Family>());
      families_.back()->name = std::string(name);
      families_.back()->line = line;
    }
    return *families_[it->second];
  }

  CheckFormat format_;
  std::vector<std::unique_ptr<Family>> families_;  // in order of first appearance
  std::unordered_map<std::string, size_t> index_;  // name -> families_ index
  std::unordered_map<std::string, int> camel_labels_;
  std::vector<std::string> label_problems_;
  Family* current_ = nullptr;
  LabelsBuilder builder_;
};

int CheckMetricsArgs(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                     std::ostream& err) {
  CheckFormat format = CheckFormat::kDetect;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--format=prometheus" || a == "--format=text") {
      format = CheckFormat::kPrometheusText;
    } else if (a == "--format=openmetrics") {
      format = CheckFormat::kOpenMetrics;
    } else if (a == "-h" || a == "--help") {
      out << kUsage;
      return kCheckOk;
    } else {
      err << "petrel check metrics: unexpected argument \"" << a << "\"\n" << kUsage;
      return kCheckUsage;
    }
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    err << "petrel check metrics: cannot read stdin\n";
    return kCheckFailed;
  }
  return CheckMetrics(body, format, out, err);
}

}  // namespace

CheckFormat DetectFormat(std::string_view body) {
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    if (body.substr(start, end - start) == "# EOF") return CheckFormat::kOpenMetrics;
    start = end + 1;
  }
  return CheckFormat::kPrometheusText;
}

int CheckMetrics(std::string_view body, CheckFormat format, std::ostream& out, std::ostream& err) {
  if (format == CheckFormat::kDetect) format = DetectFormat(body);
  std::unique_ptr<scrape::Parser> parser = format == CheckFormat::kOpenMetrics
                                               ? scrape::NewOpenMetricsParser(body, true)
                                               : scrape::NewTextParser(body);
  Linter lint(format);
  for (;;) {
    Result<EntryType> e = parser->Next();
    if (!e.ok()) {
      err << "error: " << e.status().message() << "\n";
      return kCheckFailed;
    }
    switch (*e) {
      case EntryType::kEof:
        lint.Report(err);
        return kCheckOk;
      case EntryType::kSample:
        lint.OnSample(*parser);
        break;
      case EntryType::kType:
      case EntryType::kHelp:
      case EntryType::kUnit:
        lint.OnMetadata(parser->Family(), *e, parser->Type(), parser->Line());
        break;
      case EntryType::kComment:
      case EntryType::kHistogram:  // protobuf only
        break;
    }
  }
}

int CheckConfig(const std::vector<std::string>& files, std::ostream& out, std::ostream& err) {
  int code = kCheckOk;
  for (const std::string& file : files) {
    out << "Checking " << file << "\n";
    Result<config::Config> c = config::Load(file);
    if (c.ok()) {
      out << "  SUCCESS: " << file << " is valid prometheus config file syntax\n";
    } else {
      out.flush();
      err << "  FAILED: " << c.status().message() << "\n";
      code = kCheckFailed;
    }
    out << "\n";
  }
  return code;
}

int RunCheck(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return kCheckUsage;
  }
  if (args[0] == "-h" || args[0] == "--help") {
    out << kUsage;
    return kCheckOk;
  }
  if (args[0] == "metrics") return CheckMetricsArgs(args, in, out, err);
  if (args[0] == "config") {
    std::vector<std::string> files(args.begin() + 1, args.end());
    if (files.empty()) {
      err << "petrel check config: no FILE given\n" << kUsage;
      return kCheckUsage;
    }
    return CheckConfig(files, out, err);
  }
  err << "petrel check: unknown command \"" << args[0] << "\"\n" << kUsage;
  return kCheckUsage;
}

}  // namespace petrel::agent
