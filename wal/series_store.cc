#include "wal/series_store.h"

#include <algorithm>
#include <mutex>

namespace petrel::wal {

MemSeries* SeriesStore::FindRefLocked(SeriesRef ref) const {
  if (ref < dense_.size()) return dense_[ref];
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
  // Grow the dense index when the ref is near the count of series (a counter's refs); a stray
  // huge ref goes to the sparse map instead of blowing up the vector.
  if (ref >= dense_.size() && ref <= 2 * arena_.size() + 1024) {
    dense_.resize(std::max<size_t>(ref + 1, dense_.size() * 3 / 2), nullptr);
    for (auto it = sparse_.begin(); it != sparse_.end();) {
      if (it->first < dense_.size()) {
        dense_[it->first] = it->second;
        it = sparse_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (ref < dense_.size()) {
    dense_[ref] = s;
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
