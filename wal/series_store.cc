#include "wal/series_store.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>

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

// Reads a uvarint written by PutUvarintRaw; the encoding is our own, so it is well formed.
uint64_t GetUvarintRaw(const unsigned char*& p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const unsigned char b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
}

size_t Slot(uint64_t hash, int bits) {
  return static_cast<size_t>((hash * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

}  // namespace

MemSeries* MemSeries::Create(SeriesRef ref, const Labels& labels, uint64_t hash) {
  size_t n = UvarintSize(labels.size());
  for (const auto& l : labels) {
    n += UvarintSize(l.name.size()) + l.name.size() + UvarintSize(l.value.size()) + l.value.size();
  }
  void* mem = ::operator new(sizeof(MemSeries) + n);
  auto* s = new (mem) MemSeries(ref, hash, static_cast<uint32_t>(n));
  char* p = reinterpret_cast<char*>(s + 1);
  p = PutUvarintRaw(labels.size(), p);
  for (const auto& l : labels) {
    p = PutUvarintRaw(l.name.size(), p);
    std::memcpy(p, l.name.data(), l.name.size());
    p += l.name.size();
    p = PutUvarintRaw(l.value.size(), p);
    std::memcpy(p, l.value.data(), l.value.size());
    p += l.value.size();
  }
  return s;
}

void MemSeries::Destroy(MemSeries* s) {
  s->~MemSeries();
  ::operator delete(s);
}

Labels MemSeries::labels() const {
  const auto* p = reinterpret_cast<const unsigned char*>(this + 1);
  std::vector<Label> out(GetUvarintRaw(p));
  for (Label& l : out) {
    size_t len = GetUvarintRaw(p);
    l.name.assign(reinterpret_cast<const char*>(p), len);
    p += len;
    len = GetUvarintRaw(p);
    l.value.assign(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  return Labels::FromSorted(std::move(out));
}

bool MemSeries::HasLabels(const Labels& labels) const {
  const auto* p = reinterpret_cast<const unsigned char*>(this + 1);
  if (GetUvarintRaw(p) != labels.size()) return false;
  auto same = [&p](std::string_view want) {
    const size_t len = GetUvarintRaw(p);
    if (len != want.size() || std::memcmp(p, want.data(), len) != 0) return false;
    p += len;
    return true;
  };
  for (const auto& l : labels) {
    if (!same(l.name) || !same(l.value)) return false;
  }
  return true;
}

SeriesStore::SeriesStore() : chunks_(new std::atomic<Chunk*>[kMaxChunks]) {
  for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

SeriesStore::~SeriesStore() {
  for (MemSeries* s : by_hash_) {
    if (s != nullptr) MemSeries::Destroy(s);
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
  if (by_hash_.empty()) return nullptr;
  const size_t mask = by_hash_.size() - 1;
  for (size_t i = Slot(hash, hash_bits_);; i = (i + 1) & mask) {
    MemSeries* s = by_hash_[i];
    if (s == nullptr) return nullptr;
    if (s->hash == hash && s->HasLabels(labels)) return s;
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

MemSeries* SeriesStore::InsertLocked(SeriesRef ref, const Labels& labels, uint64_t hash) {
  MemSeries* s = MemSeries::Create(ref, labels, hash);
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

MemSeries* SeriesStore::AddReplayed(SeriesRef ref, const Labels& labels) {
  const uint64_t hash = labels.Hash();
  std::unique_lock lock(mu_);
  next_ref_ = std::max(next_ref_, ref + 1);
  if (MemSeries* s = FindLabelsLocked(labels, hash)) return s;
  if (MemSeries* s = FindRefLocked(ref)) return s;
  MemSeries* s = InsertLocked(ref, labels, hash);
  s->logged.store(true, std::memory_order_relaxed);
  return s;
}

void SeriesStore::GC(int64_t mint, std::vector<SeriesRef>* removed) {
  std::unique_lock lock(mu_);
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
    graveyard_.emplace_back(s);
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
