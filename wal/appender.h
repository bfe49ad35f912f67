// Appender: how scraping writes to the WAL. The only WAL header scrape/ includes.
//
// An Appender collects one scrape's samples and writes them to the WAL on Commit() as one
// Series record (for series new to the store) followed by one Samples record, then (when there
// are any) one HistogramSamples, one FloatHistogramSamples and one Exemplars record, the order
// Prometheus's agent uses. Until Commit()
// nothing is visible to readers; Rollback() discards the batch (new series stay registered,
// and their Series record is still written, as Prometheus does).
// One caller at a time per Appender; several Appenders may be used concurrently.
#pragma once

#include <cstdint>

#include "common/histogram.h"
#include "common/labels.h"
#include "common/status.h"

namespace petrel::wal {

// Identifies a series in the WAL and the series store. 0 means "no ref yet".
using SeriesRef = uint64_t;

class Appender {
 public:
  virtual ~Appender() = default;

  // Appends (t_ms, value) to the series `ref`, or, when ref is 0 or unknown, to the series with
  // `labels` (sorted, non-empty; created if new). Returns the series ref to cache for next time.
  // kInvalidArgument: empty labels, duplicate names, or t_ms not after the series' last sample
  // (out of order); the sample is not appended and the caller may go on with the next one.
  virtual Result<SeriesRef> Append(SeriesRef ref, const Labels& labels, int64_t t_ms,
                                   double value) = 0;

  // Appends a native histogram sample: exactly one of h and fh is non-null. Same ref/labels
  // rules and errors as Append; a series has one timestamp order across floats and histograms.
  virtual Result<SeriesRef> AppendHistogram(SeriesRef ref, const Labels& labels, int64_t t_ms,
                                            const Histogram* h, const FloatHistogram* fh) {
    return Status::InvalidArgument("this appender does not take native histograms");
  }

  // Appends an exemplar of the series `ref` (returned by Append/AppendHistogram in this batch or
  // before). kInvalidArgument for an unknown ref or an exemplar whose labels are longer than 128
  // UTF-8 characters in total (OpenMetrics' limit, as Prometheus checks it). An exact repeat
  // (same t, value and labels) of the series' last committed exemplar is dropped, returning Ok.
  virtual Status AppendExemplar(SeriesRef ref, int64_t t_ms, double value,
                                const Labels& exemplar_labels) {
    return Status::InvalidArgument("this appender does not take exemplars");
  }

  // (The defaults above are for test doubles; the WAL's own appender implements both.)

  // Writes the batch to the WAL. kIo when the disk write failed (the batch is lost and counted).
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
};

}  // namespace petrel::wal
