#include "wal/series_store.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "wal/records.h"

namespace petrel::wal {
namespace {

std::string Encoded(const Labels& labels) {
  std::string out;
  SeriesStore::EncodeLabels(labels, &out);
  return out;
}

TEST_CASE("series store finds a series by its label set", "[wal]") {
  SeriesStore store;
  // Same bytes when names and values are concatenated: the encoding must tell them apart.
  const Labels a{{"ab", "c"}};
  const Labels b{{"a", "bc"}};
  bool created = false;
  MemSeries* sa = store.GetOrCreate(a, &created);
  CHECK(created);
  MemSeries* sb = store.GetOrCreate(b, &created);
  CHECK(created);
  CHECK(sa != sb);
  CHECK_FALSE(sa->hash == sb->hash);
  CHECK(sa->ref == 1);
  CHECK(sb->ref == 2);
  CHECK(store.GetOrCreate(a, &created) == sa);
  CHECK_FALSE(created);
  CHECK(store.GetByLabels(b) == sb);
  CHECK(store.GetByLabels(Labels{{"a", "b"}}) == nullptr);
  CHECK(store.GetByRef(2) == sb);
  CHECK(store.GetByRef(3) == nullptr);
  CHECK(store.size() == 2);
}

TEST_CASE("series store tells many label sets apart through index growth", "[wal]") {
  SeriesStore store;
  bool created = false;
  for (int i = 0; i < 20000; ++i) {
    MemSeries* s = store.GetOrCreate(Labels{{"i", std::to_string(i)}}, &created);
    REQUIRE(created);
    REQUIRE(s->ref == static_cast<SeriesRef>(i + 1));
  }
  for (int i = 0; i < 20000; ++i) {
    REQUIRE(store.GetByLabels(Labels{{"i", std::to_string(i)}})->ref ==
            static_cast<SeriesRef>(i + 1));
  }
  CHECK(store.size() == 20000);
}

TEST_CASE("a logged series keeps no label bytes and is still found by its labels", "[wal]") {
  SeriesStore store;
  const Labels l{{"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}};
  bool created = false;
  MemSeries* s = store.GetOrCreate(l, &created);
  REQUIRE(created);
  CHECK_FALSE(s->logged);
  // Until logged, the store holds exactly what the Series record needs.
  CHECK(store.PendingLabels(s) == Encoded(l));
  std::string entry, want;
  EncodeSeriesEntry(s->ref, store.PendingLabels(s), &entry);
  EncodeSeriesEntry(s->ref, l, &want);
  CHECK(entry == want);
  CHECK(store.pending() == 1);

  MemSeries* const logged[] = {s};
  s->logged = true;
  store.ReleasePending(logged);
  CHECK(store.pending() == 0);
  CHECK(store.PendingLabels(s).empty());
  CHECK(sizeof(MemSeries) <= 40);
  CHECK(store.GetByLabels(l) == s);
  CHECK(store.GetOrCreate(l, &created) == s);
  CHECK_FALSE(created);
  CHECK(store.pending() == 0);  // a lookup keeps nothing either
}

TEST_CASE("series store handles sparse and huge refs from replay", "[wal]") {
  SeriesStore store;
  const uint64_t huge = 1ull << 62;
  MemSeries* h = store.AddReplayed(huge, Labels{{"x", "1"}});
  MemSeries* small = store.AddReplayed(5, Labels{{"x", "2"}});
  CHECK(h->ref == huge);
  CHECK(h->logged);
  CHECK(store.GetByRef(huge) == h);
  CHECK(store.GetByRef(5) == small);
  CHECK(store.next_ref() == huge + 1);
  // Same labels under a new ref: the first series wins.
  CHECK(store.AddReplayed(7, Labels{{"x", "2"}}) == small);
  CHECK(store.GetByRef(7) == nullptr);
  // Dense growth past earlier sparse entries keeps both reachable.
  for (uint64_t r = 10; r < 3000; ++r) {
    store.AddReplayed(r, Labels{{"n", std::to_string(r)}});
  }
  for (uint64_t r = 10; r < 3000; ++r) REQUIRE(store.GetByRef(r)->ref == r);
  CHECK(store.GetByRef(huge) == h);
  CHECK(store.size() == 2 + 2990);
  CHECK(store.pending() == 0);  // replayed series are in the WAL already
}

TEST_CASE("replayed labels under a second ref map onto the first ref", "[wal]") {
  SeriesStore store;
  const Labels l{{"job", "node"}};
  MemSeries* first = store.AddReplayed(3, l);
  CHECK(store.AddReplayed(2, l) == first);
  CHECK(store.AddReplayed(8, l) == first);
  CHECK(store.GetByRef(2) == nullptr);
  CHECK(store.GetByRef(8) == nullptr);
  CHECK(store.next_ref() == 9);
  bool created = false;
  CHECK(store.GetOrCreate(l, &created) == first);
  CHECK_FALSE(created);
  CHECK(store.size() == 1);
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

TEST_CASE("series store GC drops old series and spares unlogged ones once", "[wal]") {
  SeriesStore store;
  bool created = false;
  const Labels old_l{{"a", "old"}}, new_l{{"a", "new"}}, pending_l{{"a", "pending"}};
  MemSeries* old_s = store.GetOrCreate(old_l, &created);
  MemSeries* new_s = store.GetOrCreate(new_l, &created);
  MemSeries* pending = store.GetOrCreate(pending_l, &created);
  old_s->logged = new_s->logged = true;
  MemSeries* const logged[] = {old_s, new_s};
  store.ReleasePending(logged);
  old_s->last_ts = 10;
  new_s->last_ts = 100;

  std::vector<SeriesRef> removed;
  store.GC(50, &removed);
  CHECK(removed == std::vector<SeriesRef>{old_s->ref});
  CHECK(store.GetByRef(old_s->ref) == nullptr);
  CHECK(store.GetByLabels(old_l) == nullptr);
  CHECK(old_s->ref == 1);  // unlinked, not yet freed: in-flight pointers stay valid
  CHECK(store.size() == 2);

  removed.clear();
  store.GC(50, &removed);  // the pending series' batch never committed
  CHECK(removed == std::vector<SeriesRef>{pending->ref});
  CHECK(store.size() == 1);
  // Unlinked but not freed: a batch still in flight may log it, so its labels stay.
  CHECK(store.PendingLabels(pending) == Encoded(pending_l));
  // Refs are never reused.
  MemSeries* again = store.GetOrCreate(old_l, &created);
  CHECK(created);
  CHECK(again->ref == 4);
  CHECK(store.pending() == 2);

  removed.clear();
  store.GC(0, &removed);  // frees the pending series, and its labels with it
  CHECK(removed.empty());
  CHECK(store.pending() == 1);
  CHECK(store.PendingLabels(again) == Encoded(old_l));
}

TEST_CASE("series store keeps series created together side by side and reuses freed slots",
          "[wal]") {
  SeriesStore store;
  bool created = false;
  // More than one slab block (1024 series), as a first scrape of a big target creates them.
  constexpr int kN = 2500;
  std::vector<MemSeries*> made;
  for (int i = 0; i < kN; ++i) {
    made.push_back(store.GetOrCreate(Labels{{"i", std::to_string(i)}}, &created));
    REQUIRE(created);
  }
  int adjacent = 0;
  for (int i = 1; i < kN; ++i) adjacent += made[i] == made[i - 1] + 1;
  CHECK(adjacent >= kN - 3);  // only block boundaries break the run
  for (int i = 0; i < kN; ++i) {
    CHECK(made[i]->ref == static_cast<SeriesRef>(i + 1));
    made[i]->logged = true;
    made[i]->last_ts = i < 1000 ? 10 : 100;  // the first 1000 go stale
  }
  store.ReleasePending(made);

  std::vector<SeriesRef> removed;
  store.GC(50, &removed);  // unlinks the stale ones
  CHECK(removed.size() == 1000);
  store.GC(50, &removed);  // frees them
  std::set<MemSeries*> freed(made.begin(), made.begin() + 1000);
  // New series take the freed slots before any new block, each constructed afresh.
  for (int i = 0; i < 1000; ++i) {
    MemSeries* s = store.GetOrCreate(Labels{{"j", std::to_string(i)}}, &created);
    REQUIRE(created);
    CHECK(freed.count(s) == 1);
    CHECK(s->ref == static_cast<SeriesRef>(kN + 1 + i));
    CHECK(s->last_ts.load() == std::numeric_limits<int64_t>::min());
    CHECK_FALSE(s->logged.load());
    CHECK(store.GetByRef(s->ref) == s);
  }
  // The survivors are untouched.
  for (int i = 1000; i < kN; ++i) CHECK(store.GetByRef(made[i]->ref) == made[i]);
  CHECK(store.size() == kN);
}

}  // namespace
}  // namespace petrel::wal
