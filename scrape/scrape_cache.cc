#include "scrape/scrape_cache.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "common/hash128.h"

namespace petrel::scrape {
namespace {

// Robin Hood linear probing: an insert takes the slot of an entry closer to its home than the
// new one would be, so the entries of a run stay sorted by home. A lookup can then stop at the
// first entry closer to its home than the probe (a miss costs about as much as a hit), which
// keeps probes short at 7/8 load; and an erase shifts the rest of the run back one slot
// instead of leaving a tombstone, so churn needs no rehash.
//
// The capacity is any size, not a power of two: a slot is picked by multiplying the hash into
// the capacity's range, so the table can grow by half instead of doubling. While a table
// grows, its load stays between 7/12 and 7/8 (32 bytes per slot: 37 to 55 bytes per series)
// rather than between 7/16 and 7/8 (37 to 73). It shrinks to half full when under a quarter.
constexpr size_t kMinCapacity = 16;

bool OverMaxLoad(size_t size, size_t capacity) { return size * 8 > capacity * 7; }

}  // namespace

static_assert(sizeof(ScrapeCache::Entry) == 32, "an entry is 32 bytes");

ScrapeCache::Hash ScrapeCache::HashOf(std::string_view series) {
  const Hash128 h = Hash128Of(series);
  // {0, 0} marks an empty slot; the one input hashing to it shares {1, 0} (a 2^-128 chance).
  if (h.lo == 0 && h.hi == 0) return {1, 0};
  return {h.lo, h.hi};
}

size_t ScrapeCache::MemoryBytes() const {
  return capacity_ * sizeof(Entry) +
         (order_.capacity() + next_order_.capacity()) * sizeof(uint32_t);
}

size_t ScrapeCache::Home(const Hash& h) const {
  // The top 32 bits of lo scaled to [0, capacity_): capacity_ < 2^32 (slots are uint32_t).
  return static_cast<size_t>(((h.lo >> 32) * capacity_) >> 32);
}

size_t ScrapeCache::Distance(size_t slot) const {
  const size_t home = Home(slots_[slot].hash);
  return slot >= home ? slot - home : slot + capacity_ - home;
}

void ScrapeCache::StartScrape() {
  cursor_ = 0;
  next_order_.clear();
}

ScrapeCache::Entry* ScrapeCache::FindUnpredicted(const Hash& h) {
  Entry* e = Lookup(h);
  // Out of order (a series came or went): predict from here on.
  if (e != nullptr) cursor_ = static_cast<size_t>(e->order_index) + 1;
  return e;
}

ScrapeCache::Entry* ScrapeCache::Lookup(const Hash& h) {
  if (size_ == 0) return nullptr;
  size_t slot = Home(h);
  for (size_t dist = 0;; ++dist, slot = Next(slot)) {
    Entry& e = slots_[slot];
    if (e.hash == h) return &e;
    if (Empty(e) || Distance(slot) < dist) return nullptr;
  }
}

ScrapeCache::Entry* ScrapeCache::Insert(const Hash& h) {
  assert(!(h == Hash{}) && Lookup(h) == nullptr);
  if (capacity_ == 0 || OverMaxLoad(size_ + 1, capacity_)) {
    Rehash(std::max(kMinCapacity, capacity_ + capacity_ / 2));
  }
  Entry carry;
  carry.hash = h;
  size_t carry_from = kNoSlot;  // where the carried entry was; kNoSlot: the new one
  Entry* inserted = nullptr;
  size_t slot = Home(h);
  for (size_t dist = 0;; ++dist, slot = Next(slot)) {
    Entry& e = slots_[slot];
    const bool empty = Empty(e);
    const size_t e_dist = empty ? 0 : Distance(slot);
    if (!empty && e_dist >= dist) continue;
    std::swap(carry, e);
    if (carry_from == kNoSlot) {
      inserted = &e;
    } else {
      Relocate(carry_from, slot);
    }
    if (empty) break;
    carry_from = slot;
    dist = e_dist;
  }
  ++size_;
  return inserted;
}

void ScrapeCache::Erase(Entry* e) {
  assert(e >= slots_.get() && e < slots_.get() + capacity_ && !Empty(*e));
  EraseAt(static_cast<size_t>(e - slots_.get()));
}

void ScrapeCache::EraseAt(size_t slot) {
  // Backward shift: the rest of the run moves one slot closer to its homes.
  for (size_t next = Next(slot); !Empty(slots_[next]) && Distance(next) > 0;
       slot = next, next = Next(next)) {
    slots_[slot] = slots_[next];
    Relocate(next, slot);
  }
  slots_[slot] = Entry{};
  --size_;
}

// The entry now in `to` was in `from`: its hint follows it (best effort, hints are checked).
void ScrapeCache::Relocate(size_t from, size_t to) {
  const uint32_t i = slots_[to].order_index;
  if (i < order_.size() && order_[i] == from) order_[i] = static_cast<uint32_t>(to);
  if (i < next_order_.size() && next_order_[i] == from) next_order_[i] = static_cast<uint32_t>(to);
}

void ScrapeCache::FinishScrape() {
  order_.swap(next_order_);
  next_order_.clear();
  cursor_ = 0;
}

void ScrapeCache::Clear() {
  slots_.reset();
  capacity_ = 0;
  size_ = 0;
  order_ = {};
  next_order_ = {};
  cursor_ = 0;
}

size_t ScrapeCache::FirstEmpty() const {
  size_t slot = 0;
  while (!Empty(slots_[slot])) ++slot;  // the load is below 1: there is one
  return slot;
}

void ScrapeCache::ShrinkIfSparse() {
  if (size_ == 0) {
    Clear();  // no entries: any hints left in the orders are stale
    return;
  }
  if (capacity_ > kMinCapacity && size_ * 4 < capacity_) {
    Rehash(std::max(kMinCapacity, size_ * 2));
    order_.shrink_to_fit();
    next_order_.shrink_to_fit();
  }
}

void ScrapeCache::Rehash(size_t capacity) {
  assert(capacity > size_ && !OverMaxLoad(size_, capacity));
  std::unique_ptr<Entry[]> old = std::move(slots_);
  const size_t old_capacity = capacity_;
  slots_ = std::make_unique<Entry[]>(capacity);
  capacity_ = capacity;
  const size_t size = size_;
  size_ = 0;
  // Re-inserted with no hints to move; the hints are translated afterwards.
  std::vector<uint32_t> order = std::move(order_);
  std::vector<uint32_t> next_order = std::move(next_order_);
  order_.clear();
  next_order_.clear();
  for (size_t i = 0; i < old_capacity; ++i) {
    if (Empty(old[i])) continue;
    *Insert(old[i].hash) = old[i];
  }
  assert(size_ == size);
  (void)size;
  auto translate = [&](std::vector<uint32_t>& hints) {
    for (uint32_t& slot : hints) {
      Entry* e = slot < old_capacity && !Empty(old[slot]) ? Lookup(old[slot].hash) : nullptr;
      slot = e != nullptr ? static_cast<uint32_t>(e - slots_.get()) : kNoSlot;
    }
  };
  translate(order);
  translate(next_order);
  order_ = std::move(order);
  next_order_ = std::move(next_order);
}

}  // namespace petrel::scrape
