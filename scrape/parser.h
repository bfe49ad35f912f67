// Exposition-format parsers: a pull interface over one scrape body
// (../shared/reference/exposition-format.md). The body must outlive the parser; returned views
// point into it. One caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "common/labels.h"
#include "common/status.h"

namespace petrel::scrape {

enum class EntryType { kSample, kType, kHelp, kUnit, kComment, kEof };

enum class MetricType {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateset,
};

class Parser {
 public:
  virtual ~Parser() = default;

  // Advances to the next entry. kEof at the end of the body. kInvalidArgument with
  // "line N: <problem>" on malformed input; the parser is unusable after an error.
  virtual Result<EntryType> Next() = 0;

  // kSample: the raw bytes naming the series (metric name and label block as written in the
  // body), a cheap key for the scrape cache; equal bytes mean an equal label set.
  virtual std::string_view Series() const = 0;
  // kSample: adds "__name__" and every label (unescaped) to b.
  virtual void AddLabels(LabelsBuilder& b) const = 0;
  virtual double Value() const = 0;
  virtual std::optional<int64_t> Timestamp() const = 0;  // ms

  // kType/kHelp/kUnit: the metric family name.
  virtual std::string_view Family() const = 0;
  // kType: the declared type.
  virtual MetricType Type() const = 0;
  // kHelp/kUnit: the (unescaped) text.
  virtual std::string_view Text() const = 0;

  // 1-based line of the current entry.
  virtual int Line() const = 0;
};

// Prometheus text format 0.0.4.
std::unique_ptr<Parser> NewTextParser(std::string_view body);

}  // namespace petrel::scrape
