#include "remotewrite/series_cache.h"

#include "remotewrite/encoder.h"

namespace petrel::remotewrite {

Labels MergeExternalLabels(const Labels& series, const Labels& external) {
  if (external.empty()) return series;
  LabelsBuilder b(series);
  for (const Label& l : external) {
    if (!series.Has(l.name)) b.Set(l.name, l.value);
  }
  return b.Build();
}

void SeriesCache::Store(wal::SeriesRef ref, const Labels& labels) {
  scratch_.clear();
  EncodeLabels(MergeExternalLabels(labels, external_), &scratch_);
  auto& slot = by_ref_[ref];
  if (slot != nullptr) {
    // The WAL logs a series again after a restart; same labels is the common case.
    if (slot->encoded_labels == scratch_) return;
    retired_.push_back(std::move(slot));
  }
  slot = std::make_unique<CachedSeries>(CachedSeries{scratch_});
}

}  // namespace petrel::remotewrite
