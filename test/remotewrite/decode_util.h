// Test helpers: the samples, histograms, exemplars and metadata of decoded RW 1.0 and RW 2.0
// requests, turned back into petrel's model with the protoc-generated classes (remote.proto and
// write_v2.proto, written from the spec), so tests compare what was sent with what was appended.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "common/labels.h"
#include "remote.pb.h"
#include "write_v2.pb.h"

namespace petrel::remotewrite::testing {

// One item of a request: a sample, an (integer or float) histogram or an exemplar.
struct Item {
  enum Kind { kSample, kHistogram, kFloatHistogram, kExemplar } kind = kSample;
  std::string series;  // "a=1,b=2,"
  int64_t t = 0;
  double v = 0;                 // sample or exemplar value (NaN compared bitwise by tests)
  Histogram h;                  // kHistogram
  FloatHistogram fh;            // kFloatHistogram
  std::string exemplar_labels;  // kExemplar: "trace_id=x,"
  // RW 2.0 metadata of the series ("" for RW 1.0).
  std::string metadata;  // "type/help/unit"
  bool operator==(const Item&) const = default;
};

inline Item SampleItem(std::string series, int64_t t, double v, std::string metadata = "") {
  Item i;
  i.kind = Item::kSample;
  i.series = std::move(series);
  i.t = t;
  i.v = v;
  i.metadata = std::move(metadata);
  return i;
}
inline Item HistogramItem(std::string series, int64_t t, const Histogram& h,
                          std::string metadata = "") {
  Item i = SampleItem(std::move(series), t, 0, std::move(metadata));
  i.kind = Item::kHistogram;
  i.h = h;
  return i;
}
inline Item FloatHistogramItem(std::string series, int64_t t, const FloatHistogram& h,
                               std::string metadata = "") {
  Item i = SampleItem(std::move(series), t, 0, std::move(metadata));
  i.kind = Item::kFloatHistogram;
  i.fh = h;
  return i;
}
inline Item ExemplarItem(std::string series, int64_t t, double v, std::string labels,
                         std::string metadata = "") {
  Item i = SampleItem(std::move(series), t, v, std::move(metadata));
  i.kind = Item::kExemplar;
  i.exemplar_labels = std::move(labels);
  return i;
}

inline std::string Render(const Labels& labels) {
  std::string out;
  for (const Label& l : labels) out += l.name + "=" + l.value + ",";
  return out;
}

template <typename Spans>
std::vector<HistogramSpan> ToSpans(const Spans& spans) {
  std::vector<HistogramSpan> out;
  for (const auto& s : spans) out.push_back({s.offset(), s.length()});
  return out;
}

// Both histogram messages have the same fields; P is prometheus::Histogram or the v2 one.
template <typename P>
void ToModel(const P& p, Item* item) {
  const bool is_float = p.has_count_float() || p.has_zero_count_float() ||
                        p.positive_counts_size() + p.negative_counts_size() > 0;
  // A histogram carries the integer or the float oneofs, never a mix.
  CHECK((p.has_count_int() && p.has_zero_count_int()) !=
        (p.has_count_float() && p.has_zero_count_float()));
  if (is_float) {
    item->kind = Item::kFloatHistogram;
    FloatHistogram& h = item->fh;
    h.hint = static_cast<CounterResetHint>(p.reset_hint());
    h.schema = p.schema();
    h.zero_threshold = p.zero_threshold();
    h.zero_count = p.zero_count_float();
    h.count = p.count_float();
    h.sum = p.sum();
    h.positive_spans = ToSpans(p.positive_spans());
    h.negative_spans = ToSpans(p.negative_spans());
    h.positive_buckets.assign(p.positive_counts().begin(), p.positive_counts().end());
    h.negative_buckets.assign(p.negative_counts().begin(), p.negative_counts().end());
    h.custom_values.assign(p.custom_values().begin(), p.custom_values().end());
  } else {
    item->kind = Item::kHistogram;
    Histogram& h = item->h;
    h.hint = static_cast<CounterResetHint>(p.reset_hint());
    h.schema = p.schema();
    h.zero_threshold = p.zero_threshold();
    h.zero_count = p.zero_count_int();
    h.count = p.count_int();
    h.sum = p.sum();
    h.positive_spans = ToSpans(p.positive_spans());
    h.negative_spans = ToSpans(p.negative_spans());
    h.positive_buckets.assign(p.positive_deltas().begin(), p.positive_deltas().end());
    h.negative_buckets.assign(p.negative_deltas().begin(), p.negative_deltas().end());
    h.custom_values.assign(p.custom_values().begin(), p.custom_values().end());
  }
  item->t = p.timestamp();
}

inline std::vector<Item> Items(const prometheus::WriteRequest& req) {
  std::vector<Item> out;
  for (const auto& ts : req.timeseries()) {
    std::string series;
    for (const auto& l : ts.labels()) series += l.name() + "=" + l.value() + ",";
    for (const auto& s : ts.samples()) {
      Item i = SampleItem(series, s.timestamp(), s.value());
      out.push_back(i);
    }
    for (const auto& h : ts.histograms()) {
      Item i = SampleItem(series, 0, 0);
      ToModel(h, &i);
      out.push_back(i);
    }
    for (const auto& e : ts.exemplars()) {
      Item i = ExemplarItem(series, e.timestamp(), e.value(), "");
      for (const auto& l : e.labels()) i.exemplar_labels += l.name() + "=" + l.value() + ",";
      out.push_back(i);
    }
  }
  return out;
}

inline std::vector<Item> Items(const io::prometheus::write::v2::Request& req) {
  std::vector<Item> out;
  const int n = req.symbols_size();
  REQUIRE(n > 0);
  CHECK(req.symbols(0).empty());
  auto sym = [&](uint32_t ref) {
    REQUIRE(static_cast<int>(ref) < n);
    return req.symbols(static_cast<int>(ref));
  };
  auto render = [&](const auto& refs) {
    REQUIRE(refs.size() % 2 == 0);
    std::string s;
    for (int i = 0; i < refs.size(); i += 2) s += sym(refs[i]) + "=" + sym(refs[i + 1]) + ",";
    return s;
  };
  for (const auto& ts : req.timeseries()) {
    const std::string series = render(ts.labels_refs());
    // The spec: samples or histograms, never both, and at least one of them (a TimeSeries with
    // only exemplars is refused by receivers).
    CHECK_FALSE((ts.samples_size() > 0 && ts.histograms_size() > 0));
    CHECK(ts.samples_size() + ts.histograms_size() > 0);
    std::string metadata;
    if (ts.has_metadata()) {
      metadata = std::to_string(ts.metadata().type()) + "/" + sym(ts.metadata().help_ref()) + "/" +
                 sym(ts.metadata().unit_ref());
    }
    for (const auto& s : ts.samples()) {
      CHECK(s.start_timestamp() == 0);
      Item i = SampleItem(series, s.timestamp(), s.value());
      i.metadata = metadata;
      out.push_back(i);
    }
    for (const auto& h : ts.histograms()) {
      Item i = SampleItem(series, 0, 0);
      ToModel(h, &i);
      i.metadata = metadata;
      out.push_back(i);
    }
    for (const auto& e : ts.exemplars()) {
      Item i = ExemplarItem(series, e.timestamp(), e.value(), "");
      i.exemplar_labels = render(e.labels_refs());
      i.metadata = metadata;
      out.push_back(i);
    }
  }
  return out;
}

}  // namespace petrel::remotewrite::testing
