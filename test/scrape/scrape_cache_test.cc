#include "scrape/scrape_cache.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace petrel::scrape {
namespace {

ScrapeCache::Hash H(int i) { return ScrapeCache::HashOf("series_" + std::to_string(i)); }

// Inserts `hashes` with ref = index + 1.
void InsertAll(ScrapeCache& c, const std::vector<ScrapeCache::Hash>& hashes) {
  for (size_t i = 0; i < hashes.size(); ++i) c.Insert(hashes[i])->ref = i + 1;
}

void CheckHolds(ScrapeCache& c, const std::vector<ScrapeCache::Hash>& hashes,
                const std::set<size_t>& erased = {}) {
  for (size_t i = 0; i < hashes.size(); ++i) {
    ScrapeCache::Entry* e = c.Find(hashes[i]);
    if (erased.count(i) != 0) {
      CHECK(e == nullptr);
    } else {
      REQUIRE(e != nullptr);
      CHECK(e->ref == i + 1);
    }
  }
  CHECK(c.size() == hashes.size() - erased.size());
}

TEST_CASE("the scrape cache keeps its entries through several rehashes", "[scrape]") {
  ScrapeCache c;
  std::vector<ScrapeCache::Hash> hashes;
  for (int i = 0; i < 20000; ++i) hashes.push_back(H(i));
  InsertAll(c, hashes);
  CheckHolds(c, hashes);
  CHECK(c.size() * 8 <= c.capacity() * 7);  // at most 7/8 full
  CHECK(c.size() * 2 >= c.capacity());      // grown by half: about 7/12 full at least
  CHECK(c.Find(H(20000)) == nullptr);
}

TEST_CASE("the scrape cache erases by backward shift under churn", "[scrape]") {
  ScrapeCache c;
  std::vector<ScrapeCache::Hash> hashes;
  for (int i = 0; i < 3000; ++i) hashes.push_back(H(i));
  InsertAll(c, hashes);
  std::mt19937 rng(7);
  std::set<size_t> erased;
  for (int round = 0; round < 6; ++round) {
    // Erase a random third of the present ones, then bring back those erased last round.
    std::set<size_t> now;
    c.EraseIf([&](const ScrapeCache::Entry& e) {
      if (rng() % 3 != 0) return true;
      now.insert(e.ref - 1);
      return false;
    });
    for (size_t i : erased) c.Insert(hashes[i])->ref = i + 1;
    erased = now;
    CheckHolds(c, hashes, erased);
  }
}

TEST_CASE("the scrape cache handles runs that share a home and wrap around", "[scrape]") {
  ScrapeCache c;
  // The same lo: one home (the last slot), so every entry probes past it and wraps to slot 0.
  std::vector<ScrapeCache::Hash> hashes;
  for (uint64_t i = 1; i <= 12; ++i) hashes.push_back({UINT64_MAX, i});
  InsertAll(c, hashes);
  CheckHolds(c, hashes);
  SECTION("erase one at a time") {
    std::set<size_t> erased;
    for (size_t i : {0, 5, 11, 3}) {
      c.Erase(c.Find(hashes[i]));
      erased.insert(i);
      CheckHolds(c, hashes, erased);
    }
  }
  SECTION("sweep") {
    c.EraseIf([](const ScrapeCache::Entry& e) { return e.ref % 2 == 0; });
    CheckHolds(c, hashes, {0, 2, 4, 6, 8, 10});
  }
}

TEST_CASE("the scrape cache's order predicts entries that moved or left", "[scrape]") {
  ScrapeCache c;
  std::vector<ScrapeCache::Hash> hashes;
  for (int i = 0; i < 100; ++i) hashes.push_back(H(i));
  c.StartScrape();
  for (size_t i = 0; i < hashes.size(); ++i) {
    ScrapeCache::Entry* e = c.Insert(hashes[i]);  // moves others, and rehashes
    e->ref = i + 1;
    c.Met(e);
  }
  CHECK(c.MetCount() == 100);
  c.FinishScrape();
  // Every hint still leads to its own entry, or to a lookup.
  c.StartScrape();
  for (size_t i = 0; i < hashes.size(); ++i) {
    ScrapeCache::Entry* e = c.Find(hashes[i]);
    REQUIRE(e != nullptr);
    CHECK(e->ref == i + 1);
    if (i % 2 == 0) c.Met(e);
  }
  c.FinishScrape();
  c.EraseIf([](const ScrapeCache::Entry& e) { return e.ref % 2 == 1; });
  std::set<size_t> erased;
  for (size_t i = 1; i < 100; i += 2) erased.insert(i);
  CheckHolds(c, hashes, erased);
}

TEST_CASE("the scrape cache gives memory back when it empties or thins out", "[scrape]") {
  ScrapeCache c;
  std::vector<ScrapeCache::Hash> hashes;
  for (int i = 0; i < 5000; ++i) hashes.push_back(H(i));
  InsertAll(c, hashes);
  const size_t full = c.capacity();
  c.EraseIf([](const ScrapeCache::Entry& e) { return e.ref <= 100; });
  CHECK(c.capacity() < full / 4);
  std::set<size_t> erased;
  for (size_t i = 100; i < 5000; ++i) erased.insert(i);
  CheckHolds(c, hashes, erased);
  c.EraseIf([](const ScrapeCache::Entry&) { return false; });
  CHECK(c.size() == 0);
  CHECK(c.capacity() == 0);
  CHECK(c.Find(hashes[0]) == nullptr);
  c.Clear();
  CHECK(c.MemoryBytes() == 0);
}

TEST_CASE("an entry is 32 bytes", "[scrape]") {
  // With at most 7/8 and at least 7/12 of the slots used: 37 to 55 bytes per series.
  CHECK(sizeof(ScrapeCache::Entry) == 32);
}

}  // namespace
}  // namespace petrel::scrape
