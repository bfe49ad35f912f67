#include "wal/reader.h"

#include <fmt/format.h>
#include <snappy.h>
#ifdef PETREL_HAVE_ZSTD
#include <zstd.h>
#endif

#include <algorithm>
#include <charconv>

#include "wal/crc32c.h"
#include "wal/storage.h"

namespace petrel::wal {
namespace {

constexpr uint64_t kPage = kPageSize;
constexpr uint32_t kMaxFragmentPayload = kPageSize - kFragmentHeaderSize;
constexpr size_t kReadChunk = 4 * kPageSize;

enum FragmentKind : uint8_t { kPad = 0, kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };
constexpr uint8_t kKindMask = 0x07;
constexpr uint8_t kSnappyFlag = 0x08;
constexpr uint8_t kZstdFlag = 0x10;

const char* KindName(uint8_t kind) {
  switch (kind) {
    case kFull:
      return "full";
    case kFirst:
      return "first";
    case kMiddle:
      return "middle";
    case kLast:
      return "last";
  }
  return "unknown";
}

uint32_t LoadBe32(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

// A decompressed record larger than this is treated as corrupt rather than allocated.
constexpr uint64_t kMaxRecordBytes = 1ull << 30;

#ifdef PETREL_HAVE_ZSTD
// Decodes one or more zstd frames; false on malformed input.
bool ZstdDecompress(std::string_view in, std::string* out) {
  const unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return false;
  if (size != ZSTD_CONTENTSIZE_UNKNOWN && size <= kMaxRecordBytes) {
    out->resize(size);
    const size_t n = ZSTD_decompress(out->data(), out->size(), in.data(), in.size());
    if (!ZSTD_isError(n) && n == size) return true;
    // The header's size may not cover every frame; fall through to streaming.
  }
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ds(ZSTD_createDStream(),
                                                              ZSTD_freeDStream);
  ZSTD_initDStream(ds.get());
  out->clear();
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  char chunk[16384];
  for (;;) {
    ZSTD_outBuffer dst{chunk, sizeof(chunk), 0};
    const size_t rc = ZSTD_decompressStream(ds.get(), &dst, &src);
    if (ZSTD_isError(rc)) return false;
    out->append(chunk, dst.pos);
    if (out->size() > kMaxRecordBytes) return false;
    if (src.pos == src.size && dst.pos < dst.size) return rc == 0;
  }
}
#endif

}  // namespace

bool CompressionSupported(Compression compression) {
#ifdef PETREL_HAVE_ZSTD
  return true;
#else
  return compression != Compression::kZstd;
#endif
}

std::string SegmentName(uint32_t index) { return fmt::format("{:08d}", index); }

Result<std::vector<uint32_t>> ListSegments(Fs& fs, const std::string& wal_dir) {
  auto names = fs.List(wal_dir);
  if (!names.ok()) return names.status();
  std::vector<uint32_t> indexes;
  for (const auto& name : *names) {
    uint32_t index = 0;
    const char* end = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(name.data(), end, index);
    if (name.empty() || ec != std::errc() || ptr != end) continue;  // not a segment
    indexes.push_back(index);
  }
  std::sort(indexes.begin(), indexes.end());
  for (size_t i = 1; i < indexes.size(); ++i) {
    if (indexes[i] != indexes[i - 1] + 1) {
      return Status::Corruption(fmt::format("{}: segments are not sequential ({} follows {})",
                                            wal_dir, SegmentName(indexes[i]),
                                            SegmentName(indexes[i - 1])));
    }
  }
  return indexes;
}

std::string CheckpointName(uint32_t index) { return fmt::format("checkpoint.{:08d}", index); }

Result<int64_t> LastCheckpoint(Fs& fs, const std::string& wal_dir) {
  auto names = fs.List(wal_dir);
  if (!names.ok()) return names.status();
  constexpr std::string_view kPrefix = "checkpoint.";
  int64_t last = -1;
  for (const auto& name : *names) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    uint32_t index = 0;
    const char* begin = name.data() + kPrefix.size();
    const char* end = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(begin, end, index);
    if (begin == end || ec != std::errc() || ptr != end) continue;  // e.g. a .tmp leftover
    if (!fs.IsDir(JoinPath(wal_dir, name))) {
      return Status::Corruption(fmt::format("{}: checkpoint {} is not a directory", wal_dir, name));
    }
    last = std::max<int64_t>(last, index);
  }
  return last;
}

class SegmentReader::Impl {
 public:
  Impl(std::unique_ptr<ReadableFile> file, uint32_t index, Mode mode, uint64_t padded_end)
      : file_(std::move(file)), index_(index), mode_(mode), padded_end_(padded_end) {}

  Result<bool> Next(std::string* record);
  uint32_t index() const { return index_; }
  uint64_t offset() const { return record_end_; }

 private:
  enum class Step { kRecord, kContinue, kIncomplete };
  Result<Step> ReadFragment(std::string* record);
  // Up to n bytes at off: fewer only at the end of the data (strict: the end of the last page,
  // with the part past the file's end reading as zeros; live: the file's current end).
  Result<std::string_view> Bytes(uint64_t off, size_t n);
  Status Corrupt(uint64_t off, const std::string& what) {
    return Status::Corruption(
        fmt::format("segment {} offset {}: {}", SegmentName(index_), off, what));
  }
  Status Finish(std::string* record);

  std::unique_ptr<ReadableFile> file_;
  const uint32_t index_;
  const Mode mode_;
  const uint64_t padded_end_;  // strict only: file size rounded up to a whole page
  uint64_t pos_ = 0;           // next fragment (or padding) to read
  uint64_t record_end_ = 0;    // just past the last record returned
  std::string buf_;            // cached bytes of the file starting at buf_off_: buf_len_ of them
  size_t buf_len_ = 0;
  uint64_t buf_off_ = 0;
  // The record being assembled; survives an incomplete read in live mode.
  std::string rec_;
  int fragments_ = 0;
  uint8_t rec_flags_ = 0;
  uint64_t rec_start_ = 0;
  Status err_;  // sticky: once corrupt, always corrupt
};

Result<std::string_view> SegmentReader::Impl::Bytes(uint64_t off, size_t n) {
  if (off >= buf_off_ && off + n <= buf_off_ + buf_len_) {
    return std::string_view(buf_.data() + (off - buf_off_), n);
  }
  // buf_ only grows and keeps its size (buf_len_ bytes of it are valid): resizing it down and
  // up again on every read zero-filled each chunk before reading over it.
  const size_t want = std::max(n, kReadChunk);
  if (buf_.size() < want) buf_.resize(want);
  buf_len_ = 0;
  auto got = file_->ReadAt(off, buf_.data(), want);
  if (!got.ok()) return got.status();
  size_t have = *got;
  if (mode_ == Mode::kStrict && have < want && off + have < padded_end_) {
    // The file ends inside its last page: the rest of that page reads as zero padding.
    size_t zeros = static_cast<size_t>(std::min<uint64_t>(padded_end_ - off - have, want - have));
    std::fill_n(buf_.data() + have, zeros, '\0');
    have += zeros;
  }
  buf_len_ = have;
  buf_off_ = off;
  return std::string_view(buf_.data(), std::min(n, have));
}

Status SegmentReader::Impl::Finish(std::string* record) {
  if (rec_flags_ & kSnappyFlag) {
    size_t len = 0;
    if (!snappy::GetUncompressedLength(rec_.data(), rec_.size(), &len) || len > kMaxRecordBytes) {
      return Corrupt(rec_start_, "invalid snappy length");
    }
    record->resize(len);
    if (!snappy::RawUncompress(rec_.data(), rec_.size(), record->data())) {
      return Corrupt(rec_start_, "snappy decompression failed");
    }
    return Status::Ok();
  }
  if (rec_flags_ & kZstdFlag) {
#ifdef PETREL_HAVE_ZSTD
    if (!ZstdDecompress(rec_, record)) return Corrupt(rec_start_, "zstd decompression failed");
    return Status::Ok();
#else
    return Corrupt(rec_start_, "zstd-compressed record, but this build has no zstd");
#endif
  }
  record->swap(rec_);
  return Status::Ok();
}

Result<SegmentReader::Impl::Step> SegmentReader::Impl::ReadFragment(std::string* record) {
  auto first = Bytes(pos_, 1);
  if (!first.ok()) return first.status();
  if (first->empty()) {
    if (mode_ == Mode::kStrict && fragments_ > 0) return Corrupt(rec_start_, "last record is torn");
    return Step::kIncomplete;
  }
  const auto type = static_cast<uint8_t>((*first)[0]);
  const uint8_t kind = type & kKindMask;
  if (kind == kPad) {
    // Padding runs to the page boundary and must be all zeros.
    const size_t k = static_cast<size_t>(kPage - pos_ % kPage);
    auto pad = Bytes(pos_, k);
    if (!pad.ok()) return pad.status();
    if (pad->size() < k) {
      if (mode_ == Mode::kLive) return Step::kIncomplete;
      return Corrupt(pos_, "unexpected end of segment in page padding");
    }
    if (std::any_of(pad->begin(), pad->end(), [](char c) { return c != 0; })) {
      return Corrupt(pos_, "unexpected non-zero byte in padded page");
    }
    pos_ += pad->size();
    return Step::kContinue;
  }
  auto hdr = Bytes(pos_, kFragmentHeaderSize);
  if (!hdr.ok()) return hdr.status();
  if (hdr->size() < kFragmentHeaderSize) {
    if (mode_ == Mode::kLive) return Step::kIncomplete;
    return Corrupt(pos_, "unexpected end of segment in fragment header");
  }
  const uint32_t len = static_cast<uint32_t>(static_cast<unsigned char>((*hdr)[1])) << 8 |
                       static_cast<unsigned char>((*hdr)[2]);
  const uint32_t crc = LoadBe32(hdr->data() + 3);
  if (len > kMaxFragmentPayload) return Corrupt(pos_, fmt::format("invalid fragment size {}", len));
  if (kind > kLast) return Corrupt(pos_, fmt::format("invalid fragment type {}", kind));
  auto payload = Bytes(pos_ + kFragmentHeaderSize, len);
  if (!payload.ok()) return payload.status();
  if (payload->size() < len) {
    if (mode_ == Mode::kLive) return Step::kIncomplete;
    return Corrupt(pos_, fmt::format("unexpected end of segment in fragment of {} bytes", len));
  }
  if (uint32_t got = Crc32c(*payload); got != crc) {
    return Corrupt(pos_,
                   fmt::format("checksum mismatch: stored {:08x}, computed {:08x}", crc, got));
  }
  const bool opens = kind == kFull || kind == kFirst;
  if (opens != (fragments_ == 0)) {
    return Corrupt(pos_, fmt::format("unexpected {} fragment {}", KindName(kind),
                                     opens ? "inside a record" : "with no record open"));
  }
  const uint8_t flags = type & (kSnappyFlag | kZstdFlag);
  if (opens) {
    rec_.clear();
    rec_flags_ = flags;
    rec_start_ = pos_;
  } else if (flags != rec_flags_) {
    return Corrupt(pos_, "compression flags differ between fragments of one record");
  }
  rec_.append(*payload);
  pos_ += kFragmentHeaderSize + len;
  ++fragments_;
  if (kind == kFirst || kind == kMiddle) return Step::kContinue;
  fragments_ = 0;
  if (Status s = Finish(record); !s.ok()) return s;
  record_end_ = pos_;
  return Step::kRecord;
}

Result<bool> SegmentReader::Impl::Next(std::string* record) {
  if (!err_.ok()) return err_;
  for (;;) {
    auto step = ReadFragment(record);
    if (!step.ok()) {
      if (step.status().code() == Code::kCorruption) err_ = step.status();
      return step.status();
    }
    if (*step == Step::kRecord) return true;
    if (*step == Step::kIncomplete) return false;
  }
}

SegmentReader::SegmentReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SegmentReader::~SegmentReader() = default;

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(Fs& fs, const std::string& wal_dir,
                                                           uint32_t index, Mode mode) {
  auto file = fs.OpenForRead(JoinPath(wal_dir, SegmentName(index)));
  if (!file.ok()) return file.status();
  uint64_t padded_end = 0;
  if (mode == Mode::kStrict) {
    auto size = (*file)->Size();
    if (!size.ok()) return size.status();
    padded_end = (*size + kPage - 1) / kPage * kPage;
  }
  return std::unique_ptr<SegmentReader>(
      new SegmentReader(std::make_unique<Impl>(std::move(*file), index, mode, padded_end)));
}

Result<bool> SegmentReader::Next(std::string* record) { return impl_->Next(record); }
uint32_t SegmentReader::index() const { return impl_->index(); }
uint64_t SegmentReader::offset() const { return impl_->offset(); }

}  // namespace petrel::wal
