// The remote-write send path's pure parts: the request encoder (labels, samples, snappy),
// checked against protobuf's own parser, and the response side (status classification,
// Retry-After and RW 2.0 written-count headers) on arbitrary bodies and header values.
#include <curl/curl.h>
#include <snappy.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "remote.pb.h"
#include "remotewrite/encoder.h"
#include "remotewrite/http_client.h"

using namespace petrel;  // NOLINT

namespace {

// Consumes bytes from the front of the input.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t Byte() { return n_ ? (--n_, *p_++) : 0; }
  template <typename T>
  T Int() {
    T v{};
    size_t k = std::min(sizeof v, n_);
    std::memcpy(&v, p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  // ascii: bytes are masked to 7 bits (protobuf rejects proto3 strings that are not UTF-8,
  // and label sets always are).
  std::string Str(size_t max, bool ascii = false) {
    size_t k = std::min<size_t>(Byte() % (max + 1), n_);
    std::string s(reinterpret_cast<const char*>(p_), k);
    if (ascii) {
      for (char& c : s) c = static_cast<char>(c & 0x7f);
    }
    p_ += k;
    n_ -= k;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

struct Series {
  Labels labels;
  int64_t t;
  double v;
};

void FuzzEncoder(Input& in) {
  std::vector<Series> series;
  remotewrite::RequestEncoder enc;
  enc.Reset();
  while (!in.empty() && series.size() < 64) {
    std::vector<Label> ls;
    int n = in.Byte() % 6;
    for (int i = 0; i < n; ++i) ls.push_back({in.Str(12, true), in.Str(40, true)});
    Series s{Labels::FromUnsorted(std::move(ls)), in.Int<int64_t>(), in.Int<double>()};
    std::string encoded;
    remotewrite::EncodeLabels(s.labels, &encoded);
    enc.AddSample(encoded, s.t, s.v);
    series.push_back(std::move(s));
  }
  std::string buf;
  const std::string_view compressed = remotewrite::SnappyCompress(enc.bytes(), &buf);
  std::string raw;
  FUZZ_CHECK(snappy::Uncompress(compressed.data(), compressed.size(), &raw));
  FUZZ_CHECK(raw == enc.bytes());

  prometheus::WriteRequest req;
  FUZZ_CHECK(req.ParseFromString(raw));
  FUZZ_CHECK(req.timeseries_size() == static_cast<int>(series.size()));
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& ts = req.timeseries(static_cast<int>(i));
    FUZZ_CHECK(ts.labels_size() == static_cast<int>(series[i].labels.size()));
    int j = 0;
    for (const Label& l : series[i].labels) {
      FUZZ_CHECK(ts.labels(j).name() == l.name && ts.labels(j).value() == l.value);
      ++j;
    }
    FUZZ_CHECK(ts.samples_size() == 1);
    FUZZ_CHECK(ts.samples(0).timestamp() == series[i].t);
    double got = ts.samples(0).value(), want = series[i].v;
    if (std::isnan(want)) {
      FUZZ_CHECK(std::memcmp(&got, &want, sizeof got) == 0);  // bit-exact NaN (stale markers)
    } else {
      FUZZ_CHECK(got == want);
    }
  }
}

void FuzzResponse(Input& in) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  long status = in.Int<int16_t>();
  bool retry_429 = in.Byte() & 1;
  std::string retry_after = in.Str(64);
  std::string body = in.Str(255) + in.Str(255);

  // Retry-After values that once overflowed (now clamped) are in fuzz/corpus/remotewrite.
  auto delay = remotewrite::ParseRetryAfter(retry_after, now);
  FUZZ_CHECK(delay.count() >= 0);
  remotewrite::SendResult r =
      remotewrite::ClassifyResponse(status, body, retry_after, retry_429, now);
  FUZZ_CHECK(r.retry_after.count() >= 0);
  if (status >= 200 && status < 300) FUZZ_CHECK(r.status.ok());
  if (status >= 500 && status < 600) FUZZ_CHECK(r.status.code() == Code::kUnavailable);
  if (!r.status.ok()) {
    // The message quotes at most kMaxBodyInMessage bytes of the body.
    FUZZ_CHECK(r.status.message().size() <= remotewrite::kMaxBodyInMessage + 64);
  }

  // An RW 2.0 written-count header line: taken only whole and valid, never negative.
  std::string line = in.Str(80);
  remotewrite::WrittenCounts counts;
  const bool taken = remotewrite::ParseWrittenHeader(line, &counts);
  FUZZ_CHECK(taken == counts.reported);
  FUZZ_CHECK(counts.samples >= 0 && counts.histograms >= 0 && counts.exemplars >= 0);
  if (taken) FUZZ_CHECK(line.size() > std::string_view("x-prometheus-remote-write-").size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  if (in.Byte() & 1) {
    FuzzResponse(in);
  } else {
    FuzzEncoder(in);
  }
  return 0;
}
