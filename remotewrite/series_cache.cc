#include "remotewrite/series_cache.h"

#include <cstring>
#include <new>

#include "remotewrite/encoder.h"

namespace petrel::remotewrite {

CachedSeries::Ptr CachedSeries::Create(std::string_view encoded_labels, bool dropped,
                                       uint32_t segment) {
  void* mem = ::operator new(sizeof(CachedSeries) + encoded_labels.size());
  auto* s = new (mem) CachedSeries(static_cast<uint32_t>(encoded_labels.size()), dropped, segment);
  std::memcpy(reinterpret_cast<char*>(s + 1), encoded_labels.data(), encoded_labels.size());
  return Ptr(s);
}

Labels MergeExternalLabels(const Labels& series, const Labels& external) {
  if (external.empty()) return series;
  LabelsBuilder b(series);
  for (const Label& l : external) {
    if (!series.Has(l.name)) b.Set(l.name, l.value);
  }
  return b.Build();
}

void SeriesCache::Store(wal::SeriesRef ref, const Labels& labels, uint32_t segment) {
  scratch_.clear();
  bool dropped = false;
  if (rules_.empty()) {
    EncodeLabels(MergeExternalLabels(labels, external_), &scratch_);
  } else {
    builder_.Reset(MergeExternalLabels(labels, external_));
    if (config::Relabel(builder_, rules_)) {
      Labels out = builder_.Build();
      dropped = out.empty();
      if (!dropped) EncodeLabels(out, &scratch_);
    } else {
      dropped = true;
    }
  }
  auto& slot = by_ref_[ref];
  if (slot != nullptr) {
    // A checkpoint repeats series already read; a restart may log them again. Same labels is
    // the common case.
    if (slot->encoded_labels() == scratch_ && slot->dropped == dropped) {
      slot->segment = std::max(slot->segment, segment);
      return;
    }
    retired_.push_back(std::move(slot));
  }
  slot = CachedSeries::Create(scratch_, dropped, segment);
}

void SeriesCache::Reset(uint32_t segment) {
  for (auto it = by_ref_.begin(); it != by_ref_.end();) {
    if (it->second->segment < segment) {
      retired_.push_back(std::move(it->second));
      by_ref_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace petrel::remotewrite
