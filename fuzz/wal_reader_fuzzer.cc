// The WAL read side on one segment file: SegmentReader in strict and live mode, the record
// decoders, and Storage::Open's replay and repair of a corrupt segment.
//
// Input: byte 0 picks the mode; the rest is the segment file. With bit 0 set the fuzzer rewrites
// each fragment's CRC-32C to match its payload first, so mutations get past the checksum and
// reach the fragment, compression and record logic. With bit 1 set it also replays the segment
// with Storage::Open (slow: a fresh series store per run, so only for those inputs).
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "fuzz/fuzz_util.h"
#include "test/support/mem_fs.h"
#include "wal/crc32c.h"
#include "wal/reader.h"
#include "wal/records.h"
#include "wal/storage.h"

namespace {

using namespace petrel;  // NOLINT

void FixChecksums(std::string& seg) {
  size_t pos = 0;
  while (pos + wal::kFragmentHeaderSize <= seg.size()) {
    size_t page_left = wal::kPageSize - pos % wal::kPageSize;
    if (page_left < wal::kFragmentHeaderSize || seg[pos] == 0) {
      pos += page_left;  // padding to the end of the page
      continue;
    }
    size_t len = static_cast<uint8_t>(seg[pos + 1]) << 8 | static_cast<uint8_t>(seg[pos + 2]);
    size_t data = pos + wal::kFragmentHeaderSize;
    if (data + len > seg.size()) return;
    uint32_t crc = wal::Crc32c(std::string_view(seg).substr(data, len));
    for (int i = 0; i < 4; ++i) seg[pos + 3 + i] = static_cast<char>(crc >> (24 - 8 * i));
    pos = data + len;
  }
}

bool SameSamples(const std::vector<wal::RefSample>& a, const std::vector<wal::RefSample>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].ref != b[i].ref || a[i].t != b[i].t ||
        std::memcmp(&a[i].v, &b[i].v, sizeof(double)) != 0) {
      return false;
    }
  }
  return true;
}

// What a decoder accepts re-encodes to a record it accepts again, and to the same bytes the
// second time (bytes, not values: a NaN sum is unequal to itself).
template <typename T, typename Decode, typename Encode>
void CheckReencode(const std::string& rec, Decode decode, Encode encode) {
  std::vector<T> got;
  if (!decode(rec, &got).ok()) return;
  std::string once, twice;
  encode(std::span<const T>(got), &once);
  std::vector<T> again;
  FUZZ_CHECK(decode(once, &again).ok());
  FUZZ_CHECK(again.size() == got.size());
  encode(std::span<const T>(again), &twice);
  FUZZ_CHECK(once == twice);
}

// Decoding is the inverse of encoding on what it accepts (series come back normalized).
void CheckRecord(const std::string& rec) {
  switch (wal::TypeOf(rec)) {
    case wal::RecordType::kSeries: {
      std::vector<wal::RefSeries> got;
      if (!wal::DecodeSeries(rec, &got).ok()) return;
      std::string again;
      wal::EncodeSeries(got, &again);
      std::vector<wal::RefSeries> round;
      FUZZ_CHECK(wal::DecodeSeries(again, &round).ok());
      FUZZ_CHECK(round.size() == got.size());
      for (size_t i = 0; i < got.size(); ++i) {
        FUZZ_CHECK(round[i].ref == got[i].ref && round[i].labels == got[i].labels);
      }
      break;
    }
    case wal::RecordType::kSamples: {
      std::vector<wal::RefSample> got;
      if (!wal::DecodeSamples(rec, &got).ok()) return;
      std::string again;
      wal::EncodeSamples(got, &again);
      std::vector<wal::RefSample> round;
      FUZZ_CHECK(wal::DecodeSamples(again, &round).ok());
      FUZZ_CHECK(SameSamples(got, round));
      break;
    }
    case wal::RecordType::kHistogramSamples:
    case wal::RecordType::kCustomBucketsHistogramSamples:
      CheckReencode<wal::RefHistogramSample>(rec, wal::DecodeHistogramSamples,
                                             wal::EncodeHistogramSamples);
      break;
    case wal::RecordType::kFloatHistogramSamples:
    case wal::RecordType::kCustomBucketsFloatHistogramSamples:
      CheckReencode<wal::RefFloatHistogramSample>(rec, wal::DecodeFloatHistogramSamples,
                                                  wal::EncodeFloatHistogramSamples);
      break;
    case wal::RecordType::kExemplars:
      CheckReencode<wal::RefExemplar>(rec, wal::DecodeExemplars, wal::EncodeExemplars);
      break;
    default:
      break;
  }
}

// Every record up to the end or the first error; *status gets the error.
std::vector<std::string> ReadSegment(Fs& fs, wal::SegmentReader::Mode mode, uint64_t max_offset,
                                     Status* status) {
  std::vector<std::string> records;
  auto reader = wal::SegmentReader::Open(fs, "/d/wal", 0, mode);
  FUZZ_CHECK(reader.ok());
  for (;;) {
    std::string rec;
    auto more = (*reader)->Next(&rec);
    if (!more.ok()) {
      *status = more.status();
      FUZZ_CHECK(status->code() == Code::kCorruption);
      FUZZ_CHECK(status->message().find("segment 00000000 offset ") != std::string::npos);
      // Corruption is sticky.
      auto again = (*reader)->Next(&rec);
      FUZZ_CHECK(!again.ok() && again.status().message() == status->message());
      return records;
    }
    if (!*more) return records;
    FUZZ_CHECK((*reader)->offset() <= max_offset);
    records.push_back(std::move(rec));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string seg(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) FixChecksums(seg);

  MemFs fs;
  fs.SetContents("/d/wal/" + wal::SegmentName(0), seg);

  Status strict_status, live_status;
  const uint64_t padded = (seg.size() + wal::kPageSize - 1) / wal::kPageSize * wal::kPageSize;
  std::vector<std::string> strict =
      ReadSegment(fs, wal::SegmentReader::Mode::kStrict, padded, &strict_status);
  std::vector<std::string> live =
      ReadSegment(fs, wal::SegmentReader::Mode::kLive, seg.size(), &live_status);
  // Live mode sees no zero padding past the end, so it may stop earlier, never later, and the
  // records both return are the same.
  FUZZ_CHECK(live.size() <= strict.size());
  for (size_t i = 0; i < live.size(); ++i) FUZZ_CHECK(live[i] == strict[i]);
  for (const std::string& rec : strict) CheckRecord(rec);

  if (!(data[0] & 2)) return 0;
  // Replay repairs a corrupt segment by cutting it at the corrupt offset; then the WAL takes
  // commits and a second replay is clean.
  {
    Registry registry;
    auto storage = wal::Storage::Open(fs, registry, "/d", {.segment_bytes = 1 << 20});
    FUZZ_CHECK(storage.ok());
    if (!strict_status.ok()) FUZZ_CHECK(!(*storage)->replay_status().ok());
    auto app = (*storage)->NewAppender();
    auto ref = app->Append(0, Labels{{"__name__", "fuzz"}}, 1, 1.0);
    FUZZ_CHECK(ref.ok() || ref.status().code() == Code::kInvalidArgument);
    FUZZ_CHECK(app->Commit().ok());
    FUZZ_CHECK((*storage)->Close().ok());
  }
  Registry registry;
  auto reopened = wal::Storage::Open(fs, registry, "/d", {.segment_bytes = 1 << 20});
  FUZZ_CHECK(reopened.ok());
  FUZZ_CHECK((*reopened)->replay_status().ok());
  return 0;
}
