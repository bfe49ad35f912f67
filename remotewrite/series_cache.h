// SeriesCache: series ref -> the final label set a queue sends for it. Computed once per series
// (external labels merged, series labels winning, then write_relabel_configs applied), so the
// send path only copies bytes. A series the rules drop (or leave without labels) is stored with
// dropped set: its samples are counted as samples_dropped_total{reason="dropped_series"} and
// never sent.
//
// Memory: one entry per active series per endpoint. Label pairs are interned in one
// LabelPairTable per cache, pre-encoded as sent; an entry is a 12-byte header and its pair ids
// (about 10 bytes for a node_exporter series). The ref index is a two-level array while refs
// are dense, with a hash map for the rest (RefIndex).
//
// Entries are immutable once stored (but for their segment tag). Queued samples point at them,
// so an entry that is replaced (a ref stored again with other labels) or forgotten (Reset) is
// not freed: TakeRetired hands the owner a ticket for the entries retired so far, and
// FreeRetired(ticket) frees them (and the pairs only they used) once no queued sample can
// point at them any more. Until then LabelsOf() of a retired entry stays valid.
// One caller at a time.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "config/relabel.h"
#include "remotewrite/label_pairs.h"
#include "wal/appender.h"

namespace petrel::remotewrite {

// One allocation per series: this header followed by its pair ids (PairedLabels::ids).
class CachedSeries {
 public:
  bool dropped() const { return dropped_; }  // write_relabel_configs dropped the series

  uint32_t segment = 0;  // the newest WAL segment (or checkpoint) its record was seen in

 private:
  friend class SeriesCache;
  CachedSeries(uint32_t seg, uint32_t encoded_size, uint32_t ids_size, bool dropped)
      : segment(seg), encoded_size_(encoded_size), ids_size_(ids_size), dropped_(dropped) {}
  std::string_view ids() const { return {reinterpret_cast<const char*>(this + 1), ids_size_}; }

  const uint32_t encoded_size_;
  const uint32_t ids_size_ : 31;
  const uint32_t dropped_ : 1;
};
static_assert(sizeof(CachedSeries) == 12);

// series plus each external label whose name the series does not have (series labels win).
Labels MergeExternalLabels(const Labels& series, const Labels& external);

// Ref -> pointer. Refs normally come from a counter, so they live in chunks of kChunkSize slots
// found through a small map of chunk numbers (cache-resident). A chunk is allocated only while
// all chunks' slots stay within twice the series indexed (plus a small floor); other refs go to
// a plain hash map. So sparse refs (another writer's WAL, refs far apart) cannot allocate a
// chunk each: the chunks cost at most 16 bytes per series.
class RefIndex {
 public:
  CachedSeries* Find(wal::SeriesRef ref) const;
  // ref must not be present.
  void Insert(wal::SeriesRef ref, CachedSeries* s);
  // Replaces the pointer of a present ref.
  void Replace(wal::SeriesRef ref, CachedSeries* s);
  // Removes every entry for which pred(entry) holds, calling out(entry) for each.
  template <typename Pred, typename Out>
  void EraseIf(Pred pred, Out out);
  size_t size() const { return dense_ + sparse_.size(); }
  size_t chunks() const { return chunks_.size(); }
  size_t sparse() const { return sparse_.size(); }

  static constexpr int kChunkBits = 8;
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;

 private:
  struct Chunk {
    std::array<CachedSeries*, kChunkSize> slots{};
    uint32_t count = 0;
  };
  CachedSeries** Slot(wal::SeriesRef ref) const;

  absl::flat_hash_map<uint64_t, std::unique_ptr<Chunk>> chunks_;  // by ref >> kChunkBits
  absl::flat_hash_map<wal::SeriesRef, CachedSeries*> sparse_;
  size_t dense_ = 0;  // entries in chunks
  // Find's memo of the last chunk looked up: consecutive refs share one.
  mutable uint64_t last_key_ = UINT64_MAX;
  mutable Chunk* last_chunk_ = nullptr;
};

class SeriesCache {
 public:
  // rules: the endpoint's write_relabel_configs, validated.
  explicit SeriesCache(Labels external_labels, std::vector<config::RelabelConfig> rules = {})
      : external_(std::move(external_labels)), rules_(std::move(rules)) {}
  ~SeriesCache();
  SeriesCache(const SeriesCache&) = delete;
  SeriesCache& operator=(const SeriesCache&) = delete;

  // Records the series as seen in `segment`.
  void Store(wal::SeriesRef ref, const petrel::Labels& labels, uint32_t segment);
  // nullptr when ref is unknown.
  const CachedSeries* Find(wal::SeriesRef ref) const { return index_.Find(ref); }
  // The labels of an entry of this cache (stored, or retired and not yet freed); empty when
  // dropped. Valid until the entry is freed.
  PairedLabels LabelsOf(const CachedSeries& s) const { return {&pairs_, s.ids(), s.encoded_size_}; }
  // Forgets the series last seen before `segment`.
  void Reset(uint32_t segment);
  size_t size() const { return index_.size(); }

  // A ticket for the entries replaced or forgotten so far; FreeRetired(ticket) frees them.
  uint64_t TakeRetired();
  // Frees the entries of every ticket up to and including `ticket`.
  void FreeRetired(uint64_t ticket);
  bool has_retired() const { return !retired_.empty(); }
  // Retired entries not yet freed.
  size_t retired() const;

  const LabelPairTable& pairs() const { return pairs_; }
  const RefIndex& index() const { return index_; }

 private:
  // Drops the entry's pair references and frees it.
  void Free(CachedSeries* s);

  const Labels external_;
  const std::vector<config::RelabelConfig> rules_;
  LabelsBuilder builder_;
  LabelPairTable pairs_;
  RefIndex index_;  // owns the entries it points to
  std::vector<CachedSeries*> retired_;
  std::deque<std::pair<uint64_t, std::vector<CachedSeries*>>> taken_;  // by ticket, ascending
  uint64_t next_ticket_ = 1;
  std::string ids_;  // scratch
};

}  // namespace petrel::remotewrite
