// SeriesStore: the agent's in-memory series, one interned label set per ref (Prometheus
// tsdb/agent stripeSeries). Internal to wal/. Thread-safe.
//
// Memory: each label set is stored once, inside its MemSeries. The label index is keyed by the
// 64-bit label hash only (collisions chained through MemSeries::next_same_hash), and the ref
// index is a two-level array while refs are dense (the normal case: refs come from a counter),
// falling back to a hash map for outliers. The array is read without a lock (GetByRef is the
// per-sample path): chunks are allocated once and never move, and slots are published with
// release stores. A MemSeries never moves. GC unlinks series at once but frees them only at the
// next GC (a truncation period later), so a pointer taken by an in-flight append stays valid.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
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
  bool gc_spared = false;               // guarded by the store's mutex
};

class SeriesStore {
 public:
  SeriesStore();
  ~SeriesStore();

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

  // Unlinks every series whose last_ts < mint (lookups stop finding them), sparing once a series
  // not yet logged (its batch may be in flight); appends their
  // refs to *removed. Frees the series unlinked by the previous GC.
  void GC(int64_t mint, std::vector<SeriesRef>* removed);

  size_t size() const;
  SeriesRef next_ref() const;

 private:
  MemSeries* FindRefLocked(SeriesRef ref) const;
  MemSeries* FindLabelsLocked(const Labels& labels, uint64_t hash) const;
  MemSeries* InsertLocked(SeriesRef ref, Labels labels, uint64_t hash);
  void SetRefLocked(SeriesRef ref, MemSeries* s);

  static constexpr int kChunkBits = 12;  // 4096 refs per chunk
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;
  static constexpr size_t kMaxChunks = size_t{1} << 14;  // dense refs below 2^26
  using Chunk = std::array<std::atomic<MemSeries*>, kChunkSize>;

  // The ref index for refs below kChunkSize * kMaxChunks: read without a lock, written under
  // mu_. A chunk, once stored, is never replaced or freed before the store. The index (with
  // sparse_) owns the series it points to.
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;

  mutable std::shared_mutex mu_;  // guards every member below
  std::vector<std::unique_ptr<Chunk>> chunk_owner_;
  std::vector<std::unique_ptr<MemSeries>> graveyard_;  // unlinked by the last GC
  size_t size_ = 0;                                    // linked series
  std::unordered_map<SeriesRef, MemSeries*> sparse_;   // refs past the chunks
  std::unordered_map<uint64_t, MemSeries*> by_hash_;   // head of each hash chain
  SeriesRef next_ref_ = 1;
};

}  // namespace petrel::wal
