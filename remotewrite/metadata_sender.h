// MetadataSender: the metadata lane of one remote_write endpoint (metadata_config). Every
// send_interval it asks its MetadataSource for the metadata of all active targets,
// de-duplicates it, and queues WriteRequests that carry only metadata (field 3), at most
// max_samples_per_send entries each. They go out one at a time over the lane's own connection,
// retried like sample batches (backoff min_backoff..max_backoff, Retry-After, 429 only with
// retry_on_http_429). While a collection is still being sent the next one is skipped: fresh
// metadata replaces stale metadata, so nothing is worth queueing twice.
//
// Metrics (labels remote_name, url): prometheus_remote_storage_metadata_total,
// _metadata_failed_total, _metadata_retried_total, _metadata_bytes_total.
//
// The queue's loop drives it: Collect, then when Ready it hands client() to the curl multi
// (after client().Prepare(body(), attempt())), calls Started, and Done with the outcome.
// One caller at a time (the loop thread).
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "config/config.h"
#include "remotewrite/encoder.h"
#include "remotewrite/http_client.h"
#include "remotewrite/logfmt.h"
#include "remotewrite/metadata.h"

namespace petrel::remotewrite {

class MetadataSender {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // The first collection happens send_interval after `now`.
  MetadataSender(const config::RemoteWriteConfig& config, MetadataSource source,
                 std::unique_ptr<HttpClient> client, Registry& metrics, SteadyTime now);

  // Collects and encodes the metadata when send_interval has passed and nothing is pending.
  void Collect(SteadyTime now);
  // A request waits, none is in flight, and its retry time (if any) has come.
  bool Ready(SteadyTime now) const;
  HttpClient& client() { return *client_; }
  const std::string& body() const { return pending_.front().body; }
  int attempt() const { return attempt_; }
  bool in_flight() const { return in_flight_; }
  void Started(SteadyTime now);
  // The transfer of the current request finished (or could not start) with `result`.
  void Done(const SendResult& result, SteadyTime now);
  // The earliest time something is due (collection or retry); max() when in flight.
  SteadyTime NextTimer() const;
  // Drops what is queued (the queue stops), counting it failed; the caller removed any transfer.
  void Abandon();

 private:
  struct Request {
    std::string body;  // snappy-compressed WriteRequest
    size_t entries;
  };

  const config::QueueConfig queue_;
  const config::MetadataConfig config_;
  const std::string name_;
  MetadataSource source_;
  std::unique_ptr<HttpClient> client_;
  RequestEncoder encoder_;
  std::deque<Request> pending_;  // front is being sent or retried
  SteadyTime next_collect_;
  bool in_flight_ = false;
  int attempt_ = 0;
  std::chrono::milliseconds backoff_{0};
  SteadyTime retry_at_{};
  LogLimiter log_;

  Counter* total_;
  Counter* failed_;
  Counter* retried_;
  Counter* bytes_;
};

}  // namespace petrel::remotewrite
