#include "wal/series_store.h"

#include <algorithm>
#include <mutex>

namespace petrel::wal {

SeriesStore::SeriesStore() : chunks_(new std::atomic<Chunk*>[kMaxChunks]) {
  for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

SeriesStore::~SeriesStore() = default;

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

MemSeries* SeriesStore::InsertLocked(SeriesRef ref, Labels labels, uint64_t hash) {
  MemSeries* s = &arena_.emplace_back(ref, std::move(labels), hash);
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
  } else {
    sparse_[ref] = s;
  }
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

size_t SeriesStore::size() const {
  std::shared_lock lock(mu_);
  return arena_.size();
}

SeriesRef SeriesStore::next_ref() const {
  std::shared_lock lock(mu_);
  return next_ref_;
}

}  // namespace petrel::wal
