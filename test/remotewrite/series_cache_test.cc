#include "remotewrite/series_cache.h"

#include <catch2/catch.hpp>

#include "remote.pb.h"
#include "remotewrite/encoder.h"

namespace petrel::remotewrite {
namespace {

TEST_CASE("external labels are added only where the series has no such label", "[remotewrite]") {
  Labels series{{"__name__", "up"}, {"job", "node"}, {"instance", "a:1"}};
  Labels external{{"job", "ext"}, {"cluster", "edge-1"}, {"zone", "z"}};
  Labels merged = MergeExternalLabels(series, external);
  CHECK(merged == Labels{{"__name__", "up"},
                         {"cluster", "edge-1"},
                         {"instance", "a:1"},
                         {"job", "node"},
                         {"zone", "z"}});
  CHECK(MergeExternalLabels(series, Labels{}) == series);
}

TEST_CASE("series cache holds the encoded final labels, stable across re-stores", "[remotewrite]") {
  SeriesCache cache(Labels{{"cluster", "c1"}});
  CHECK(cache.Find(1) == nullptr);
  cache.Store(1, Labels{{"__name__", "up"}}, 0);
  const CachedSeries* first = cache.Find(1);
  REQUIRE(first != nullptr);

  RequestEncoder enc;
  enc.AddSample(first->encoded_labels(), 5, 1);
  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromString(std::string(enc.bytes())));
  REQUIRE(req.timeseries(0).labels_size() == 2);
  CHECK(req.timeseries(0).labels(0).name() == "__name__");
  CHECK(req.timeseries(0).labels(1).name() == "cluster");
  CHECK(req.timeseries(0).labels(1).value() == "c1");

  SECTION("same labels again keep the entry") {
    cache.Store(1, Labels{{"__name__", "up"}}, 0);
    CHECK(cache.Find(1) == first);
  }
  SECTION("other labels replace it; the old entry is retired, not freed") {
    std::string before(first->encoded_labels());
    cache.Store(1, Labels{{"__name__", "down"}}, 0);
    CHECK(cache.Find(1) != first);
    CHECK(first->encoded_labels() == before);
    CHECK(cache.size() == 1);
    auto retired = cache.TakeRetired();
    REQUIRE(retired.size() == 1);
    CHECK(retired[0].get() == first);
    CHECK_FALSE(cache.has_retired());
  }
}

TEST_CASE("series cache Reset forgets series last seen before a segment", "[remotewrite]") {
  SeriesCache cache(Labels{});
  cache.Store(1, Labels{{"__name__", "a"}}, 3);
  cache.Store(2, Labels{{"__name__", "b"}}, 5);
  cache.Store(3, Labels{{"__name__", "c"}}, 4);
  cache.Store(1, Labels{{"__name__", "a"}}, 6);  // seen again later (e.g. in a checkpoint)
  cache.Reset(5);
  CHECK(cache.Find(1) != nullptr);
  CHECK(cache.Find(2) != nullptr);
  CHECK(cache.Find(3) == nullptr);
  CHECK(cache.TakeRetired().size() == 1);
  CHECK(cache.size() == 2);
}

}  // namespace
}  // namespace petrel::remotewrite
