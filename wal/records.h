// Logical WAL records, byte-compatible with Prometheus's tsdb/record package
// (../shared/reference/wal-format.md §5): big-endian fixed ints, Go (zig-zag) varints.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "common/labels.h"
#include "common/status.h"
#include "wal/appender.h"

namespace petrel::wal {

enum class RecordType : uint8_t {
  kUnknown = 255,
  kSeries = 1,
  kSamples = 2,
  kTombstones = 3,
  kExemplars = 4,
  kMmapMarkers = 5,
  kMetadata = 6,
  kHistogramSamples = 7,
  kFloatHistogramSamples = 8,
  kCustomBucketsHistogramSamples = 9,
  kCustomBucketsFloatHistogramSamples = 10,
  kSamplesV2 = 11,
  kHistogramSamplesV2 = 12,
  kFloatHistogramSamplesV2 = 13,
};

struct RefSeries {
  SeriesRef ref = 0;
  Labels labels;
};

struct RefSample {
  SeriesRef ref = 0;
  int64_t t = 0;  // ms since epoch
  double v = 0;
};

// A native histogram sample (HistogramSamples record, or CustomBucketsHistogramSamples when
// h.schema is kCustomBucketsSchema).
struct RefHistogramSample {
  SeriesRef ref = 0;
  int64_t t = 0;
  Histogram h;
};

struct RefFloatHistogramSample {
  SeriesRef ref = 0;
  int64_t t = 0;
  FloatHistogram fh;
};

struct RefExemplar {
  SeriesRef ref = 0;
  int64_t t = 0;
  double v = 0;
  Labels labels;
};

// Stale marker: the NaN bit pattern 0x7ff0000000000002, never produced by parsing.
double StaleNaN();
bool IsStaleNaN(double v);

// The type of an encoded record (its first byte); kUnknown for empty or unknown.
RecordType TypeOf(std::string_view record);
// Lower-case Prometheus name of a type, as used in metric labels ("series", "samples", ...).
const char* TypeName(RecordType type);

// Appends the encoded record to *out (which is not cleared).
void EncodeSeries(std::span<const RefSeries> series, std::string* out);
void EncodeSamples(std::span<const RefSample> samples, std::string* out);
// Histogram records: the type (HistogramSamples or CustomBucketsHistogramSamples, and the float
// pair likewise) follows from the schema of the first sample; a record holds one kind only.
void EncodeHistogramSamples(std::span<const RefHistogramSample> samples, std::string* out);
void EncodeFloatHistogramSamples(std::span<const RefFloatHistogramSample> samples,
                                 std::string* out);
void EncodeExemplars(std::span<const RefExemplar> exemplars, std::string* out);

// Building a Series record without materializing RefSeries (no label copies): append the type
// byte once, then one entry per series. EncodeSeries == type byte + EncodeSeriesEntry for each.
void EncodeSeriesEntry(SeriesRef ref, const Labels& labels, std::string* out);
// The same entry from labels already in the record's encoding (uvarint count, then the
// uvarint-length-prefixed name and value of each label), as the series store keeps them.
void EncodeSeriesEntry(SeriesRef ref, std::string_view encoded_labels, std::string* out);

// Decode, appending to *out. kCorruption with a reason on malformed input (wrong type byte,
// truncated field, varint overflow, trailing bytes). Label sets read from disk that are not
// sorted and unique are normalized (sorted; for duplicate names the last wins).
Status DecodeSeries(std::string_view record, std::vector<RefSeries>* out);
Status DecodeSamples(std::string_view record, std::vector<RefSample>* out);
// Accept both the standard and the custom-buckets record types.
Status DecodeHistogramSamples(std::string_view record, std::vector<RefHistogramSample>* out);
Status DecodeFloatHistogramSamples(std::string_view record,
                                   std::vector<RefFloatHistogramSample>* out);
Status DecodeExemplars(std::string_view record, std::vector<RefExemplar>* out);

// Go encoding/binary varints (LEB128; signed values zig-zag encoded), appended to *out.
void PutUvarint(uint64_t v, std::string* out);
void PutVarint(int64_t v, std::string* out);
// Reads a varint from the front of *in and advances it; false on truncation or overflow
// (more than 64 bits), like Go's binary.Uvarint / binary.Varint.
bool GetUvarint(std::string_view* in, uint64_t* v);
bool GetVarint(std::string_view* in, int64_t* v);

}  // namespace petrel::wal
