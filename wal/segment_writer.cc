#include "wal/segment_writer.h"

#include <fmt/format.h>
#include <snappy.h>
#ifdef PETREL_HAVE_ZSTD
#include <zstd.h>
#endif

#include <algorithm>
#include <chrono>

#include "wal/crc32c.h"
#include "wal/reader.h"

namespace petrel::wal {
namespace {

constexpr uint64_t kPage = kPageSize;
constexpr uint64_t kMaxFragmentPayload = kPageSize - kFragmentHeaderSize;

enum FragmentKind : uint8_t { kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };
constexpr uint8_t kSnappyFlag = 0x08;
constexpr uint8_t kZstdFlag = 0x10;

const char kZeros[kPageSize] = {};

}  // namespace

WriterMetrics WriterMetrics::Register(Registry& r) {
  WriterMetrics m;
  m.page_flushes =
      r.GetCounter("prometheus_tsdb_wal_page_flushes_total", "Total number of page flushes.");
  m.completed_pages =
      r.GetCounter("prometheus_tsdb_wal_completed_pages_total", "Total number of completed pages.");
  m.writes_failed = r.GetCounter("prometheus_tsdb_wal_writes_failed_total",
                                 "Total number of write log writes that failed.");
  m.record_part_writes = r.GetCounter("prometheus_tsdb_wal_record_part_writes_total",
                                      "Total number of record parts written before flushing.");
  m.record_parts_bytes = r.GetCounter(
      "prometheus_tsdb_wal_record_parts_bytes_written_total",
      "Total number of record part bytes written before flushing, including CRC and compression "
      "headers.");
  const char* saved_help = "Total number of bytes saved by the optional record compression.";
  m.bytes_saved_snappy = r.GetCounter("prometheus_tsdb_wal_record_bytes_saved_total", saved_help,
                                      {"compression"}, {"snappy"});
  m.bytes_saved_zstd = r.GetCounter("prometheus_tsdb_wal_record_bytes_saved_total", saved_help,
                                    {"compression"}, {"zstd"});
  m.fsync_duration =
      r.GetHistogram("prometheus_tsdb_wal_fsync_duration_seconds", "Duration of write log fsync.",
                     {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  m.segment_current = r.GetGauge("prometheus_tsdb_wal_segment_current",
                                 "Write log segment index that TSDB is currently writing to.");
  return m;
}

struct SegmentWriter::Zstd {
#ifdef PETREL_HAVE_ZSTD
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Zstd() { ZSTD_freeCCtx(cctx); }
#endif
};

SegmentWriter::SegmentWriter(Fs& fs, std::string wal_dir, WriterOptions options,
                             WriterMetrics metrics)
    : fs_(fs), dir_(std::move(wal_dir)), options_(options), metrics_(metrics) {
  if (options_.compression == Compression::kZstd) zstd_ = std::make_unique<Zstd>();
}

SegmentWriter::~SegmentWriter() {
  if (file_) (void)CloseSegment();
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(Fs& fs, std::string wal_dir,
                                                             uint32_t index, WriterOptions options,
                                                             WriterMetrics metrics) {
  if (options.segment_bytes < kPage || options.segment_bytes % kPage != 0) {
    return Status::InvalidArgument(fmt::format("segment size {} is not a positive multiple of {}",
                                               options.segment_bytes, kPage));
  }
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(fs, std::move(wal_dir), options, metrics));
  if (Status s = w->OpenSegment(index); !s.ok()) return s;
  return w;
}

Status SegmentWriter::OpenSegment(uint32_t index) {
  const std::string path = JoinPath(dir_, SegmentName(index));
  if (fs_.Exists(path)) {
    return Status::Io(fmt::format("segment {} already exists in {}", SegmentName(index), dir_));
  }
  auto file = fs_.OpenForAppend(path);
  if (!file.ok()) return Status::Io(file.status().message());
  if (Status s = fs_.SyncDir(dir_); !s.ok()) return Status::Io(s.message());
  file_ = std::move(*file);
  index_ = index;
  offset_ = written_ = synced_ = 0;
  broken_ = false;
  if (metrics_.segment_current != nullptr) metrics_.segment_current->Set(index);
  return Status::Ok();
}

Status SegmentWriter::CloseSegment() {
  // A closed segment is a whole number of pages: readers rely on it only loosely (a short last
  // page reads as zeros), but Prometheus writes it so and so do we.
  pending_.clear();
  if (uint64_t used = offset_ % kPage; used != 0 && !broken_) {
    pending_.append(kZeros, kPage - used);
    offset_ += kPage - used;
    Inc(metrics_.page_flushes);
    Inc(metrics_.completed_pages);
  }
  Status s = WritePending();
  if (s.ok()) s = SyncFile();
  Status c = file_->Close();
  file_.reset();
  return s.ok() ? c : s;
}

Status SegmentWriter::SyncFile() {
  const auto start = std::chrono::steady_clock::now();
  Status s = file_->Sync();
  if (s.ok()) synced_ = written_;
  if (metrics_.fsync_duration != nullptr) {
    metrics_.fsync_duration->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return s;
}

Status SegmentWriter::Sync() {
  if (!file_) return Status::Io("wal writer is closed");
  if (synced_ == written_) return Status::Ok();
  return SyncFile();
}

Status SegmentWriter::NextSegment() {
  if (!file_) return Status::Io("wal writer is closed");
  Status s = CloseSegment();
  // The next segment is started even when closing the old one failed, so writing can go on.
  Status o = OpenSegment(index_ + 1);
  return s.ok() ? o : s;
}

Status SegmentWriter::Close() {
  if (!file_) return Status::Ok();
  return CloseSegment();
}

uint64_t SegmentWriter::Capacity() const {
  const int64_t used = static_cast<int64_t>(offset_ % kPage);
  const int64_t done_pages = static_cast<int64_t>(offset_ / kPage);
  const int64_t pages = static_cast<int64_t>(options_.segment_bytes / kPage);
  int64_t left = static_cast<int64_t>(kPage) - used - kFragmentHeaderSize;
  left += static_cast<int64_t>(kMaxFragmentPayload) * (pages - done_pages - 1);
  return left > 0 ? static_cast<uint64_t>(left) : 0;
}

std::string_view SegmentWriter::Compress(std::string_view rec, uint8_t* flag) {
  *flag = 0;
  if (rec.empty()) return rec;
  size_t len = 0;
  Counter* saved = nullptr;
  switch (options_.compression) {
    case Compression::kNone:
      return rec;
    case Compression::kSnappy:
      compressed_.resize(snappy::MaxCompressedLength(rec.size()));
      snappy::RawCompress(rec.data(), rec.size(), compressed_.data(), &len);
      *flag = kSnappyFlag;
      saved = metrics_.bytes_saved_snappy;
      break;
    case Compression::kZstd:
#ifdef PETREL_HAVE_ZSTD
      compressed_.resize(ZSTD_compressBound(rec.size()));
      len = ZSTD_compressCCtx(zstd_->cctx, compressed_.data(), compressed_.size(), rec.data(),
                              rec.size(), options_.zstd_level);
      if (ZSTD_isError(len)) len = rec.size();  // store raw
      *flag = kZstdFlag;
      saved = metrics_.bytes_saved_zstd;
      break;
#else
      return rec;  // unreachable: Create rejects zstd without support
#endif
  }
  if (len >= rec.size()) {  // compression kept only when strictly smaller
    *flag = 0;
    return rec;
  }
  Inc(saved, static_cast<double>(rec.size() - len));
  return std::string_view(compressed_.data(), len);
}

void SegmentWriter::AddRecord(std::string_view rec, uint8_t flag) {
  // One pass even for an empty record, which is stored as one empty FULL fragment.
  for (bool first = true; first || !rec.empty(); first = false) {
    const uint64_t avail = kPage - offset_ % kPage - kFragmentHeaderSize;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(rec.size(), avail));
    const bool last = n == rec.size();
    uint8_t type = first ? (last ? kFull : kFirst) : (last ? kLast : kMiddle);
    type |= flag;
    const std::string_view part = rec.substr(0, n);
    const uint32_t crc = Crc32c(part);
    const char header[kFragmentHeaderSize] = {
        static_cast<char>(type),      static_cast<char>(n >> 8),    static_cast<char>(n),
        static_cast<char>(crc >> 24), static_cast<char>(crc >> 16), static_cast<char>(crc >> 8),
        static_cast<char>(crc)};
    pending_.append(header, kFragmentHeaderSize);
    pending_.append(part);
    offset_ += kFragmentHeaderSize + n;
    Inc(metrics_.record_part_writes);
    Inc(metrics_.record_parts_bytes, static_cast<double>(kFragmentHeaderSize + n));
    rec.remove_prefix(n);

    // A page with fewer than 7 bytes left cannot take another header: zero-fill it. Exactly 7
    // left is not full; the next fragment there is an empty FIRST, as in Prometheus.
    const uint64_t used = offset_ % kPage;
    if (used == 0 || kPage - used < kFragmentHeaderSize) {
      if (used != 0) {
        pending_.append(kZeros, kPage - used);
        offset_ += kPage - used;
      }
      Inc(metrics_.page_flushes);
      Inc(metrics_.completed_pages);
    }
  }
}

Status SegmentWriter::WritePending() {
  if (pending_.empty()) return Status::Ok();
  const uint64_t before = file_->Size();
  Status s = file_->Append(pending_);
  pending_.clear();
  if (s.ok()) {
    written_ = offset_;
    return s;
  }
  if (file_->Size() != before) {
    // Cut the torn bytes off so the segment stays readable; if that fails, stop writing to it.
    if (!fs_.Truncate(JoinPath(dir_, SegmentName(index_)), written_).ok()) broken_ = true;
  }
  offset_ = written_;
  return Status::Io(s.message());
}

Status SegmentWriter::Log(std::span<const std::string_view> records) {
  if (!file_) return Status::Io("wal writer is closed");
  if (broken_) {
    if (Status s = NextSegment(); !s.ok()) {
      Inc(metrics_.writes_failed);
      return s;
    }
  }
  pending_.clear();
  for (std::string_view rec : records) {
    uint8_t flag = 0;
    rec = Compress(rec, &flag);
    // Records never span segments, so a segment can be deleted whole once it was sent.
    if (rec.size() > Capacity() && offset_ > 0) {
      Status s = WritePending();
      if (s.ok()) s = NextSegment();
      if (!s.ok()) {
        Inc(metrics_.writes_failed);
        return s;
      }
    }
    AddRecord(rec, flag);
  }
  if (offset_ % kPage != 0) Inc(metrics_.page_flushes);
  Status s = WritePending();
  if (!s.ok()) Inc(metrics_.writes_failed);
  return s;
}

}  // namespace petrel::wal
