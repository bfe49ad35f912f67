#include "wal/checkpoint.h"

#include <fmt/format.h>

#include <charconv>
#include <string_view>
#include <vector>

#include "wal/reader.h"
#include "wal/records.h"

namespace petrel::wal {
namespace {

constexpr std::string_view kPrefix = "checkpoint.";
constexpr size_t kBatchBytes = 1 << 20;  // records are logged in ~1 MiB batches

// The index of a "checkpoint.N" name; -1 for anything else (".tmp" leftovers included).
int64_t CheckpointIndex(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return -1;
  name.remove_prefix(kPrefix.size());
  uint32_t index = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
  if (name.empty() || ec != std::errc() || ptr != name.data() + name.size()) return -1;
  return index;
}

// Re-encodes the kept part of each record into batches and logs them.
class Filter {
 public:
  Filter(SegmentWriter& writer, const std::function<bool(SeriesRef)>& keep, int64_t mint)
      : writer_(writer), keep_(keep), mint_(mint) {}

  Status Add(std::string_view rec) {
    switch (TypeOf(rec)) {
      case RecordType::kSeries: {
        series_.clear();
        if (Status s = DecodeSeries(rec, &series_); !s.ok()) return s;
        std::string* out = nullptr;
        for (const auto& rs : series_) {
          if (!keep_(rs.ref)) {
            ++stats.series_dropped;
            continue;
          }
          if (out == nullptr) out = Next(RecordType::kSeries);
          EncodeSeriesEntry(rs.ref, rs.labels, out);
          ++stats.series_kept;
        }
        break;
      }
      case RecordType::kSamples: {
        samples_.clear();
        if (Status s = DecodeSamples(rec, &samples_); !s.ok()) return s;
        kept_.clear();
        for (const auto& rs : samples_) {
          if (rs.t >= mint_) kept_.push_back(rs);
        }
        stats.samples_kept += kept_.size();
        stats.samples_dropped += samples_.size() - kept_.size();
        if (!kept_.empty()) {
          std::string* out = Next(RecordType::kSamples);
          out->clear();
          EncodeSamples(kept_, out);
        }
        break;
      }
      // Histograms and exemplars at or after mint are kept, as Prometheus's checkpoint does,
      // each kind re-encoded into a record of its own type.
      case RecordType::kHistogramSamples:
      case RecordType::kCustomBucketsHistogramSamples: {
        std::vector<RefHistogramSample> in;
        if (Status s = DecodeHistogramSamples(rec, &in); !s.ok()) return s;
        Keep(std::move(in), &stats.samples_kept, &stats.samples_dropped, EncodeHistogramSamples);
        break;
      }
      case RecordType::kFloatHistogramSamples:
      case RecordType::kCustomBucketsFloatHistogramSamples: {
        std::vector<RefFloatHistogramSample> in;
        if (Status s = DecodeFloatHistogramSamples(rec, &in); !s.ok()) return s;
        Keep(std::move(in), &stats.samples_kept, &stats.samples_dropped,
             EncodeFloatHistogramSamples);
        break;
      }
      case RecordType::kExemplars: {
        std::vector<RefExemplar> in;
        if (Status s = DecodeExemplars(rec, &in); !s.ok()) return s;
        Keep(std::move(in), &stats.exemplars_kept, &stats.exemplars_dropped, EncodeExemplars);
        break;
      }
      default:
        break;  // nothing else is written by Petrel or needed by remote write
    }
    return batch_bytes_ >= kBatchBytes ? Flush() : Status::Ok();
  }

  Status Flush() {
    views_.clear();
    for (size_t i = 0; i < used_; ++i) views_.push_back(batch_[i]);
    Status s = views_.empty() ? Status::Ok() : writer_.Log(views_);
    used_ = 0;
    batch_bytes_ = 0;
    return s;
  }

  CheckpointStats stats;

 private:
  // Appends a record of the items of `in` at or after mint (when there are any) to the batch.
  template <typename T, typename Encode>
  void Keep(std::vector<T> in, uint64_t* kept, uint64_t* dropped, Encode encode) {
    const size_t total = in.size();
    std::erase_if(in, [this](const T& item) { return item.t < mint_; });
    *kept += in.size();
    *dropped += total - in.size();
    if (in.empty()) return;
    std::string* out = Next(RecordType::kUnknown);
    out->clear();
    encode(std::span<const T>(in), out);
  }

  std::string* Next(RecordType type) {
    if (used_ > 0) batch_bytes_ += batch_[used_ - 1].size();
    if (used_ == batch_.size()) batch_.emplace_back();
    std::string* out = &batch_[used_++];
    out->assign(1, static_cast<char>(type));
    return out;
  }

  SegmentWriter& writer_;
  const std::function<bool(SeriesRef)>& keep_;
  const int64_t mint_;
  std::vector<RefSeries> series_;
  std::vector<RefSample> samples_;
  std::vector<RefSample> kept_;
  std::vector<std::string> batch_;  // reused buffers; the first used_ hold records
  size_t used_ = 0;
  size_t batch_bytes_ = 0;
  std::vector<std::string_view> views_;
};

Status CopySegment(Fs& fs, const std::string& dir, uint32_t index, Filter& filter) {
  auto reader = SegmentReader::Open(fs, dir, index, SegmentReader::Mode::kStrict);
  if (!reader.ok()) return reader.status();
  std::string rec;
  for (;;) {
    auto more = (*reader)->Next(&rec);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    if (Status s = filter.Add(rec); !s.ok()) {
      return s.Prefixed(fmt::format("{} segment {}", dir, SegmentName(index)));
    }
  }
}

Result<CheckpointStats> Build(Fs& fs, const std::string& wal_dir, const std::string& tmp,
                              uint32_t first, uint32_t last,
                              const std::function<bool(SeriesRef)>& keep, int64_t mint,
                              WriterOptions options) {
  if (Status s = fs.MkdirAll(tmp); !s.ok()) return s;
  auto writer = SegmentWriter::Create(fs, tmp, 0, options, {});
  if (!writer.ok()) return writer.status();
  Filter filter(**writer, keep, mint);
  auto previous = LastCheckpoint(fs, wal_dir);
  if (!previous.ok()) return previous.status();
  if (*previous > static_cast<int64_t>(last)) {
    return Status::InvalidArgument(fmt::format("a newer checkpoint {} exists",
                                               CheckpointName(static_cast<uint32_t>(*previous))));
  }
  uint32_t from = first;
  if (*previous >= 0) {
    const std::string dir = JoinPath(wal_dir, CheckpointName(static_cast<uint32_t>(*previous)));
    auto parts = ListSegments(fs, dir);
    if (!parts.ok()) return parts.status();
    for (uint32_t part : *parts) {
      if (Status s = CopySegment(fs, dir, part, filter); !s.ok()) return s;
    }
    from = std::max<uint32_t>(from, static_cast<uint32_t>(*previous) + 1);
  }
  for (uint32_t index = from; index <= last; ++index) {
    if (Status s = CopySegment(fs, wal_dir, index, filter); !s.ok()) return s;
  }
  if (Status s = filter.Flush(); !s.ok()) return s;
  if (Status s = (*writer)->Close(); !s.ok()) return s;
  if (Status s = fs.SyncDir(tmp); !s.ok()) return s;
  return filter.stats;
}

}  // namespace

Result<CheckpointStats> Checkpoint(Fs& fs, const std::string& wal_dir, uint32_t first,
                                   uint32_t last, const std::function<bool(SeriesRef)>& keep,
                                   int64_t mint, WriterOptions options) {
  auto names = fs.List(wal_dir);
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    if (name.substr(0, kPrefix.size()) == kPrefix && name.ends_with(".tmp")) {
      if (Status s = fs.RemoveAll(JoinPath(wal_dir, name)); !s.ok()) return s;
    }
  }
  const std::string final_dir = JoinPath(wal_dir, CheckpointName(last));
  const std::string tmp = final_dir + ".tmp";
  auto stats = Build(fs, wal_dir, tmp, first, last, keep, mint, options);
  if (!stats.ok()) {
    (void)fs.RemoveAll(tmp);
    return stats.status().Prefixed("checkpoint " + CheckpointName(last));
  }
  // The new checkpoint appears whole or not at all.
  if (Status s = fs.RemoveAll(final_dir); !s.ok()) return s;
  if (Status s = fs.Rename(tmp, final_dir); !s.ok()) return s;
  if (Status s = fs.SyncDir(wal_dir); !s.ok()) return s;
  return stats;
}

Status DeleteCheckpoints(Fs& fs, const std::string& wal_dir, uint32_t before) {
  auto names = fs.List(wal_dir);
  if (!names.ok()) return names.status();
  Status result;
  for (const auto& name : *names) {
    const int64_t index = CheckpointIndex(name);
    if (index < 0 || index >= before) continue;
    if (Status s = fs.RemoveAll(JoinPath(wal_dir, name)); !s.ok() && result.ok()) result = s;
  }
  return result;
}

}  // namespace petrel::wal
