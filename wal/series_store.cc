#include "wal/series_store.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PETREL_SERIES_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PETREL_SERIES_ASAN 1
#endif
#ifdef PETREL_SERIES_ASAN
#include <sanitizer/asan_interface.h>
#define PETREL_ASAN_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define PETREL_ASAN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define PETREL_ASAN_POISON(p, n) ((void)(p), (void)(n))
#define PETREL_ASAN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#include "common/hash128.h"

namespace petrel::wal {
namespace {

size_t UvarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutUvarintRaw(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

size_t Slot(SeriesHash hash, int bits) {
  return static_cast<size_t>((hash.lo * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

// Encodes labels into a per-thread buffer and hashes them; the view is valid until the next
// call on this thread.
std::string_view EncodeForLookup(const Labels& labels, SeriesHash* hash) {
  thread_local std::string buf;
  buf.clear();
  SeriesStore::EncodeLabels(labels, &buf);
  *hash = SeriesHash::Of(buf);
  return buf;
}

}  // namespace

SeriesHash SeriesHash::Of(std::string_view encoded_labels) {
  const Hash128 h = Hash128Of(encoded_labels);
  return {.lo = h.lo, .hi = h.hi};
}

void SeriesStore::EncodeLabels(const Labels& labels, std::string* out) {
  size_t n = UvarintSize(labels.size());
  for (const auto& l : labels) {
    n += UvarintSize(l.name.size()) + l.name.size() + UvarintSize(l.value.size()) + l.value.size();
  }
  const size_t start = out->size();
  out->resize(start + n);
  char* p = out->data() + start;
  p = PutUvarintRaw(labels.size(), p);
  for (const auto& l : labels) {
    p = PutUvarintRaw(l.name.size(), p);
    std::memcpy(p, l.name.data(), l.name.size());
    p += l.name.size();
    p = PutUvarintRaw(l.value.size(), p);
    std::memcpy(p, l.value.data(), l.value.size());
    p += l.value.size();
  }
  assert(p == out->data() + out->size());
}

SeriesStore::SeriesStore() : chunks_(new std::atomic<Chunk*>[kMaxChunks]) {
  for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

// The slab frees its blocks without running destructors.
static_assert(std::is_trivially_destructible_v<MemSeries>);

SeriesStore::~SeriesStore() = default;

MemSeries* SeriesStore::NewSeriesLocked(SeriesRef ref, SeriesHash hash) {
  SlabSlot* slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.front();
    free_slots_.pop_front();
    PETREL_ASAN_UNPOISON(slot, sizeof(SlabSlot));
  } else {
    if (slab_used_ == kSlabBlock) {
      slab_.push_back(std::make_unique_for_overwrite<SlabSlot[]>(kSlabBlock));
      slab_used_ = 0;
    }
    slot = &slab_.back()[slab_used_++];
  }
  return new (slot->bytes) MemSeries(ref, hash);
}

void SeriesStore::FreeSeriesLocked(MemSeries* s) {
  s->~MemSeries();
  SlabSlot* slot = reinterpret_cast<SlabSlot*>(s);
  // Under ASan a freed series is poisoned, so a use after GC freed it still reports.
  PETREL_ASAN_POISON(slot, sizeof(SlabSlot));
  free_slots_.push_back(slot);
}

MemSeries* SeriesStore::FindRefLocked(SeriesRef ref) const {
  if ((ref >> kChunkBits) < kMaxChunks) {
    const Chunk* chunk = chunks_[ref >> kChunkBits].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr
                            : (*chunk)[ref & (kChunkSize - 1)].load(std::memory_order_acquire);
  }
  auto it = sparse_.find(ref);
  return it == sparse_.end() ? nullptr : it->second;
}

MemSeries* SeriesStore::FindLabelsLocked(SeriesHash hash) const {
  if (by_hash_.empty()) return nullptr;
  const size_t mask = by_hash_.size() - 1;
  for (size_t i = Slot(hash, hash_bits_);; i = (i + 1) & mask) {
    MemSeries* s = by_hash_[i];
    if (s == nullptr) return nullptr;
    if (s->hash == hash) return s;
  }
}

void SeriesStore::IndexLocked(MemSeries* s) {
  if ((size_ + 1) * 4 > by_hash_.size() * 3) {
    std::vector<MemSeries*> old = std::exchange(by_hash_, {});
    hash_bits_ = std::max(hash_bits_ + 1, 4);
    by_hash_.assign(size_t{1} << hash_bits_, nullptr);
    for (MemSeries* o : old) {
      if (o != nullptr) IndexLocked(o);
    }
  }
  const size_t mask = by_hash_.size() - 1;
  size_t i = Slot(s->hash, hash_bits_);
  while (by_hash_[i] != nullptr) i = (i + 1) & mask;
  by_hash_[i] = s;
}

void SeriesStore::SetRefLocked(SeriesRef ref, MemSeries* s) {
  if (const SeriesRef c = ref >> kChunkBits; c < kMaxChunks) {
    Chunk* chunk = chunks_[c].load(std::memory_order_relaxed);
    if (chunk == nullptr) {
      auto owned = std::make_unique<Chunk>();
      for (auto& slot : *owned) slot.store(nullptr, std::memory_order_relaxed);
      chunk = owned.get();
      chunk_owner_.push_back(std::move(owned));
      chunks_[c].store(chunk, std::memory_order_release);
    }
    (*chunk)[ref & (kChunkSize - 1)].store(s, std::memory_order_release);
  } else if (s != nullptr) {
    sparse_[ref] = s;
  } else {
    sparse_.erase(ref);
  }
}

MemSeries* SeriesStore::InsertLocked(SeriesRef ref, SeriesHash hash, std::string_view pending) {
  MemSeries* s = NewSeriesLocked(ref, hash);
  // The labels are in place before any other thread can reach the series.
  if (!pending.empty()) {
    std::lock_guard lock(pending_mu_);
    pending_.emplace(s, pending);
  }
  SetRefLocked(ref, s);
  IndexLocked(s);
  ++size_;
  next_ref_ = std::max(next_ref_, ref + 1);
  return s;
}

MemSeries* SeriesStore::GetByRef(SeriesRef ref) const {
  if ((ref >> kChunkBits) < kMaxChunks) return FindRefLocked(ref);  // lock-free part
  std::shared_lock lock(mu_);
  return FindRefLocked(ref);
}

MemSeries* SeriesStore::GetByLabels(const Labels& labels) const {
  SeriesHash hash;
  EncodeForLookup(labels, &hash);
  std::shared_lock lock(mu_);
  return FindLabelsLocked(hash);
}

MemSeries* SeriesStore::GetOrCreate(const Labels& labels, bool* created) {
  *created = false;
  SeriesHash hash;
  const std::string_view encoded = EncodeForLookup(labels, &hash);
  {
    std::shared_lock lock(mu_);
    if (MemSeries* s = FindLabelsLocked(hash)) return s;
  }
  std::unique_lock lock(mu_);
  if (MemSeries* s = FindLabelsLocked(hash)) return s;  // lost a race
  *created = true;
  return InsertLocked(next_ref_, hash, encoded);
}

MemSeries* SeriesStore::AddReplayed(SeriesRef ref, const Labels& labels) {
  SeriesHash hash;
  EncodeForLookup(labels, &hash);
  std::unique_lock lock(mu_);
  next_ref_ = std::max(next_ref_, ref + 1);
  if (MemSeries* s = FindLabelsLocked(hash)) return s;
  if (MemSeries* s = FindRefLocked(ref)) return s;
  MemSeries* s = InsertLocked(ref, hash, {});
  s->logged.store(true, std::memory_order_relaxed);
  return s;
}

std::string_view SeriesStore::PendingLabels(const MemSeries* s) const {
  std::lock_guard lock(pending_mu_);
  auto it = pending_.find(s);
  return it == pending_.end() ? std::string_view() : std::string_view(it->second);
}

void SeriesStore::ReleasePending(std::span<MemSeries* const> series) {
  if (series.empty()) return;
  std::lock_guard lock(pending_mu_);
  for (const MemSeries* s : series) pending_.erase(s);
  // The first scrape of many targets creates every series at once; give the buckets back.
  if (pending_.bucket_count() > 64 && pending_.size() * 8 < pending_.bucket_count()) {
    pending_.rehash(0);
  }
}

size_t SeriesStore::pending() const {
  std::lock_guard lock(pending_mu_);
  return pending_.size();
}

void SeriesStore::GC(int64_t mint, std::vector<SeriesRef>* removed) {
  std::unique_lock lock(mu_);
  if (!graveyard_.empty()) {
    std::lock_guard pending_lock(pending_mu_);
    for (MemSeries* s : graveyard_) pending_.erase(s);
  }
  for (MemSeries* s : graveyard_) FreeSeriesLocked(s);
  graveyard_.clear();
  std::vector<MemSeries*> keep;
  keep.reserve(size_);
  for (MemSeries* s : by_hash_) {
    if (s == nullptr) continue;
    // A series not yet logged may belong to a batch in flight, which has not stored its first
    // timestamp yet: spare it once. Still unlogged a whole cycle later, its batch was abandoned.
    bool live = s->last_ts.load(std::memory_order_relaxed) >= mint;
    if (!live && !s->logged.load(std::memory_order_relaxed) && !s->gc_spared) {
      s->gc_spared = true;
      live = true;
    }
    if (live) {
      keep.push_back(s);
      continue;
    }
    SetRefLocked(s->ref, nullptr);
    removed->push_back(s->ref);
    graveyard_.push_back(s);
  }
  // Rebuild the index from the survivors, shrinking it when most of it emptied.
  size_ = 0;
  hash_bits_ = 0;
  by_hash_.clear();
  by_hash_.shrink_to_fit();
  for (MemSeries* s : keep) {
    IndexLocked(s);
    ++size_;
  }
}

size_t SeriesStore::size() const {
  std::shared_lock lock(mu_);
  return size_;
}

SeriesRef SeriesStore::next_ref() const {
  std::shared_lock lock(mu_);
  return next_ref_;
}

}  // namespace petrel::wal
