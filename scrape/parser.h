// Exposition-format parsers: a pull interface over one scrape body
// (../shared/reference/exposition-format.md). The body must outlive the parser; returned views
// point into it (or into the parser's scratch space) and stay valid until the next call to
// Next(). One caller at a time.
//
// Parsing a whole body means calling Next() until kEof or an error. Both parsers follow
// Prometheus's model/textparse (promparse.go, openmetricsparse.go) where it is stricter or
// looser than the written spec; the OpenMetrics parser additionally enforces the OpenMetrics 1.0
// rules that the conformance suite checks (shared/conformance/openmetrics).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "common/histogram.h"
#include "common/labels.h"
#include "common/status.h"

namespace petrel::scrape {

// kHistogram: a native histogram sample (protobuf only); Series(), AddLabels(), Timestamp()
// and the exemplar accessors work as for kSample, Value() does not.
enum class EntryType { kSample, kType, kHelp, kUnit, kComment, kEof, kHistogram };

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

// An exemplar attached to a sample (OpenMetrics text or protobuf).
struct Exemplar {
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp;  // ms
};

// The scrape cache as a parser sees it. Its keys must be Series() bytes of samples that a
// parser of the same format (and strictness) accepted before: such bytes are a well-formed
// series, so a sample whose series bytes are known skips label parsing and validation.
// ("Known" is decided by a 128-bit hash of the bytes with a per-process random secret, see
// scrape/scrape_cache.h: equal bytes always match, other bytes with negligible probability.)
class KnownSeries {
 public:
  virtual ~KnownSeries() = default;
  // The caller's entry for these series bytes, or nullptr when unknown.
  virtual void* Find(std::string_view series) = 0;
};

class Parser {
 public:
  virtual ~Parser() = default;

  // Advances to the next entry. kEof at the end of the body. kInvalidArgument with
  // "line N: <problem>" on malformed input; the parser is unusable after an error.
  virtual Result<EntryType> Next() = 0;

  // kSample: the raw bytes naming the series (metric name and label block as written in the
  // body, blanks included), a cheap key for the scrape cache; equal bytes mean an equal label
  // set (as in Prometheus, the le/quantile rewrite below also depends on the TYPE lines).
  virtual std::string_view Series() const = 0;
  // kSample: adds "__name__" and every label with a non-empty value (unescaped) to b. Like
  // Prometheus, the "le" value of a histogram and the "quantile" value of a summary are
  // rewritten in canonical float form ("1" -> "1.0") when they parse as floats; the type is the
  // one of the last TYPE line. A label named twice is a parse error, so b gets each name once.
  virtual void AddLabels(LabelsBuilder& b) const = 0;
  // kSample: the value; every NaN is the canonical quiet NaN 0x7ff8000000000001, never a stale
  // marker.
  virtual double Value() const = 0;
  virtual std::optional<int64_t> Timestamp() const = 0;  // ms

  // kType/kHelp/kUnit: the metric family name (unescaped).
  virtual std::string_view Family() const = 0;
  // kType: the declared type.
  virtual MetricType Type() const = 0;
  // kHelp/kUnit: the (unescaped) text. kComment: the comment line as written.
  virtual std::string_view Text() const = 0;

  // 1-based line of the current entry.
  virtual int Line() const = 0;

  // kSample: fills *e and returns true if the sample carries an exemplar (OpenMetrics only).
  virtual bool GetExemplar(Exemplar* e) const { return false; }
  // kSample/kHistogram: the i-th exemplar of the entry (i from 0 until it returns false). A
  // float series has at most one; a native histogram has its own list or, when that is empty,
  // those of its classic buckets, and only exemplars with a timestamp are returned for it (as
  // Prometheus's protobuf parser does).
  virtual bool GetExemplarAt(size_t i, Exemplar* e) const { return i == 0 && GetExemplar(e); }

  // kHistogram: exactly one of the two is non-null, valid until the next call to Next(). The
  // histogram is compacted as Prometheus's parser does (Compact(0): empty buckets dropped,
  // adjacent spans merged); a GAUGE_HISTOGRAM family gives CounterResetHint::kGauge.
  virtual const Histogram* IntHistogram() const { return nullptr; }
  virtual const FloatHistogram* FloatHistogramValue() const { return nullptr; }
  // kSample/kHistogram: the start ("created") timestamp in ms when the format carries one
  // (protobuf counters, summaries and histograms), else nullopt. Like Prometheus without the
  // created-timestamp-zero-ingestion feature, the scrape loop does not ingest it.
  virtual std::optional<int64_t> CreatedTimestamp() const { return std::nullopt; }

  // Optional: from the next sample on, a line "<series> <value>[ <timestamp>]" whose series
  // bytes `known` finds is returned without parsing its labels (AddLabels still works, by
  // parsing them then). Lines that don't take this path are parsed in full as before, with the
  // same results and errors. Strict OpenMetrics parsing ignores it. `known` must outlive the
  // parser's use of it; nullptr turns it off.
  virtual void SetKnownSeries(KnownSeries* known) {}
  // kSample: what `known` returned for Series(), or nullptr when the sample was parsed in full.
  virtual void* KnownEntry() const { return nullptr; }
};

// Prometheus text format 0.0.4 (also used for text/plain;version=1.0.0).
std::unique_ptr<Parser> NewTextParser(std::string_view body);

// OpenMetrics 1.0 text format: the body must end with "# EOF" (optionally followed by one LF).
// strict (the default) also enforces the spec's family rules that the conformance suite checks
// (grouping, timestamp order, histogram consistency, counter/info/stateset values, exemplar
// placement, no trailing comma). Prometheus's own parser checks only the line syntax, so
// strict=false accepts what Prometheus accepts.
std::unique_ptr<Parser> NewOpenMetricsParser(std::string_view body, bool strict = true);

// Whether the media type of a Content-Type header value is application/openmetrics-text
// (case-insensitive, any version and parameters).
bool ContentTypeIsOpenMetrics(std::string_view content_type);

enum class ExpositionFormat { kPrometheusText, kOpenMetrics, kProtobuf };

// The format Prometheus 3.x picks for a Content-Type header value: text/plain, OpenMetrics or
// delimited protobuf by media type (case-insensitive; parameters are checked for syntax, as Go's
// mime.ParseMediaType does, but otherwise ignored). nullopt for a missing, unparsable or other
// media type: the scrape then uses fallback_scrape_protocol, or fails.
std::optional<ExpositionFormat> FormatFromContentType(std::string_view content_type);

// Options of the protobuf parser, as Prometheus's textparse.ParserOptions.
struct ProtobufOptions {
  // scrape_native_histograms: false parses native histograms as their classic series
  // (_count, _sum, _bucket; just le="+Inf" when there are no classic buckets).
  bool native_histograms = true;
  // always_scrape_classic_histograms: a native histogram that also has classic buckets is
  // followed by its classic series.
  bool keep_classic = false;
};

// The delimited protobuf exposition format (application/vnd.google.protobuf;
// proto=io.prometheus.client.MetricFamily;encoding=delimited): varint-length-prefixed
// MetricFamily messages (scrape/proto/metrics.proto). Yields, per family, kHelp, kUnit (when
// set), kType, then its samples in Prometheus's order: a summary's _count, _sum and quantiles;
// a classic histogram's _count, _sum, _bucket series (+Inf added when missing); a native
// histogram as one kHistogram. Series() is the sorted label set in a compact binary form.
// Errors are kInvalidArgument "protobuf: offset N: <problem>" with N the byte offset in the body.
std::unique_ptr<Parser> NewProtobufParser(std::string_view body, ProtobufOptions options = {});

// The parser for a scrape reply, as lenient as Prometheus (OpenMetrics with strict=false):
// OpenMetrics for application/openmetrics-text, protobuf (with `protobuf` options) for
// application/vnd.google.protobuf, the text parser for anything else (text/plain, a missing or
// unrecognised Content-Type: the Prometheus 2.x fallback; Prometheus 3.x fails such scrapes unless
// fallback_scrape_protocol is set, which is the caller's decision to make before calling this).
std::unique_ptr<Parser> NewParser(std::string_view content_type, std::string_view body,
                                  ProtobufOptions protobuf = {});

}  // namespace petrel::scrape
