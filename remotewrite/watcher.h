// Watcher: tails the WAL for one remote-write queue, as Prometheus' tsdb/wlog watcher does
// (shared/reference/wal-format.md §8).
//
// Begin() notes the newest segment at that moment. The first Poll reads the newest complete
// checkpoint (checkpoint.N, Series records only), then every older segment from N on for
// Series records only (their samples were written before this queue started), then reads the
// noted segment from its start in live mode and moves on to each next segment once it appears.
// While tailing, a new checkpoint (older than the current segment) is read for its series and
// the sink is told to forget series last seen before it (Prometheus' SeriesReset).
// Samples are forwarded only when t >= start_ms (Prometheus: t > start). Not strictly after:
// a scrape that starts in the same millisecond as its queue may be stamped with that
// millisecond (the scheduler snaps timestamps to the tick), and it must not be lost. Series
// records always reach the sink before the samples that use them. (Prometheus picks the segment
// when its goroutine runs; noting it in Begin, on the starter's thread, means no sample committed
// after Start returns is skipped.)
//
// Poll never blocks: it is driven by the queue's loop, which also runs the HTTP transfers. When
// the sink takes only part of a Samples record (shards full), the rest is kept and offered again
// on the next Poll, and no further record is read until it is taken: back-pressure, never loss.
//
// ResumeFrom(p) before Begin changes the start: tailing begins at p.segment (or, when that
// segment is gone, at the oldest one), its records ending at or before p.offset are read for
// series only, and every later sample is forwarded whatever its timestamp.
//
// After each record read while tailing has been handed over completely, the sink is told the
// position just past it (Sink::Read), so the queue can tell which records it has finished.
//
// One caller at a time.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/metrics.h"
#include "wal/reader.h"
#include "wal/records.h"

namespace petrel::remotewrite {

// A place in the WAL: just past the records of segment `segment` that end at or before offset.
struct WalPosition {
  uint32_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const WalPosition&) const = default;
};

class Watcher {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    // series were read from WAL segment `segment` (or from checkpoint.<segment>).
    virtual void StoreSeries(std::span<const wal::RefSeries> series, uint32_t segment) = 0;
    // A checkpoint.<segment> was read: series last seen in an older segment are gone from the
    // WAL for good and may be forgotten.
    virtual void SeriesReset(uint32_t segment) = 0;
    // The samples Append gets next (until the next BeginRecord) are those of the record that
    // ends at `end`, in record order; a record the sink did not take whole is offered again
    // from where it stopped, without a new BeginRecord.
    virtual void BeginRecord(WalPosition end) { (void)end; }
    // Takes a prefix of samples; returns its length (less than samples.size() when full).
    virtual size_t Append(std::span<const wal::RefSample> samples) = 0;
    // The same for native histograms and exemplars, offered only when Forward asked for them.
    // A record holds one kind, so the items of one record come through one of these methods.
    virtual size_t AppendHistograms(std::span<const wal::RefHistogramSample> h) { return h.size(); }
    virtual size_t AppendFloatHistograms(std::span<const wal::RefFloatHistogramSample> h) {
      return h.size();
    }
    virtual size_t AppendExemplars(std::span<const wal::RefExemplar> e) { return e.size(); }
    // Every sample of the tailed records up to `end` has been taken by Append.
    virtual void Read(WalPosition end) { (void)end; }
  };

  enum class Progress {
    kIdle,     // nothing new in the WAL right now
    kRead,     // read max_records records; more may be waiting
    kBlocked,  // the sink is full
  };

  // consumer is the queue's remote_name (label of the prometheus_wal_watcher_* metrics).
  // fs, metrics and sink must outlive the watcher.
  // checkpoint_interval: how often to look for a new checkpoint while tailing.
  Watcher(Fs& fs, Registry& metrics, std::string wal_dir, std::string consumer, int64_t start_ms,
          Sink& sink, std::chrono::milliseconds checkpoint_interval = std::chrono::seconds(5));
  ~Watcher();

  // Which records besides Samples are forwarded: exemplars (Exemplars records) and native
  // histograms (the four histogram record types), as Prometheus' watcher does with
  // send_exemplars / send_native_histograms. Both off by default; others are read and skipped
  // (their records still count as read for Sink::Read). Call before the first Poll.
  void Forward(bool exemplars, bool histograms) {
    forward_exemplars_ = exemplars;
    forward_histograms_ = histograms;
  }
  // Resume from a saved position instead of the newest segment and start_ms (see above). Call
  // before Begin.
  void ResumeFrom(WalPosition position) { resume_ = position; }
  // Notes the segment to tail from. Call once, before the first Poll (may be another thread).
  void Begin();
  // Where tailing starts, as Begin decided: nothing before it will be forwarded.
  WalPosition start_position() const { return {tail_from_, skip_offset_}; }

  // Reads at most max_records records and hands their contents to the sink. The first call
  // also replays older segments' series, which can take long on a big WAL; a stop request ends
  // that early (the watcher is then not to be polled again).
  Progress Poll(size_t max_records, std::stop_token stop = {});

  // The newest record some of whose samples were left out as older than start_ms (they are
  // not offered to the sink, so sample indices in it differ from a resumed watcher's).
  WalPosition last_filtered() const { return last_filtered_; }

  // The segment being read; -1 before the WAL was found. Thread-safe.
  int64_t current_segment() const { return current_.load(std::memory_order_relaxed); }

 private:
  enum class Pending { kSamples, kHistograms, kFloatHistograms, kExemplars };

  bool Init();
  // The newest complete checkpoint's index, or -1.
  int64_t NewestCheckpoint();
  void ReadCheckpoint(uint32_t index);
  void MaybeNewCheckpoint();
  // Reads Series records of segment `index` in dir (the WAL or a checkpoint); samples skipped.
  // segment tags the series (the checkpoint's index when dir is a checkpoint).
  void ReplaySeries(const std::string& dir, uint32_t index, uint32_t segment);
  // Handles one record; false when the sink did not take all of its samples.
  bool Dispatch(const std::string& record, bool tail, uint32_t segment);
  // Decodes a record of items into *items (cleared), drops those older than start_ms_, and
  // offers the rest. decode: one of wal::Decode*.
  template <typename T, typename DecodeFn>
  bool DecodeAndOffer(const std::string& record, uint32_t segment, Pending kind,
                      std::vector<T>* items, DecodeFn decode);
  bool OfferPending();
  void OpenLive(uint32_t index);
  // Lists the segments (at most every 100 ms); sets advance_to_ when a newer one exists.
  bool FindNewer();
  // Opens the next segment when one is known or found; false when there is none yet.
  bool MaybeAdvance();
  Counter* RecordsRead(wal::RecordType type);
  void Log(spdlog::level::level_enum level, std::string_view msg, const Status& err) const;

  Fs& fs_;
  Registry& metrics_;
  const std::string wal_dir_;
  const std::string consumer_;
  int64_t start_ms_;
  Sink& sink_;
  const std::chrono::milliseconds checkpoint_interval_;
  std::stop_token stop_;  // of the current Poll

  bool initialized_ = false;
  uint32_t tail_from_ = 0;  // set by Begin; older segments are read for series only
  std::optional<WalPosition> resume_;
  uint64_t skip_offset_ = 0;  // records of tail_from_ ending at or before it: series only
  std::optional<WalPosition> unreported_;  // a record the sink has not taken all of yet
  WalPosition record_end_;                 // of the record being dispatched
  WalPosition last_filtered_;
  std::atomic<int64_t> current_{-1};
  std::unique_ptr<wal::SegmentReader> reader_;  // live reader of segment current_
  bool current_broken_ = false;                 // a read error: skip the rest of this segment
  int64_t advance_to_ = -1;  // a newer segment exists: move there once this one is drained
  std::chrono::steady_clock::time_point last_list_{};
  std::chrono::steady_clock::time_point last_checkpoint_check_{};
  int64_t checkpoint_ = -1;  // index of the newest checkpoint read

  std::string record_;                  // reused record buffer
  std::vector<wal::RefSeries> series_;  // reused decode buffer
  // The items of the last record read, not yet all taken by the sink: one kind at a time.
  Pending pending_kind_ = Pending::kSamples;
  std::vector<wal::RefSample> pending_;
  std::vector<wal::RefHistogramSample> pending_histograms_;
  std::vector<wal::RefFloatHistogramSample> pending_float_histograms_;
  std::vector<wal::RefExemplar> pending_exemplars_;
  size_t pending_pos_ = 0;
  bool forward_exemplars_ = false;
  bool forward_histograms_ = false;

  Counter* records_read_[256] = {};
  Counter* decode_failures_;
  Gauge* current_segment_;
};

}  // namespace petrel::remotewrite
