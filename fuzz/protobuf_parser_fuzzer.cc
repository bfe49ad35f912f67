// The protobuf exposition parser (delimited io.prometheus.client.MetricFamily messages), driven
// as the scrape loop drives it. Besides no crash, leak or UB, it checks the parser's contracts:
// errors name a byte offset, every sample has a metric name and no empty label value, a NaN
// value is the canonical one (never a stale marker), a native histogram comes as exactly one of
// the integer and float forms and passes Prometheus's validation, and what the WAL's histogram
// records encode decodes back to the same histogram.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "scrape/native_histogram.h"
#include "scrape/parser.h"
#include "wal/records.h"

namespace {

using petrel::FloatHistogram;
using petrel::Histogram;
using petrel::kCustomBucketsSchema;

// The WAL keeps schemas -4..8 and custom buckets as they are (it reduces 9..52 on read).
bool KeptAsIs(int32_t schema) {
  return (schema >= -4 && schema <= 8) || schema == kCustomBucketsSchema;
}

void CheckHistogram(const Histogram& h) {
  FUZZ_CHECK(petrel::scrape::ValidateHistogram(h).empty());
  if (!KeptAsIs(h.schema)) return;
  petrel::wal::RefHistogramSample in{1, 1000, h};
  std::string rec, again;
  petrel::wal::EncodeHistogramSamples(std::span(&in, 1), &rec);
  std::vector<petrel::wal::RefHistogramSample> out;
  FUZZ_CHECK(petrel::wal::DecodeHistogramSamples(rec, &out).ok());
  FUZZ_CHECK(out.size() == 1);
  // A NaN sum (allowed: it relaxes the count check) or zero threshold (taken as sent, as
  // Prometheus does) does not compare equal to itself.
  bool nan = std::isnan(h.sum) || std::isnan(h.zero_threshold);
  for (double v : h.custom_values) nan = nan || std::isnan(v);
  if (!nan) FUZZ_CHECK(out[0].h == h);
  petrel::wal::EncodeHistogramSamples(std::span(out.data(), 1), &again);
  FUZZ_CHECK(again == rec);
}

void CheckHistogram(const FloatHistogram& h) {
  FUZZ_CHECK(petrel::scrape::ValidateHistogram(h).empty());
  if (!KeptAsIs(h.schema)) return;
  // NaN counts or sums do not compare equal to themselves: compare the records instead.
  petrel::wal::RefFloatHistogramSample in{1, 1000, h};
  std::string rec, again;
  petrel::wal::EncodeFloatHistogramSamples(std::span(&in, 1), &rec);
  std::vector<petrel::wal::RefFloatHistogramSample> out;
  FUZZ_CHECK(petrel::wal::DecodeFloatHistogramSamples(rec, &out).ok());
  FUZZ_CHECK(out.size() == 1);
  petrel::wal::EncodeFloatHistogramSamples(std::span(out.data(), 1), &again);
  FUZZ_CHECK(again == rec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  petrel::scrape::ProtobufOptions options;
  options.native_histograms = (data[0] & 1) != 0;
  options.keep_classic = (data[0] & 2) != 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parser = petrel::scrape::NewProtobufParser(body, options);
  petrel::LabelsBuilder b;
  for (int entries = 0;; ++entries) {
    petrel::Result<petrel::scrape::EntryType> e = parser->Next();
    if (!e.ok()) {
      FUZZ_CHECK(e.status().code() == petrel::Code::kInvalidArgument);
      FUZZ_CHECK(e.status().message().rfind("protobuf: offset ", 0) == 0);
      return 0;
    }
    using petrel::scrape::EntryType;
    if (*e == EntryType::kEof) return 0;
    if (*e != EntryType::kSample && *e != EntryType::kHistogram) continue;
    (void)parser->Series().size();
    b.Clear();
    parser->AddLabels(b);
    petrel::Labels labels = b.Build();
    FUZZ_CHECK(!labels.Get(petrel::kMetricName).empty());
    for (const petrel::Label& l : labels) FUZZ_CHECK(!l.value.empty());
    (void)parser->Timestamp();
    (void)parser->CreatedTimestamp();
    petrel::scrape::Exemplar ex;
    for (size_t i = 0; i < 1000 && parser->GetExemplarAt(i, &ex); ++i) (void)ex.labels.size();
    if (*e == EntryType::kSample) {
      double v = parser->Value();
      if (std::isnan(v)) {
        uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        FUZZ_CHECK(bits == 0x7ff8000000000001ULL);  // canonical NaN, never a stale marker
      }
      continue;
    }
    const Histogram* h = parser->IntHistogram();
    const FloatHistogram* fh = parser->FloatHistogramValue();
    FUZZ_CHECK((h == nullptr) != (fh == nullptr));
    if (h != nullptr) CheckHistogram(*h);
    if (fh != nullptr) CheckHistogram(*fh);
  }
}
