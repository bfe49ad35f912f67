#include "remotewrite/series_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

namespace petrel::remotewrite {
namespace {

// The chunks hold at most this many slots per series in the index (a slot is 8 bytes), or this
// many in all whatever the count: beyond, refs go to the hash map. Dense refs take one slot
// each; sparse ones cost at most 16 bytes a series more than the map alone would.
constexpr size_t kSlotsPerSeries = 2;
constexpr size_t kFreeSlots = 16 * RefIndex::kChunkSize;

}  // namespace

Labels MergeExternalLabels(const Labels& series, const Labels& external) {
  if (external.empty()) return series;
  LabelsBuilder b(series);
  for (const Label& l : external) {
    if (!series.Has(l.name)) b.Set(l.name, l.value);
  }
  return b.Build();
}

CachedSeries** RefIndex::Slot(wal::SeriesRef ref) const {
  const uint64_t key = ref >> kChunkBits;
  if (key != last_key_) {
    auto it = chunks_.find(key);
    if (it == chunks_.end()) return nullptr;
    last_key_ = key;
    last_chunk_ = it->second.get();
  }
  return &last_chunk_->slots[ref & (kChunkSize - 1)];
}

CachedSeries* RefIndex::Find(wal::SeriesRef ref) const {
  if (CachedSeries** slot = Slot(ref); slot != nullptr && *slot != nullptr) return *slot;
  if (sparse_.empty()) return nullptr;
  auto it = sparse_.find(ref);
  return it == sparse_.end() ? nullptr : it->second;
}

void RefIndex::Insert(wal::SeriesRef ref, CachedSeries* s) {
  CachedSeries** slot = Slot(ref);
  if (slot == nullptr &&
      (chunks_.size() + 1) * kChunkSize <= std::max(kFreeSlots, kSlotsPerSeries * (size() + 1))) {
    chunks_.emplace(ref >> kChunkBits, std::make_unique<Chunk>());
    slot = Slot(ref);
  }
  if (slot == nullptr) {
    sparse_.emplace(ref, s);
    return;
  }
  assert(*slot == nullptr);
  *slot = s;
  ++last_chunk_->count;
  ++dense_;
}

void RefIndex::Replace(wal::SeriesRef ref, CachedSeries* s) {
  if (CachedSeries** slot = Slot(ref); slot != nullptr && *slot != nullptr) {
    *slot = s;
    return;
  }
  auto it = sparse_.find(ref);
  assert(it != sparse_.end());
  it->second = s;
}

template <typename Pred, typename Out>
void RefIndex::EraseIf(Pred pred, Out out) {
  last_key_ = UINT64_MAX;
  last_chunk_ = nullptr;
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    Chunk& c = *it->second;
    for (CachedSeries*& slot : c.slots) {
      if (slot == nullptr || !pred(*slot)) continue;
      out(slot);
      slot = nullptr;
      --c.count;
      --dense_;
    }
    if (c.count == 0) {
      chunks_.erase(it++);  // churn: refs keep rising, old chunks empty out
    } else {
      ++it;
    }
  }
  for (auto it = sparse_.begin(); it != sparse_.end();) {
    if (pred(*it->second)) {
      out(it->second);
      sparse_.erase(it++);
    } else {
      ++it;
    }
  }
}

SeriesCache::~SeriesCache() {
  auto destroy = [](CachedSeries* s) {
    s->~CachedSeries();
    ::operator delete(s);
  };
  index_.EraseIf([](const CachedSeries&) { return true; }, destroy);
  for (CachedSeries* s : retired_) destroy(s);
  for (auto& [ticket, entries] : taken_) {
    for (CachedSeries* s : entries) destroy(s);
  }
}

void SeriesCache::Store(wal::SeriesRef ref, const petrel::Labels& labels, uint32_t segment) {
  ids_.clear();
  uint32_t encoded_size = 0;
  bool dropped = false;
  auto intern = [this, &encoded_size](const petrel::Labels& final_labels) {
    for (const Label& l : final_labels) {
      const uint32_t id = pairs_.Ref(l.name, l.value);
      AppendPairId(id, &ids_);
      encoded_size += static_cast<uint32_t>(pairs_.encoded(id).size());
    }
  };
  if (rules_.empty()) {
    intern(MergeExternalLabels(labels, external_));
  } else {
    builder_.Reset(MergeExternalLabels(labels, external_));
    if (config::Relabel(builder_, rules_)) {
      petrel::Labels out = builder_.Build();
      dropped = out.empty();
      intern(out);
    } else {
      dropped = true;
    }
  }
  CachedSeries* old = index_.Find(ref);
  if (old != nullptr && old->dropped() == dropped && old->ids() == ids_) {
    // A checkpoint repeats series already read; a restart may log them again. Same labels is
    // the common case (same pairs, so the same ids).
    old->segment = std::max(old->segment, segment);
    PairedLabels{&pairs_, ids_, 0}.ForEach([this](uint32_t id) { pairs_.Unref(id); });
    return;
  }
  assert(ids_.size() < (size_t{1} << 31));  // a record holds far fewer labels
  void* mem = ::operator new(sizeof(CachedSeries) + ids_.size());
  auto* s =
      new (mem) CachedSeries(segment, encoded_size, static_cast<uint32_t>(ids_.size()), dropped);
  std::memcpy(reinterpret_cast<char*>(s + 1), ids_.data(), ids_.size());
  if (old == nullptr) {
    index_.Insert(ref, s);
  } else {
    retired_.push_back(old);
    index_.Replace(ref, s);
  }
}

void SeriesCache::Reset(uint32_t segment) {
  index_.EraseIf([segment](const CachedSeries& s) { return s.segment < segment; },
                 [this](CachedSeries* s) { retired_.push_back(s); });
}

uint64_t SeriesCache::TakeRetired() {
  const uint64_t ticket = next_ticket_++;
  taken_.emplace_back(ticket, std::move(retired_));
  retired_.clear();
  return ticket;
}

void SeriesCache::FreeRetired(uint64_t ticket) {
  while (!taken_.empty() && taken_.front().first <= ticket) {
    for (CachedSeries* s : taken_.front().second) Free(s);
    taken_.pop_front();
  }
}

size_t SeriesCache::retired() const {
  size_t n = retired_.size();
  for (const auto& [ticket, entries] : taken_) n += entries.size();
  return n;
}

void SeriesCache::Free(CachedSeries* s) {
  LabelsOf(*s).ForEach([this](uint32_t id) { pairs_.Unref(id); });
  s->~CachedSeries();
  ::operator delete(s);
}

}  // namespace petrel::remotewrite
