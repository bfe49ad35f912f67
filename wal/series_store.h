// SeriesStore: the agent's in-memory series, one interned label set per ref (Prometheus
// tsdb/agent stripeSeries). Internal to wal/. Thread-safe.
//
// Memory: each label set is stored once, inside its MemSeries. The label index is keyed by the
// 64-bit label hash only (collisions chained through MemSeries::next_same_hash), and the ref
// index is a plain vector while refs are dense (the normal case: refs come from a counter),
// falling back to a hash map for outliers. MemSeries never move or die while the store lives.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "wal/appender.h"

namespace petrel::wal {

struct MemSeries {
  MemSeries(SeriesRef r, Labels l, uint64_t h) : ref(r), labels(std::move(l)), hash(h) {}

  const SeriesRef ref;
  const Labels labels;
  const uint64_t hash;
  // Timestamp of the newest committed (or replayed) sample; appends must be newer.
  std::atomic<int64_t> last_ts{std::numeric_limits<int64_t>::min()};
  // Its Series record is in the WAL. Changed only under the Storage's writer mutex.
  std::atomic<bool> logged{false};
  MemSeries* next_same_hash = nullptr;  // guarded by the store's mutex
};

class SeriesStore {
 public:
  // The series with this ref, or null.
  MemSeries* GetByRef(SeriesRef ref) const;
  // The series with these labels (hash == labels.Hash()), or null.
  MemSeries* GetByLabels(const Labels& labels, uint64_t hash) const;
  // The series with these labels, created with the next free ref if new (*created says which).
  MemSeries* GetOrCreate(const Labels& labels, uint64_t hash, bool* created);
  // Replay: registers ref -> labels (marked logged). When the labels are already known under
  // another ref, or the ref is taken, the existing series is returned and nothing is added;
  // the caller maps the record's ref onto it, as Prometheus does (first ref wins).
  MemSeries* AddReplayed(SeriesRef ref, Labels labels);

  size_t size() const;
  SeriesRef next_ref() const;

 private:
  MemSeries* FindRefLocked(SeriesRef ref) const;
  MemSeries* FindLabelsLocked(const Labels& labels, uint64_t hash) const;
  MemSeries* InsertLocked(SeriesRef ref, Labels labels, uint64_t hash);

  mutable std::shared_mutex mu_;   // guards every member below
  std::deque<MemSeries> arena_;    // owns the series; deque keeps addresses stable
  std::vector<MemSeries*> dense_;  // index by ref while refs are dense
  std::unordered_map<SeriesRef, MemSeries*> sparse_;  // refs >= dense_.size()
  std::unordered_map<uint64_t, MemSeries*> by_hash_;  // head of each hash chain
  SeriesRef next_ref_ = 1;
};

}  // namespace petrel::wal
