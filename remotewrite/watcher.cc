#include "remotewrite/watcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

#include "remotewrite/logfmt.h"

namespace petrel::remotewrite {
namespace {

// How often an idle or finished segment looks for its successor (Prometheus: 100 ms).
constexpr auto kListInterval = std::chrono::milliseconds(100);

// N for "checkpoint.N" (decimal digits only: "checkpoint.N.tmp" is unfinished); -1 otherwise.
int64_t CheckpointIndex(std::string_view name) {
  constexpr std::string_view kPrefix = "checkpoint.";
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) return -1;
  int64_t n = 0;
  for (char c : name.substr(kPrefix.size())) {
    if (c < '0' || c > '9' || n > (int64_t{1} << 40)) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

void Watcher::Log(spdlog::level::level_enum level, std::string_view msg, const Status& err) const {
  spdlog::log(level, "msg={} component=remote remote_name={} err={}", Quote(msg), consumer_,
              Quote(err.ToString()));
}

Watcher::Watcher(Fs& fs, Registry& metrics, std::string wal_dir, std::string consumer,
                 int64_t start_ms, Sink& sink, std::chrono::milliseconds checkpoint_interval)
    : fs_(fs),
      metrics_(metrics),
      wal_dir_(std::move(wal_dir)),
      consumer_(std::move(consumer)),
      start_ms_(start_ms),
      sink_(sink),
      checkpoint_interval_(checkpoint_interval) {
  decode_failures_ = metrics_.GetCounter("prometheus_wal_watcher_record_decode_failures_total",
                                         "Number of records read by the WAL watcher that resulted "
                                         "in an error when decoding.",
                                         {"consumer"}, {consumer_});
  current_segment_ = metrics_.GetGauge("prometheus_wal_watcher_current_segment",
                                       "Current segment the WAL watcher is reading records from.",
                                       {"consumer"}, {consumer_});
}

Watcher::~Watcher() = default;

Counter* Watcher::RecordsRead(wal::RecordType type) {
  Counter*& c = records_read_[static_cast<uint8_t>(type)];
  if (c == nullptr) {
    c = metrics_.GetCounter("prometheus_wal_watcher_records_read_total",
                            "Number of records read by the WAL watcher from the WAL.",
                            {"consumer", "type"}, {consumer_, wal::TypeName(type)});
  }
  return c;
}

void Watcher::Begin() {
  auto segments = wal::ListSegments(fs_, wal_dir_);
  const bool any = segments.ok() && !segments->empty();
  if (resume_) {
    start_ms_ = INT64_MIN;
    if (any && std::binary_search(segments->begin(), segments->end(), resume_->segment)) {
      tail_from_ = resume_->segment;
      skip_offset_ = resume_->offset;
    } else {
      // Truncated or dropped since: everything left is newer than the saved position.
      tail_from_ = any ? segments->front() : 0;
    }
    return;
  }
  // No WAL yet: every segment that appears is new, so all of it is tailed.
  tail_from_ = any ? segments->back() : 0;
}

Watcher::Progress Watcher::Poll(size_t max_records, std::stop_token stop) {
  stop_ = std::move(stop);
  if (!initialized_ && !Init()) return Progress::kIdle;
  if (!OfferPending()) return Progress::kBlocked;
  if (unreported_) {
    sink_.Read(*unreported_);
    unreported_.reset();
  }
  MaybeNewCheckpoint();
  for (size_t n = 0; n < max_records;) {
    if (reader_ == nullptr || current_broken_) {
      if (!MaybeAdvance()) return Progress::kIdle;
      continue;
    }
    auto next = reader_->Next(&record_);
    if (!next.ok()) {
      spdlog::error(
          "msg=\"Error reading WAL, skipping the rest of the segment\" component=remote "
          "remote_name={} segment={} err={}",
          consumer_, wal::SegmentName(static_cast<uint32_t>(current_)),
          Quote(next.status().ToString()));
      current_broken_ = true;
      continue;
    }
    if (!*next) {
      // Records never span segments and the writer finishes a segment before it creates the
      // next one. So once a newer segment is listed, one more read of this one (the loop
      // coming round again, advance_to_ set) sees all it will ever hold.
      if (advance_to_ >= 0) {
        OpenLive(static_cast<uint32_t>(advance_to_));
        continue;
      }
      if (!FindNewer()) return Progress::kIdle;
      continue;
    }
    ++n;
    const WalPosition end{static_cast<uint32_t>(current_segment()), reader_->offset()};
    // Before a resume position everything was acknowledged already: series only.
    const bool tail = !(end.segment == tail_from_ && end.offset <= skip_offset_);
    record_end_ = end;
    if (tail) sink_.BeginRecord(end);
    if (!Dispatch(record_, tail, end.segment)) {
      unreported_ = end;
      return Progress::kBlocked;
    }
    sink_.Read(end);
  }
  return Progress::kRead;
}

bool Watcher::Init() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_list_ < kListInterval) return false;
  last_list_ = now;
  auto segments = wal::ListSegments(fs_, wal_dir_);
  if (!segments.ok() || segments->empty()) {
    if (!segments.ok() && segments.status().code() != Code::kNotFound) {
      Log(spdlog::level::warn, "Error listing WAL segments", segments.status());
    }
    return false;
  }
  // Series of the segments truncation folded away live on in the newest checkpoint.
  auto first = segments->begin();
  last_checkpoint_check_ = now;
  if (int64_t newest = NewestCheckpoint(); newest >= 0) {
    ReadCheckpoint(static_cast<uint32_t>(newest));
    first = std::lower_bound(segments->begin(), segments->end(), static_cast<uint32_t>(newest));
  }
  auto tail = std::lower_bound(segments->begin(), segments->end(), tail_from_);
  if (tail == segments->end()) --tail;  // truncated past tail_from_ meanwhile
  if (*tail != tail_from_) skip_offset_ = 0;
  for (auto it = std::min(first, tail); it != tail; ++it) ReplaySeries(wal_dir_, *it, *it);
  OpenLive(*tail);
  initialized_ = true;
  return true;
}

int64_t Watcher::NewestCheckpoint() {
  auto names = fs_.List(wal_dir_);
  if (!names.ok()) return -1;
  int64_t newest = -1;
  for (const std::string& name : *names) newest = std::max(newest, CheckpointIndex(name));
  return newest;
}

void Watcher::ReadCheckpoint(uint32_t index) {
  checkpoint_ = index;
  const std::string dir = JoinPath(wal_dir_, fmt::format("checkpoint.{:08d}", index));
  auto segments = wal::ListSegments(fs_, dir);
  if (!segments.ok()) {
    Log(spdlog::level::warn, "Error reading checkpoint", segments.status().Prefixed(dir));
    return;
  }
  for (uint32_t segment : *segments) ReplaySeries(dir, segment, index);
}

void Watcher::MaybeNewCheckpoint() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_checkpoint_check_ < checkpoint_interval_) return;
  last_checkpoint_check_ = now;
  int64_t newest = NewestCheckpoint();
  // A checkpoint at or past the segment being read still covers records not read yet; its
  // series would be tagged too new. Wait until the watcher has moved past it.
  if (newest <= checkpoint_ || newest >= current_segment()) return;
  ReadCheckpoint(static_cast<uint32_t>(newest));
  sink_.SeriesReset(static_cast<uint32_t>(newest));
}

void Watcher::ReplaySeries(const std::string& dir, uint32_t index, uint32_t segment) {
  if (dir == wal_dir_) {
    current_ = index;
    current_segment_->Set(index);
  }
  auto reader = wal::SegmentReader::Open(fs_, dir, index, wal::SegmentReader::Mode::kStrict);
  if (!reader.ok()) {
    Log(spdlog::level::warn, "Error replaying WAL", reader.status());
    return;
  }
  while (!stop_.stop_requested()) {
    auto next = (*reader)->Next(&record_);
    if (!next.ok()) {
      // A torn tail after a crash is expected; the series before it are still good.
      Log(spdlog::level::warn, "Error replaying WAL", next.status());
      return;
    }
    if (!*next) return;
    Dispatch(record_, /*tail=*/false, segment);
  }
}

void Watcher::OpenLive(uint32_t index) {
  reader_.reset();
  advance_to_ = -1;
  current_ = index;
  current_segment_->Set(index);
  current_broken_ = false;
  auto reader = wal::SegmentReader::Open(fs_, wal_dir_, index, wal::SegmentReader::Mode::kLive);
  if (!reader.ok()) {
    Log(spdlog::level::err, "Error opening WAL segment", reader.status());
    current_broken_ = true;
    return;
  }
  reader_ = std::move(*reader);
}

bool Watcher::FindNewer() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_list_ < kListInterval) return false;
  last_list_ = now;
  auto segments = wal::ListSegments(fs_, wal_dir_);
  if (!segments.ok()) {
    Log(spdlog::level::warn, "Error listing WAL segments", segments.status());
    return false;
  }
  auto it = std::upper_bound(segments->begin(), segments->end(), static_cast<uint32_t>(current_));
  if (it == segments->end()) return false;
  if (*it != current_ + 1) {
    spdlog::warn(
        "msg=\"WAL segment is gone, continuing at a later one\" component=remote remote_name={} "
        "segment={} next={}",
        consumer_, wal::SegmentName(static_cast<uint32_t>(current_ + 1)), wal::SegmentName(*it));
  }
  advance_to_ = *it;
  return true;
}

bool Watcher::MaybeAdvance() {
  if (advance_to_ < 0 && !FindNewer()) return false;
  OpenLive(static_cast<uint32_t>(advance_to_));
  return true;
}

bool Watcher::Dispatch(const std::string& record, bool tail, uint32_t segment) {
  wal::RecordType type = wal::TypeOf(record);
  RecordsRead(type)->Inc();
  switch (type) {
    case wal::RecordType::kSeries: {
      series_.clear();
      Status st = wal::DecodeSeries(record, &series_);
      if (!st.ok()) {
        decode_failures_->Inc();
        Log(spdlog::level::warn, "Error decoding record",
            st.Prefixed("segment " + wal::SegmentName(segment)));
        return true;
      }
      sink_.StoreSeries(series_, segment);
      return true;
    }
    case wal::RecordType::kSamples:
      // Samples in segments written before this queue started are skipped (Prometheus does the
      // same: replay reads series only, which is >10x faster).
      if (!tail) return true;
      return DecodeAndOffer(record, segment, Pending::kSamples, &pending_, wal::DecodeSamples);
    case wal::RecordType::kHistogramSamples:
    case wal::RecordType::kCustomBucketsHistogramSamples:
      if (!tail || !forward_histograms_) return true;
      return DecodeAndOffer(record, segment, Pending::kHistograms, &pending_histograms_,
                            wal::DecodeHistogramSamples);
    case wal::RecordType::kFloatHistogramSamples:
    case wal::RecordType::kCustomBucketsFloatHistogramSamples:
      if (!tail || !forward_histograms_) return true;
      return DecodeAndOffer(record, segment, Pending::kFloatHistograms, &pending_float_histograms_,
                            wal::DecodeFloatHistogramSamples);
    case wal::RecordType::kExemplars:
      if (!tail || !forward_exemplars_) return true;
      return DecodeAndOffer(record, segment, Pending::kExemplars, &pending_exemplars_,
                            wal::DecodeExemplars);
    default:
      // Metadata, tombstones, mmap markers and the v2 sample types (not written by Prometheus's
      // agent) carry nothing remote write sends.
      return true;
  }
}

template <typename T, typename DecodeFn>
bool Watcher::DecodeAndOffer(const std::string& record, uint32_t segment, Pending kind,
                             std::vector<T>* items, DecodeFn decode) {
  items->clear();
  pending_kind_ = kind;
  pending_pos_ = 0;
  Status st = decode(record, items);
  if (!st.ok()) {
    items->clear();
    decode_failures_->Inc();
    Log(spdlog::level::warn, "Error decoding record",
        st.Prefixed("segment " + wal::SegmentName(segment)));
    return true;
  }
  if (std::erase_if(*items, [this](const T& s) { return s.t < start_ms_; })) {
    last_filtered_ = record_end_;
  }
  return OfferPending();
}

bool Watcher::OfferPending() {
  auto offer = [this](const auto& items, auto append) {
    if (pending_pos_ >= items.size()) return true;
    pending_pos_ += append(std::span(items).subspan(pending_pos_));
    return pending_pos_ == items.size();
  };
  switch (pending_kind_) {
    case Pending::kSamples:
      return offer(pending_, [this](auto s) { return sink_.Append(s); });
    case Pending::kHistograms:
      return offer(pending_histograms_, [this](auto s) { return sink_.AppendHistograms(s); });
    case Pending::kFloatHistograms:
      return offer(pending_float_histograms_,
                   [this](auto s) { return sink_.AppendFloatHistograms(s); });
    case Pending::kExemplars:
      return offer(pending_exemplars_, [this](auto s) { return sink_.AppendExemplars(s); });
  }
  return true;
}

}  // namespace petrel::remotewrite
