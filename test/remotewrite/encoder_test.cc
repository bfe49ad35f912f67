#include "remotewrite/encoder.h"

#include <snappy.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "remote.pb.h"

namespace petrel::remotewrite {
namespace {

constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;

struct In {
  Labels labels;
  int64_t t;
  double v;
};

prometheus::WriteRequest Decode(std::string_view bytes) {
  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  return req;
}

std::string Encode(const std::vector<In>& in) {
  RequestEncoder enc;
  std::string labels;
  for (const In& s : in) {
    labels.clear();
    EncodeLabels(s.labels, &labels);
    enc.AddSample(labels, s.t, s.v);
  }
  return std::string(enc.bytes());
}

TEST_CASE("encoded request decodes to the same samples, one TimeSeries each", "[remotewrite]") {
  const double stale = std::bit_cast<double>(kStaleNaNBits);
  std::vector<In> in = {
      {{{"__name__", "up"}, {"job", "node"}}, 1700000000000, 1.0},
      {{{"job", "node"}, {"__name__", "up"}, {"instance", "a:9100"}}, -1234567, -2.5},
      {{{"__name__", "zero"}}, 0, 0.0},
      {{{"__name__", "negzero"}}, 5, -0.0},
      {{{"__name__", "stale"}, {"le", "+Inf"}}, std::numeric_limits<int64_t>::min(), stale},
      {{{"__name__", "big"}, {"v", std::string(300, 'x')}},
       std::numeric_limits<int64_t>::max(),
       std::numeric_limits<double>::infinity()},
  };
  auto req = Decode(Encode(in));
  REQUIRE(req.timeseries_size() == static_cast<int>(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    INFO("series " << i);
    const auto& ts = req.timeseries(static_cast<int>(i));
    REQUIRE(ts.labels_size() == static_cast<int>(in[i].labels.size()));
    for (size_t j = 0; j < in[i].labels.size(); ++j) {
      CHECK(ts.labels(static_cast<int>(j)).name() == in[i].labels.items()[j].name);
      CHECK(ts.labels(static_cast<int>(j)).value() == in[i].labels.items()[j].value);
    }
    REQUIRE(ts.samples_size() == 1);
    CHECK(ts.samples(0).timestamp() == in[i].t);
    if (std::isnan(in[i].v)) {
      CHECK(std::bit_cast<uint64_t>(ts.samples(0).value()) == std::bit_cast<uint64_t>(in[i].v));
    } else {
      CHECK(ts.samples(0).value() == in[i].v);
    }
  }
  // Labels come out sorted whatever order they were given in.
  CHECK(req.timeseries(1).labels(0).name() == "__name__");
  CHECK(req.timeseries(1).labels(1).name() == "instance");
  CHECK(req.timeseries(1).labels(2).name() == "job");
}

TEST_CASE("encoder output is byte-identical to protobuf's serialization", "[remotewrite]") {
  std::vector<In> in = {
      {{{"__name__", "up"}, {"job", "node"}}, 1700000000000, 1.0},
      {{{"__name__", "a"}}, 0, 0.0},
      {{{"__name__", "b"}}, -1, -0.0},
      {{{"__name__", "c"}, {"x", "y"}}, 42, std::bit_cast<double>(kStaleNaNBits)},
  };
  prometheus::WriteRequest want;
  for (const In& s : in) {
    auto* ts = want.add_timeseries();
    for (const Label& l : s.labels) {
      auto* pl = ts->add_labels();
      pl->set_name(l.name);
      pl->set_value(l.value);
    }
    auto* sample = ts->add_samples();
    // gogo's marshaler omits -0.0 like 0.0; the C++ runtime would write -0.0, so normalise.
    sample->set_value(s.v == 0 ? 0.0 : s.v);
    sample->set_timestamp(s.t);
  }
  std::string want_bytes;
  REQUIRE(want.SerializeToString(&want_bytes));
  CHECK(Encode(in) == want_bytes);
}

TEST_CASE("random requests are byte-identical to protobuf's serialization", "[remotewrite]") {
  std::mt19937_64 rng(42);  // fixed seed: deterministic
  auto text = [&](size_t max_len) {
    std::string s;
    const size_t len = 1 + rng() % max_len;
    while (s.size() < len)
      s += rng() % 8 == 0 ? "é" : std::string(1, static_cast<char>('!' + rng() % 90));
    return s;
  };
  for (int round = 0; round < 50; ++round) {
    std::vector<In> in;
    const size_t n = 1 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      std::vector<Label> labels;
      const size_t nl = rng() % 12;
      for (size_t j = 0; j < nl; ++j) labels.push_back({text(20), text(rng() % 4 == 0 ? 400 : 30)});
      double v = std::bit_cast<double>(rng());
      if (rng() % 5 == 0) v = 0;
      int64_t t = rng() % 5 == 0 ? 0 : static_cast<int64_t>(rng());
      in.push_back({Labels::FromUnsorted(std::move(labels)), t, v});
    }
    prometheus::WriteRequest want;
    for (const In& s : in) {
      auto* ts = want.add_timeseries();
      for (const Label& l : s.labels) {
        auto* pl = ts->add_labels();
        pl->set_name(l.name);
        pl->set_value(l.value);
      }
      auto* sample = ts->add_samples();
      sample->set_value(s.v == 0 ? 0.0 : s.v);
      sample->set_timestamp(s.t);
    }
    std::string want_bytes;
    REQUIRE(want.SerializeToString(&want_bytes));
    INFO("round " << round);
    REQUIRE(Encode(in) == want_bytes);
  }
}

TEST_CASE("zero value and zero timestamp are omitted from the wire", "[remotewrite]") {
  std::string labels;
  EncodeLabels(Labels{{"__name__", "z"}}, &labels);
  RequestEncoder enc;
  enc.AddSample(labels, 0, 0.0);
  std::string_view b = enc.bytes();
  // timeseries tag, len, labels, samples tag, len 0
  REQUIRE(b.size() == 2 + labels.size() + 2);
  CHECK(b.substr(b.size() - 2) == std::string_view("\x12\x00", 2));
  auto req = Decode(b);
  CHECK(req.timeseries(0).samples(0).value() == 0.0);
  CHECK(req.timeseries(0).samples(0).timestamp() == 0);
}

TEST_CASE("reference example encodes to the documented 49 bytes", "[remotewrite]") {
  // shared/reference/remote-write.md §9
  std::string labels;
  EncodeLabels(Labels{{"__name__", "up"}, {"job", "node"}}, &labels);
  RequestEncoder enc;
  enc.AddSample(labels, 1700000000000, 1.0);
  const unsigned char want[] = {0x0a, 0x2f, 0x0a, 0x0e, 0x0a, 0x08, '_',  '_',  'n',  'a',
                                'm',  'e',  '_',  '_',  0x12, 0x02, 'u',  'p',  0x0a, 0x0b,
                                0x0a, 0x03, 'j',  'o',  'b',  0x12, 0x04, 'n',  'o',  'd',
                                'e',  0x12, 0x10, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                0xf0, 0x3f, 0x10, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31};
  CHECK(enc.bytes() == std::string_view(reinterpret_cast<const char*>(want), sizeof(want)));
}

TEST_CASE("Reset reuses the buffer for the next request", "[remotewrite]") {
  std::string labels;
  EncodeLabels(Labels{{"__name__", "m"}}, &labels);
  RequestEncoder enc;
  for (int i = 0; i < 100; ++i) enc.AddSample(labels, i + 1, i);
  enc.Reset();
  CHECK(enc.bytes().empty());
  enc.AddSample(labels, 7, 3.0);
  auto req = Decode(enc.bytes());
  REQUIRE(req.timeseries_size() == 1);
  CHECK(req.timeseries(0).samples(0).timestamp() == 7);
}

TEST_CASE("snappy block compression round-trips and is not the framed format", "[remotewrite]") {
  std::string labels;
  EncodeLabels(Labels{{"__name__", "http_requests_total"}, {"code", "200"}}, &labels);
  RequestEncoder enc;
  for (int i = 0; i < 1000; ++i) enc.AddSample(labels, 1700000000000 + i * 15000, i * 0.5);
  // Starts with leftovers, and is reused below for a shorter output: the view is exact.
  std::string buf = "stale contents";
  std::string_view compressed = SnappyCompress(enc.bytes(), &buf);
  CHECK(compressed.size() < enc.bytes().size());
  CHECK(compressed.rfind("\xff\x06\x00\x00sNaPpY", 0) == std::string::npos);
  size_t ulen = 0;
  REQUIRE(snappy::GetUncompressedLength(compressed.data(), compressed.size(), &ulen));
  CHECK(ulen == enc.bytes().size());
  std::string out;
  REQUIRE(snappy::Uncompress(compressed.data(), compressed.size(), &out));
  CHECK(out == enc.bytes());

  SECTION("empty input") {
    compressed = SnappyCompress("", &buf);
    CHECK(buf.size() > compressed.size());
    REQUIRE(snappy::Uncompress(compressed.data(), compressed.size(), &out));
    CHECK(out.empty());
  }
}

TEST_CASE("metadata encodes as WriteRequest.metadata, empty fields omitted", "[remotewrite]") {
  using Type = MetricMetadata::Type;
  RequestEncoder enc;
  enc.AddMetadata({Type::kCounter, "http_requests", "Requests served.", ""});
  enc.AddMetadata({Type::kStateSet, "feature", "", ""});
  enc.AddMetadata({Type::kUnknown, "mystery", "Who knows.", "bytes"});
  prometheus::WriteRequest req = Decode(enc.bytes());
  CHECK(req.timeseries_size() == 0);
  REQUIRE(req.metadata_size() == 3);
  CHECK(req.metadata(0).type() == prometheus::MetricMetadata::COUNTER);
  CHECK(req.metadata(0).metric_family_name() == "http_requests");
  CHECK(req.metadata(0).help() == "Requests served.");
  CHECK(req.metadata(0).unit().empty());
  CHECK(req.metadata(1).type() == prometheus::MetricMetadata::STATESET);
  CHECK(req.metadata(2).type() == prometheus::MetricMetadata::UNKNOWN);
  CHECK(req.metadata(2).unit() == "bytes");
  // Byte-identical to protobuf's own encoding (fields in number order, zero type omitted).
  CHECK(std::string(enc.bytes()) == req.SerializeAsString());
}

}  // namespace
}  // namespace petrel::remotewrite
