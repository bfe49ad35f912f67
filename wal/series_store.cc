#include "wal/series_store.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace petrel::wal {

SeriesStore::SeriesStore() : chunks_(new std::atomic<Chunk*>[kMaxChunks]) {
  for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

SeriesStore::~SeriesStore() {
  for (auto& [hash, head] : by_hash_) {
    for (MemSeries* s = head; s != nullptr;) delete std::exchange(s, s->next_same_hash);
  }
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

MemSeries* SeriesStore::FindLabelsLocked(const Labels& labels, uint64_t hash) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return nullptr;
  for (MemSeries* s = it->second; s != nullptr; s = s->next_same_hash) {
    if (s->labels == labels) return s;
  }
  return nullptr;
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

MemSeries* SeriesStore::InsertLocked(SeriesRef ref, Labels labels, uint64_t hash) {
  auto* s = new MemSeries(ref, std::move(labels), hash);
  SetRefLocked(ref, s);
  ++size_;
  MemSeries*& head = by_hash_[hash];
  s->next_same_hash = head;
  head = s;
  next_ref_ = std::max(next_ref_, ref + 1);
  return s;
}

MemSeries* SeriesStore::GetByRef(SeriesRef ref) const {
  if ((ref >> kChunkBits) < kMaxChunks) return FindRefLocked(ref);  // lock-free part
  std::shared_lock lock(mu_);
  return FindRefLocked(ref);
}

MemSeries* SeriesStore::GetByLabels(const Labels& labels, uint64_t hash) const {
  std::shared_lock lock(mu_);
  return FindLabelsLocked(labels, hash);
}

MemSeries* SeriesStore::GetOrCreate(const Labels& labels, uint64_t hash, bool* created) {
  *created = false;
  if (MemSeries* s = GetByLabels(labels, hash)) return s;
  std::unique_lock lock(mu_);
  if (MemSeries* s = FindLabelsLocked(labels, hash)) return s;  // lost a race
  *created = true;
  return InsertLocked(next_ref_, labels, hash);
}

MemSeries* SeriesStore::AddReplayed(SeriesRef ref, Labels labels) {
  const uint64_t hash = labels.Hash();
  std::unique_lock lock(mu_);
  next_ref_ = std::max(next_ref_, ref + 1);
  if (MemSeries* s = FindLabelsLocked(labels, hash)) return s;
  if (MemSeries* s = FindRefLocked(ref)) return s;
  MemSeries* s = InsertLocked(ref, std::move(labels), hash);
  s->logged.store(true, std::memory_order_relaxed);
  return s;
}

void SeriesStore::GC(int64_t mint, std::vector<SeriesRef>* removed) {
  std::unique_lock lock(mu_);
  graveyard_.clear();
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    MemSeries** link = &it->second;
    while (MemSeries* s = *link) {
      // A series not yet logged may belong to a batch in flight, which has not stored its
      // first timestamp yet: spare it once. Still unlogged a whole cycle later, its batch was
      // abandoned.
      bool keep = s->last_ts.load(std::memory_order_relaxed) >= mint;
      if (!keep && !s->logged.load(std::memory_order_relaxed) && !s->gc_spared) {
        s->gc_spared = true;
        keep = true;
      }
      if (keep) {
        link = &s->next_same_hash;
        continue;
      }
      *link = s->next_same_hash;
      SetRefLocked(s->ref, nullptr);
      removed->push_back(s->ref);
      graveyard_.emplace_back(s);
      --size_;
    }
    it = it->second == nullptr ? by_hash_.erase(it) : std::next(it);
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
