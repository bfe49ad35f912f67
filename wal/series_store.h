// SeriesStore: the agent's in-memory series, one label set per ref (Prometheus tsdb/agent
// stripeSeries). Internal to wal/. Thread-safe.
//
// Memory is what an edge agent is judged on, and this table is the largest thing it keeps
// (one entry per active series). A series is a fixed 40-byte MemSeries: its ref, a 128-bit hash
// of its label set, its last timestamp and two flags. No label bytes are kept once the series'
// Series record is in the WAL: lookups by labels compare hashes (see SeriesHash for why that is
// safe), and the checkpoint copies series records from the segments. Series are carved from
// slab blocks in creation order, so a target's series, created together by its first scrape, sit
// side by side: the per-sample read of last_ts walks memory in order instead of jumping between
// malloc chunks (that one cache miss was 87% of AppenderImpl::Append, ~7% of petrel's CPU, at
// 200k series), and a series costs 40 bytes rather than a 48-byte malloc chunk. A series created by
// GetOrCreate keeps its encoded labels in a pending table until ReleasePending, which the
// Storage calls once the record is written. The label index is an open-addressing table of
// pointers keyed by the hash, and the ref index is a two-level array while refs are dense (the
// normal case: refs come from a counter), falling back to a hash map for outliers. Measured
// (mallinfo2, 200k node_exporter-shaped series, all logged): 78 bytes per series with a 48-byte
// malloc chunk each (8 in the ref array, 21 in the label index), 166 with the labels inline.
//
// The ref array is read without a lock (GetByRef is the per-sample path): chunks are allocated
// once and never move, and slots are published with release stores. A MemSeries never moves.
// GC unlinks series at once but frees them (and any pending labels) only at the next GC (a
// truncation period later), so a pointer taken by an in-flight append stays valid.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "wal/appender.h"

namespace petrel::wal {

// Hash128Of (common/hash128.h: XXH3-128 under a secret drawn once per process) of a label set's
// WAL encoding. Two label sets are taken to be equal when their hashes are. For n distinct
// series the chance that any two collide is about n^2 / 2^129 (1e-27 at a million series), and
// since the secret is fresh per process, a target cannot choose label sets that collide. The
// store is in memory only and replay recomputes every hash, so nothing needs persisting.
struct SeriesHash {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const SeriesHash&) const = default;

  static SeriesHash Of(std::string_view encoded_labels);
};

class MemSeries {
 public:
  MemSeries(SeriesRef r, SeriesHash h) : hash(h), ref(r) {}

  const SeriesHash hash;
  const SeriesRef ref;
  // Timestamp of the newest committed (or replayed) sample; appends must be newer.
  std::atomic<int64_t> last_ts{std::numeric_limits<int64_t>::min()};
  // Its Series record is in the WAL. Changed only under the Storage's writer mutex.
  std::atomic<bool> logged{false};
  bool gc_spared = false;  // guarded by the store's mutex
};

class SeriesStore {
 public:
  SeriesStore();
  ~SeriesStore();

  // The label set as a WAL series entry encodes it after the ref: uvarint count, then
  // uvarint-length-prefixed name and value of each label. Appends to *out.
  static void EncodeLabels(const Labels& labels, std::string* out);

  // The series with this ref, or null.
  MemSeries* GetByRef(SeriesRef ref) const;
  // The series with these labels, or null.
  MemSeries* GetByLabels(const Labels& labels) const;
  // The series with these labels, created with the next free ref if new (*created says which).
  // A created series is not logged and holds its encoded labels until ReleasePending.
  MemSeries* GetOrCreate(const Labels& labels, bool* created);
  // Replay: registers ref -> labels (marked logged). When the labels are already known under
  // another ref, or the ref is taken, the existing series is returned and nothing is added;
  // the caller maps the record's ref onto it, as Prometheus does (first ref wins).
  MemSeries* AddReplayed(SeriesRef ref, const Labels& labels);

  // The encoded labels of a series created by GetOrCreate and not yet released; empty for any
  // other (an encoding is never empty). The view stays valid until ReleasePending(s) or the
  // series is freed.
  std::string_view PendingLabels(const MemSeries* s) const;
  // Frees the pending labels of these series (their Series record is in the WAL).
  void ReleasePending(std::span<MemSeries* const> series);
  // Series holding pending labels (tests, diagnostics).
  size_t pending() const;

  // Unlinks every series whose last_ts < mint (lookups stop finding them), sparing once a series
  // not yet logged (its batch may be in flight); appends their
  // refs to *removed. Frees the series unlinked by the previous GC, with their pending labels.
  void GC(int64_t mint, std::vector<SeriesRef>* removed);

  size_t size() const;
  SeriesRef next_ref() const;

 private:
  MemSeries* FindRefLocked(SeriesRef ref) const;
  MemSeries* FindLabelsLocked(SeriesHash hash) const;
  // Links a new series; a non-empty `pending` (its encoded labels) is kept until released,
  // recorded before the series is published.
  MemSeries* InsertLocked(SeriesRef ref, SeriesHash hash, std::string_view pending);
  // A new series in the slab (a freed slot, else the next one of the last block).
  MemSeries* NewSeriesLocked(SeriesRef ref, SeriesHash hash);
  void FreeSeriesLocked(MemSeries* s);
  // Puts s into the label index (growing it when 3/4 full); the caller counts it.
  void IndexLocked(MemSeries* s);
  void SetRefLocked(SeriesRef ref, MemSeries* s);

  static constexpr int kChunkBits = 12;  // 4096 refs per chunk
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;
  static constexpr size_t kMaxChunks = size_t{1} << 14;  // dense refs below 2^26
  using Chunk = std::array<std::atomic<MemSeries*>, kChunkSize>;

  // The ref index for refs below kChunkSize * kMaxChunks: read without a lock, written under
  // mu_. A chunk, once stored, is never replaced or freed before the store. The index (with
  // sparse_) owns the series it points to.
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;

  mutable std::shared_mutex mu_;  // guards every member below up to pending_mu_
  std::vector<std::unique_ptr<Chunk>> chunk_owner_;
  std::vector<MemSeries*> graveyard_;  // unlinked by last GC
  // The slab: every MemSeries lives in one of these blocks, which never move or shrink; the
  // index (with sparse_) and graveyard_ say which slots hold one. Freed slots are reused before
  // new ones, oldest first: a freed slot stays free (and poisoned under ASan, so a use of a
  // freed series reports) for as long as possible.
  static constexpr size_t kSlabBlock = 1024;
  struct SlabSlot {
    alignas(MemSeries) std::byte bytes[sizeof(MemSeries)];
  };
  std::vector<std::unique_ptr<SlabSlot[]>> slab_;
  size_t slab_used_ = kSlabBlock;  // slots handed out from slab_.back()
  std::deque<SlabSlot*> free_slots_;
  size_t size_ = 0;                                   // linked series
  std::unordered_map<SeriesRef, MemSeries*> sparse_;  // refs past the chunks
  // The label index: linear probing over a power-of-two table, slot = Fibonacci hash of the
  // label hash; null is empty. Nothing is erased in place: GC rebuilds it. Owns the series.
  std::vector<MemSeries*> by_hash_;
  int hash_bits_ = 0;
  SeriesRef next_ref_ = 1;

  // Guards pending_. A leaf: taken under mu_ (create, GC) or under the Storage's writer mutex,
  // never the other way round.
  mutable std::mutex pending_mu_;
  // Encoded labels of created series whose Series record is not yet written. Node-based, so a
  // view into a value survives other inserts.
  std::unordered_map<const MemSeries*, std::string> pending_;
};

}  // namespace petrel::wal
