// ScrapeCache: one target's scrape cache, keyed by a 128-bit hash of a series' raw bytes (the
// parser's Series(), exactly as the target wrote them) instead of the bytes themselves, so an
// entry is 32 bytes held inline in one open-addressing table.
//
// Why a hash may stand for the bytes: XXH3-128 spreads distinct inputs uniformly, so among the n
// series of one target some two collide with probability about n^2 / 2^129 (~6e-29 at 200,000
// series). The cache is per target, so a series can only ever collide with a series of the
// same target; a collision would merge two of its series into one ref. XXH3 does not resist
// inputs crafted against a known secret, so the secret is drawn at random once per process
// (the cache is never persisted): a target cannot compute colliding series offline.
//
// It also remembers the order in which the last scrape met its entries: targets write their
// series in the same order every time, so Find tries the entry after the previous match first,
// which costs one 16-byte comparison (and the caller's hashing of the series: XXH3 runs at
// about 10 ns per 100 bytes, the steady state's main cost over comparing the bytes).
//
// One caller at a time.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "wal/appender.h"

namespace petrel::scrape {

class ScrapeCache {
 public:
  struct Hash {
    uint64_t lo = 0;
    uint64_t hi = 0;
    friend bool operator==(const Hash&, const Hash&) = default;
  };
  // Never {0, 0}, which marks an empty slot.
  static Hash HashOf(std::string_view series);

  // What the scrape loop keeps per series. The cache itself reads only hash and order_index.
  // Aligned so that an entry never straddles two cache lines.
  struct alignas(32) Entry {
    Hash hash;                      // {0, 0}: an empty slot
    wal::SeriesRef ref = 0;         // 0: none yet
    uint32_t last_scrape = 0;       // the caller's number of the scrape that last met it; 0: never
    uint32_t order_index : 28 = 0;  // set by Met: where that scrape had it in its order
    uint32_t live_before : 1 = 0;   // the caller's: met by the scrape before last_scrape
    uint32_t explicit_timestamp : 1 = 0;
    uint32_t dropped : 1 = 0;  // by metric_relabel_configs
  };

  ScrapeCache() = default;
  ScrapeCache(const ScrapeCache&) = delete;
  ScrapeCache& operator=(const ScrapeCache&) = delete;

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // The table and both orders, for tests and memory accounting.
  size_t MemoryBytes() const;

  // Starts a scrape: prediction restarts at the beginning of the last order, and the order of
  // this scrape starts empty.
  void StartScrape();
  // The entry for h, or nullptr. Valid until the next Insert, Erase, EraseIf or Clear.
  Entry* Find(const Hash& h);
  // Adds h, which must be absent, as a zeroed entry. Invalidates every Entry pointer.
  Entry* Insert(const Hash& h);
  // Removes e (from Find or Insert). Invalidates every Entry pointer.
  void Erase(Entry* e);
  // Appends e to this scrape's order and sets its order_index.
  void Met(Entry* e);
  // How many entries this scrape met (one Met call each).
  size_t MetCount() const { return next_order_.size(); }
  // Ends a scrape: its order replaces the last one, for the next scrape's predictions.
  void FinishScrape();

  // Calls keep(Entry&) once for each entry and erases those for which it returns false; then
  // gives memory back when few entries are left.
  template <typename Keep>
  void EraseIf(Keep keep);
  // Calls fn(Entry&) once for each entry.
  template <typename Fn>
  void ForEach(Fn fn);
  // Forgets every entry and both orders, and frees the table.
  void Clear();

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  // How far ahead of the predicted entry Find prefetches: a sample's parse (~50 ns) times this
  // covers a miss to memory.
  static constexpr size_t kPrefetchAhead = 8;
  static bool Empty(const Entry& e) { return e.hash.lo == 0 && e.hash.hi == 0; }
  size_t Home(const Hash& h) const;
  size_t Distance(size_t slot) const;  // from the home of the entry in slot
  size_t Next(size_t slot) const { return slot + 1 == capacity_ ? 0 : slot + 1; }
  Entry* Lookup(const Hash& h);
  Entry* FindUnpredicted(const Hash& h);
  void EraseAt(size_t slot);
  void Rehash(size_t capacity);
  void Relocate(size_t from, size_t to);
  size_t FirstEmpty() const;
  void ShrinkIfSparse();

  std::unique_ptr<Entry[]> slots_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  // Slots of the entries in the order the last scrape met them, and of this scrape so far.
  // Hints only: a slot's entry is compared with the hash before it is trusted, so a hint left
  // stale by an entry that moved costs a table lookup, never a wrong entry.
  std::vector<uint32_t> order_;
  std::vector<uint32_t> next_order_;
  size_t cursor_ = 0;  // in order_: the predicted next entry
};

// Inline: the steady state calls these once per sample.
inline ScrapeCache::Entry* ScrapeCache::Find(const Hash& h) {
  if (cursor_ < order_.size()) {
    // Slots are spread by hash: without a prefetch, each predicted entry would be a cache miss
    // (a node-based map allocated in scrape order was walked nearly sequentially).
    if (cursor_ + kPrefetchAhead < order_.size()) {
      const uint32_t ahead = order_[cursor_ + kPrefetchAhead];
      if (ahead < capacity_) __builtin_prefetch(&slots_[ahead], /*rw=*/1);
    }
    const uint32_t slot = order_[cursor_];
    if (slot < capacity_ && slots_[slot].hash == h) {
      ++cursor_;
      return &slots_[slot];
    }
  }
  return FindUnpredicted(h);
}

inline void ScrapeCache::Met(Entry* e) {
  // 28 bits of order_index: 268 million series per target.
  assert(next_order_.size() < (size_t{1} << 28));
  e->order_index = static_cast<uint32_t>(next_order_.size()) & ((1u << 28) - 1);
  next_order_.push_back(static_cast<uint32_t>(e - slots_.get()));
}

template <typename Fn>
void ScrapeCache::ForEach(Fn fn) {
  for (size_t i = 0; i < capacity_; ++i) {
    if (!Empty(slots_[i])) fn(slots_[i]);
  }
}

template <typename Keep>
void ScrapeCache::EraseIf(Keep keep) {
  if (size_ == 0) return;
  // Starting after an empty slot, no run of occupied slots wraps past the start, so the
  // backward shift of an erase moves only entries not visited yet into the current slot.
  const size_t start = FirstEmpty();
  size_t i = Next(start);
  for (size_t visited = 1; visited < capacity_; ++visited, i = Next(i)) {
    while (!Empty(slots_[i]) && !keep(slots_[i])) EraseAt(i);
  }
  ShrinkIfSparse();
}

}  // namespace petrel::scrape
