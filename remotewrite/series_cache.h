// SeriesCache: series ref -> the final label set a queue sends for it, already encoded as RW 1.0
// Label fields. Computed once per series (external labels merged, then encoded), so the send path
// only copies bytes.
//
// Entries are immutable once stored and their addresses stay valid for the cache's lifetime,
// also when a ref is stored again with other labels (the old entry is retired, not freed), so
// queued samples may point at them.
// One caller at a time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <memory>
#include <string>
#include <vector>

#include "common/labels.h"
#include "wal/appender.h"

namespace petrel::remotewrite {

struct CachedSeries {
  std::string encoded_labels;  // EncodeLabels of the final label set
};

// series plus each external label whose name the series does not have (series labels win).
Labels MergeExternalLabels(const Labels& series, const Labels& external);

class SeriesCache {
 public:
  explicit SeriesCache(Labels external_labels) : external_(std::move(external_labels)) {}

  void Store(wal::SeriesRef ref, const Labels& labels);
  // nullptr when ref was never stored.
  const CachedSeries* Find(wal::SeriesRef ref) const {
    auto it = by_ref_.find(ref);
    return it == by_ref_.end() ? nullptr : it->second.get();
  }
  size_t size() const { return by_ref_.size(); }

 private:
  const Labels external_;
  absl::flat_hash_map<wal::SeriesRef, std::unique_ptr<CachedSeries>> by_ref_;
  std::vector<std::unique_ptr<CachedSeries>> retired_;  // replaced entries, see above
  std::string scratch_;
};

}  // namespace petrel::remotewrite
