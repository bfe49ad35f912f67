// SeriesCache: series ref -> the final label set a queue sends for it, already encoded as RW 1.0
// Label fields. Computed once per series (external labels merged, series labels winning, then
// write_relabel_configs applied, then encoded), so the send path only copies bytes. A series the
// rules drop (or leave without labels) is stored with dropped set: its samples are counted as
// samples_dropped_total{reason="dropped_series"} and never sent.
//
// Entries are immutable once stored (but for their segment tag). Queued samples point at them,
// so an entry that is replaced (a ref stored again with other labels) or forgotten (Reset) is
// not freed: it moves to a retired list the owner takes with TakeRetired and frees once no
// queued sample can point at it any more.
// One caller at a time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "config/relabel.h"
#include "wal/appender.h"

namespace petrel::remotewrite {

// One allocation per series: a small header followed by the encoded label bytes (no separate
// std::string and its heap block), since an agent keeps one per active series per endpoint.
class CachedSeries {
 public:
  struct Deleter {
    void operator()(CachedSeries* s) const {
      s->~CachedSeries();
      ::operator delete(s);
    }
  };
  using Ptr = std::unique_ptr<CachedSeries, Deleter>;
  static Ptr Create(std::string_view encoded_labels, bool dropped, uint32_t segment);

  // EncodeLabels of the final label set; empty when dropped.
  std::string_view encoded_labels() const {
    return {reinterpret_cast<const char*>(this + 1), size_};
  }

  const bool dropped;    // write_relabel_configs dropped the series
  uint32_t segment = 0;  // the newest WAL segment (or checkpoint) its record was seen in

 private:
  CachedSeries(uint32_t size, bool d, uint32_t seg) : dropped(d), segment(seg), size_(size) {}
  const uint32_t size_;
};

// series plus each external label whose name the series does not have (series labels win).
Labels MergeExternalLabels(const Labels& series, const Labels& external);

class SeriesCache {
 public:
  // rules: the endpoint's write_relabel_configs, validated.
  explicit SeriesCache(Labels external_labels, std::vector<config::RelabelConfig> rules = {})
      : external_(std::move(external_labels)), rules_(std::move(rules)) {}

  // Records the series as seen in `segment`.
  void Store(wal::SeriesRef ref, const Labels& labels, uint32_t segment);
  // nullptr when ref is unknown.
  const CachedSeries* Find(wal::SeriesRef ref) const {
    auto it = by_ref_.find(ref);
    return it == by_ref_.end() ? nullptr : it->second.get();
  }
  // Forgets the series last seen before `segment`.
  void Reset(uint32_t segment);
  size_t size() const { return by_ref_.size(); }

  // Entries replaced or forgotten since the last call.
  std::vector<CachedSeries::Ptr> TakeRetired() {
    auto out = std::move(retired_);
    retired_.clear();
    return out;
  }
  bool has_retired() const { return !retired_.empty(); }

 private:
  const Labels external_;
  const std::vector<config::RelabelConfig> rules_;
  LabelsBuilder builder_;
  absl::flat_hash_map<wal::SeriesRef, CachedSeries::Ptr> by_ref_;
  std::vector<CachedSeries::Ptr> retired_;
  std::string scratch_;
};

}  // namespace petrel::remotewrite
