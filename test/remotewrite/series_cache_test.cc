#include "remotewrite/series_cache.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "remote.pb.h"
#include "remotewrite/encoder.h"

namespace petrel::remotewrite {
namespace {

// The labels of an entry as the RW 1.0 encoder sends them.
std::vector<std::pair<std::string, std::string>> Sent(const SeriesCache& cache,
                                                      const CachedSeries& s) {
  RequestEncoder enc;
  enc.AddSample(cache.LabelsOf(s), 5, 1);
  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromString(std::string(enc.bytes())));
  REQUIRE(req.timeseries_size() == 1);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& l : req.timeseries(0).labels()) out.emplace_back(l.name(), l.value());
  return out;
}

// EncodeLabels of the final labels: what the cache's pairs must add up to, byte for byte.
std::string Encoded(const SeriesCache& cache, const CachedSeries& s) {
  std::string out;
  const PairedLabels labels = cache.LabelsOf(s);
  labels.ForEach([&](uint32_t id) { out += labels.table->encoded(id); });
  CHECK(out.size() == labels.encoded_size);
  return out;
}

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

TEST_CASE("series cache holds the final labels, stable across re-stores", "[remotewrite]") {
  SeriesCache cache(Labels{{"cluster", "c1"}});
  CHECK(cache.Find(1) == nullptr);
  cache.Store(1, Labels{{"__name__", "up"}}, 0);
  const CachedSeries* first = cache.Find(1);
  REQUIRE(first != nullptr);
  CHECK_FALSE(first->dropped());
  using P = std::vector<std::pair<std::string, std::string>>;
  CHECK(Sent(cache, *first) == P{{"__name__", "up"}, {"cluster", "c1"}});
  std::string expect;
  EncodeLabels(Labels{{"__name__", "up"}, {"cluster", "c1"}}, &expect);
  CHECK(Encoded(cache, *first) == expect);

  SECTION("same labels again keep the entry and add no pair reference") {
    cache.Store(1, Labels{{"__name__", "up"}}, 0);
    CHECK(cache.Find(1) == first);
    CHECK(cache.pairs().size() == 2);
    cache.LabelsOf(*first).ForEach([&](uint32_t id) { CHECK(cache.pairs().refs(id) == 1); });
    CHECK_FALSE(cache.has_retired());
  }
  SECTION("other labels replace it; the old entry is retired, not freed") {
    cache.Store(1, Labels{{"__name__", "down"}}, 0);
    CHECK(cache.Find(1) != first);
    CHECK(Sent(cache, *first) == P{{"__name__", "up"}, {"cluster", "c1"}});
    CHECK(Sent(cache, *cache.Find(1)) == P{{"__name__", "down"}, {"cluster", "c1"}});
    CHECK(cache.size() == 1);
    REQUIRE(cache.has_retired());
    const uint64_t ticket = cache.TakeRetired();
    CHECK_FALSE(cache.has_retired());
    CHECK(cache.retired() == 1);
    CHECK(cache.pairs().size() == 3);  // up's pair lives while the retired entry does
    cache.FreeRetired(ticket);
    CHECK(cache.retired() == 0);
    CHECK(cache.pairs().size() == 2);
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
  CHECK(cache.retired() == 1);
  CHECK(cache.size() == 2);
  cache.FreeRetired(cache.TakeRetired());
  CHECK(cache.pairs().size() == 2);
}

TEST_CASE("series cache interns label pairs shared by series and external labels",
          "[remotewrite]") {
  SeriesCache cache(Labels{{"cluster", "edge-1"}, {"job", "ext"}});
  cache.Store(1, Labels{{"__name__", "cpu"}, {"cpu", "0"}, {"job", "node"}}, 0);
  cache.Store(2, Labels{{"__name__", "cpu"}, {"cpu", "1"}, {"job", "node"}}, 0);
  cache.Store(3, Labels{{"__name__", "up"}}, 0);  // takes job=ext: series labels win above
  // __name__=cpu, cpu=0, cpu=1, job=node, cluster=edge-1, __name__=up, job=ext
  CHECK(cache.pairs().size() == 7);
  using P = std::vector<std::pair<std::string, std::string>>;
  CHECK(Sent(cache, *cache.Find(1)) ==
        P{{"__name__", "cpu"}, {"cluster", "edge-1"}, {"cpu", "0"}, {"job", "node"}});
  CHECK(Sent(cache, *cache.Find(2)) ==
        P{{"__name__", "cpu"}, {"cluster", "edge-1"}, {"cpu", "1"}, {"job", "node"}});
  CHECK(Sent(cache, *cache.Find(3)) ==
        P{{"__name__", "up"}, {"cluster", "edge-1"}, {"job", "ext"}});
  for (wal::SeriesRef ref : {1, 2}) {
    std::string expect;
    EncodeLabels(MergeExternalLabels(
                     Labels{{"__name__", "cpu"}, {"cpu", ref == 1 ? "0" : "1"}, {"job", "node"}},
                     Labels{{"cluster", "edge-1"}, {"job", "ext"}}),
                 &expect);
    CHECK(Encoded(cache, *cache.Find(ref)) == expect);
  }
  std::vector<uint32_t> one, two;
  cache.LabelsOf(*cache.Find(1)).ForEach([&](uint32_t id) { one.push_back(id); });
  cache.LabelsOf(*cache.Find(2)).ForEach([&](uint32_t id) { two.push_back(id); });
  REQUIRE(one.size() == 4);
  REQUIRE(two.size() == 4);
  CHECK(one[0] == two[0]);  // __name__=cpu
  CHECK(one[1] == two[1]);  // cluster=edge-1
  CHECK(one[2] != two[2]);  // cpu
  CHECK(one[3] == two[3]);  // job=node
  CHECK(cache.pairs().refs(one[1]) == 3);
}

TEST_CASE("series cache interns the labels write_relabel_configs leave", "[remotewrite]") {
  config::RelabelConfig drop;
  drop.source_labels = {"i"};
  drop.regex = *config::Regex::Compile("0");
  drop.action = config::RelabelAction::kDrop;
  config::RelabelConfig rename;
  rename.source_labels = {"cluster", "i"};
  rename.separator = "/";
  rename.target_label = "where";
  config::RelabelConfig drop_job;
  drop_job.regex = *config::Regex::Compile("job");
  drop_job.action = config::RelabelAction::kLabelDrop;
  for (const auto& r : {drop, rename, drop_job}) REQUIRE(config::Validate(r).ok());
  SeriesCache cache(Labels{{"cluster", "c"}}, {drop, rename, drop_job});
  cache.Store(1, Labels{{"__name__", "m"}, {"i", "0"}, {"job", "j"}}, 0);
  cache.Store(2, Labels{{"__name__", "m"}, {"i", "1"}, {"job", "j"}}, 0);
  REQUIRE(cache.Find(1) != nullptr);
  CHECK(cache.Find(1)->dropped());
  CHECK(cache.LabelsOf(*cache.Find(1)).encoded_size == 0);
  using P = std::vector<std::pair<std::string, std::string>>;
  CHECK(Sent(cache, *cache.Find(2)) ==
        P{{"__name__", "m"}, {"cluster", "c"}, {"i", "1"}, {"where", "c/1"}});
  CHECK(cache.pairs().size() == 4);  // job=j and i=0 are not kept

  SECTION("a dropped series stored again with labels the rules keep is replaced") {
    cache.Store(1, Labels{{"__name__", "m"}, {"i", "2"}}, 0);
    CHECK_FALSE(cache.Find(1)->dropped());
    CHECK(cache.has_retired());
  }
}

// Series that change every scrape (a label with the scrape's timestamp, say) for a long time:
// each round's series are forgotten by a later Reset, and their pairs go once no retired entry
// holds them, so the table stays at about two rounds' worth.
TEST_CASE("series cache pair table stays bounded under churn", "[remotewrite]") {
  SeriesCache cache(Labels{{"cluster", "c"}});
  constexpr int kPerRound = 500;
  wal::SeriesRef ref = 1;
  std::vector<uint64_t> tickets;
  size_t max_bound = 0, max_chunks = 0;
  for (uint32_t round = 0; round < 200; ++round) {
    for (int i = 0; i < kPerRound; ++i) {
      cache.Store(ref++,
                  Labels{{"__name__", "churn"},
                         {"pod", "p" + std::to_string(round) + "-" + std::to_string(i)},
                         {"job", "j"}},
                  round);
    }
    cache.Reset(round);  // forgets the previous round
    tickets.push_back(cache.TakeRetired());
    if (tickets.size() > 2) {  // the queue frees a grave once its samples are sent
      cache.FreeRetired(tickets[tickets.size() - 3]);
    }
    max_bound = std::max(max_bound, cache.pairs().id_bound());
    max_chunks = std::max(max_chunks, cache.index().chunks());
    CHECK(cache.size() == kPerRound);
  }
  // While a round is stored: it, the round before (live until the Reset) and two retired ones.
  CHECK(max_bound <= 4 * kPerRound + 3);
  CHECK(cache.pairs().size() <= 3 * kPerRound + 3);
  CHECK(max_chunks <= 3 * kPerRound / RefIndex::kChunkSize + 3);
  CHECK(cache.index().sparse() == 0);
  cache.FreeRetired(tickets.back());
  CHECK(cache.pairs().size() == kPerRound + 3);
  CHECK(cache.retired() == 0);
}

TEST_CASE("series cache ref index keeps sparse refs out of chunks", "[remotewrite]") {
  SeriesCache cache(Labels{});
  SECTION("refs 4096 apart") {
    for (wal::SeriesRef i = 0; i < 20000; ++i) {
      cache.Store(i * 4096 + 7, Labels{{"__name__", "m"}, {"i", std::to_string(i)}}, 0);
    }
    // A chunk holds one series here: chunks stay within 2 slots (16 bytes) per series.
    CHECK(cache.index().chunks() * RefIndex::kChunkSize <= 2 * 20000 + 16 * RefIndex::kChunkSize);
    CHECK(cache.index().sparse() >= 20000 - 2 * 20000 / RefIndex::kChunkSize - 16);
    for (wal::SeriesRef i = 0; i < 20000; i += 97) {
      const CachedSeries* s = cache.Find(i * 4096 + 7);
      REQUIRE(s != nullptr);
      CHECK(Sent(cache, *s)[1].second == std::to_string(i));
      CHECK(cache.Find(i * 4096 + 8) == nullptr);
    }
  }
  SECTION("sparse refs first, then a dense run over their chunks") {
    for (wal::SeriesRef i = 1; i <= 100; ++i) cache.Store(i * 4096, Labels{{"s", "1"}}, 0);
    CHECK(cache.index().sparse() == 100 - 16);
    for (wal::SeriesRef r = 1; r <= 100 * 4096; ++r) {
      if (r % 4096 != 0) cache.Store(r, Labels{{"d", "1"}}, 1);
    }
    CHECK(cache.size() == 100 * 4096);
    // The run is chunked once the series count allows (a chunk's worth may wait in the map).
    CHECK(cache.index().sparse() < 3000);
    CHECK(cache.index().chunks() <= 100 * 4096 / RefIndex::kChunkSize);
    for (wal::SeriesRef i = 1; i <= 100; ++i) {
      REQUIRE(cache.Find(i * 4096) != nullptr);
      CHECK(Sent(cache, *cache.Find(i * 4096))[0].first == "s");
      cache.Store(i * 4096, Labels{{"s", "2"}}, 1);  // replaced in place
      CHECK(Sent(cache, *cache.Find(i * 4096))[0].second == "2");
    }
    cache.Reset(1);
    CHECK(cache.size() == 100 * 4096);
    CHECK(cache.retired() == 100);
    cache.FreeRetired(cache.TakeRetired());
    CHECK(cache.pairs().size() == 2);
  }
  SECTION("huge refs and a dense run") {
    const std::vector<wal::SeriesRef> huge = {UINT64_MAX, UINT64_MAX - 1, uint64_t{1} << 63,
                                              uint64_t{1} << 40};
    for (wal::SeriesRef r : huge) cache.Store(r, Labels{{"r", std::to_string(r)}}, 0);
    for (wal::SeriesRef r = 1; r <= 100000; ++r) {
      cache.Store(r, Labels{{"__name__", "m"}, {"cpu", std::to_string(r % 8)}}, 0);
    }
    CHECK(cache.size() == 100000 + huge.size());
    // Dense refs take about one slot each.
    CHECK(cache.index().chunks() <= 100000 / RefIndex::kChunkSize + 1 + huge.size());
    for (wal::SeriesRef r : huge) {
      REQUIRE(cache.Find(r) != nullptr);
      CHECK(Sent(cache, *cache.Find(r))[0].second == std::to_string(r));
    }
    CHECK(cache.Find(0) == nullptr);
    CHECK(cache.Find(100001) == nullptr);
    CHECK(cache.Find(UINT64_MAX - 2) == nullptr);
    cache.Reset(1);
    CHECK(cache.size() == 0);
    CHECK(cache.index().chunks() == 0);
    cache.FreeRetired(cache.TakeRetired());
    CHECK(cache.pairs().size() == 0);
  }
}

TEST_CASE("series cache entries replaced many times stay encodable until freed", "[remotewrite]") {
  SeriesCache cache(Labels{{"cluster", "c"}});
  std::vector<const CachedSeries*> old;
  std::vector<uint64_t> tickets;
  for (int v = 0; v < 50; ++v) {
    for (wal::SeriesRef ref = 1; ref <= 300; ++ref) {
      cache.Store(ref, Labels{{"__name__", "m"}, {"v", std::to_string(v)}}, 0);
    }
    old.push_back(cache.Find(1));
    tickets.push_back(cache.TakeRetired());
  }
  // Every version of ref 1 is alive (nothing freed) and sends its own labels, through both
  // encoders.
  for (int v = 0; v < 50; ++v) {
    INFO(v);
    CHECK(Sent(cache, *old[v])[2].second == std::to_string(v));
    // RW 2.0: byte for byte the request built from the version's own encoded labels.
    std::string expected_labels;
    EncodeLabels(Labels{{"__name__", "m"}, {"cluster", "c"}, {"v", std::to_string(v)}},
                 &expected_labels);
    V2RequestEncoder v2, want;
    v2.AddSample(cache.LabelsOf(*old[v]), nullptr, 1, 1);
    want.AddSample(expected_labels, nullptr, 1, 1);
    CHECK(v2.bytes() == want.bytes());
    CHECK(v2.symbols() == 7);  // "", __name__, m, cluster, c, v, the value
  }
  CHECK(cache.retired() == 49 * 300);
  cache.FreeRetired(tickets[47]);  // versions 0 to 46
  CHECK(cache.retired() == 2 * 300);
  CHECK(Sent(cache, *old[47])[2].second == "47");
  cache.FreeRetired(tickets.back());
  CHECK(cache.retired() == 0);
  CHECK(cache.pairs().size() == 3);  // __name__=m, cluster=c, v=49
}

TEST_CASE("requests from interned labels equal those from encoded labels", "[remotewrite]") {
  const Labels external{{"cluster", "c"}};
  std::vector<Labels> series = {
      {{"__name__", "cpu"}, {"cpu", "0"}, {"mode", "idle"}},
      {{"__name__", "cpu"}, {"cpu", "1"}, {"mode", "idle"}},
      {{"__name__", "up"}, {"job", "idle"}},  // a value that is also another pair's value
      {},
  };
  SeriesCache cache(external);
  std::vector<std::string> blobs(series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    cache.Store(i + 1, series[i], 0);
    EncodeLabels(MergeExternalLabels(series[i], external), &blobs[i]);
  }
  const MetricMetadata meta{MetricMetadata::Type::kCounter, "cpu", "CPU seconds.", "seconds"};
  RequestEncoder v1_blob, v1_pairs;
  V2RequestEncoder v2_blob, v2_pairs;
  for (int request = 0; request < 3; ++request) {  // Reset between: symbols start over
    v1_blob.Reset();
    v1_pairs.Reset();
    v2_blob.Reset();
    v2_pairs.Reset();
    for (size_t k = 0; k < 2 * series.size(); ++k) {
      const size_t i = (k + static_cast<size_t>(request)) % series.size();
      const PairedLabels pairs = cache.LabelsOf(*cache.Find(i + 1));
      v1_blob.AddSample(blobs[i], 1000 + static_cast<int64_t>(k), 1.5);
      v1_pairs.AddSample(pairs, 1000 + static_cast<int64_t>(k), 1.5);
      v2_blob.AddSample(blobs[i], i == 0 ? &meta : nullptr, 1000 + static_cast<int64_t>(k), 2);
      v2_pairs.AddSample(pairs, i == 0 ? &meta : nullptr, 1000 + static_cast<int64_t>(k), 2);
    }
    CHECK(v1_pairs.bytes() == v1_blob.bytes());
    CHECK(v2_pairs.bytes() == v2_blob.bytes());
    CHECK(v2_pairs.symbols() == v2_blob.symbols());
  }
}

}  // namespace
}  // namespace petrel::remotewrite
