#include "wal/series_store.h"

#include <catch2/catch.hpp>

namespace petrel::wal {
namespace {

TEST_CASE("series store keeps label sets with colliding hashes apart", "[wal]") {
  SeriesStore store;
  const Labels a{{"__name__", "a"}};
  const Labels b{{"__name__", "b"}};
  bool created = false;
  // Same (fake) hash for both: the chain must tell them apart.
  MemSeries* sa = store.GetOrCreate(a, 42, &created);
  CHECK(created);
  MemSeries* sb = store.GetOrCreate(b, 42, &created);
  CHECK(created);
  CHECK(sa != sb);
  CHECK(sa->ref == 1);
  CHECK(sb->ref == 2);
  CHECK(store.GetOrCreate(a, 42, &created) == sa);
  CHECK_FALSE(created);
  CHECK(store.GetByLabels(b, 42) == sb);
  CHECK(store.GetByLabels(b, 43) == nullptr);
  CHECK(store.GetByRef(2) == sb);
  CHECK(store.GetByRef(3) == nullptr);
  CHECK(store.size() == 2);
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
}

}  // namespace
}  // namespace petrel::wal

namespace petrel::wal {
namespace {

TEST_CASE("series store GC drops old series and spares unlogged ones once", "[wal]") {
  SeriesStore store;
  bool created = false;
  const Labels old_l{{"a", "old"}}, new_l{{"a", "new"}}, pending_l{{"a", "pending"}};
  MemSeries* old_s = store.GetOrCreate(old_l, old_l.Hash(), &created);
  MemSeries* new_s = store.GetOrCreate(new_l, new_l.Hash(), &created);
  MemSeries* pending = store.GetOrCreate(pending_l, pending_l.Hash(), &created);
  old_s->logged = new_s->logged = true;
  old_s->last_ts = 10;
  new_s->last_ts = 100;

  std::vector<SeriesRef> removed;
  store.GC(50, &removed);
  CHECK(removed == std::vector<SeriesRef>{old_s->ref});
  CHECK(store.GetByRef(old_s->ref) == nullptr);
  CHECK(store.GetByLabels(old_l, old_l.Hash()) == nullptr);
  CHECK(old_s->labels() == old_l);  // unlinked, not yet freed: in-flight pointers stay valid
  CHECK(store.size() == 2);

  removed.clear();
  store.GC(50, &removed);  // the pending series' batch never committed
  CHECK(removed == std::vector<SeriesRef>{pending->ref});
  CHECK(store.size() == 1);
  // Refs are never reused.
  MemSeries* again = store.GetOrCreate(old_l, old_l.Hash(), &created);
  CHECK(created);
  CHECK(again->ref == 4);
}

}  // namespace
}  // namespace petrel::wal
