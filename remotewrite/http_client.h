// HttpClient: one remote-write POST at a time over a reused libcurl easy handle (which keeps its
// connection alive). Drivable two ways: synchronously with Send(), or by a curl multi loop that
// adds handle() after Prepare() and calls Complete() when the transfer is done.
//
// Requests carry Content-Encoding: snappy, and per protobuf_message either
// Content-Type: application/x-protobuf with X-Prometheus-Remote-Write-Version: 0.1.0 (RW 1.0) or
// Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request with
// X-Prometheus-Remote-Write-Version: 2.0.0 (RW 2.0); then User-Agent: Petrel/<version>,
// Retry-Attempt: <n> on retries, the endpoint's configured headers and, with basic_auth or
// authorization in its http_client, an Authorization header built per attempt (credential files
// re-read each time, so rotated secrets apply without a reload); each attempt times out after
// remote_timeout. TLS, proxy, redirect and HTTP-version options come from http_client
// (config::ApplyHttpClient), and tls_config.server_name from config::ApplyServerName.
//
// Outcomes (SendResult::status):
//   ok               2xx.
//   kUnavailable     5xx, transport error or timeout, an unreadable credentials file (nothing
//                    is sent then), and 429 when retry_on_http_429: retry
//                    after backoff, or after retry_after when the server sent Retry-After.
//   kInvalidArgument any other status (other 4xx, 429 without retry_on_http_429, unfollowed
//                    3xx): do not retry; drop the batch and count it failed. A 415 says the
//                    receiver does not take this protobuf_message (RW 2.0 to a 1.x receiver).
// SendResult::written holds the X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written
// response headers; the queue decides what a 2xx with too few written means.
// Messages hold the status and the first kMaxBodyInMessage bytes of the response body.
//
// One caller at a time.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"

namespace petrel::remotewrite {

inline constexpr size_t kMaxBodyInMessage = 256;

// "Petrel/<version>"
const char* UserAgent();

// url with the password of its userinfo part replaced by "xxxxx", for labels and logs.
std::string RedactUrl(const std::string& url);

// What the receiver says it wrote (RW 2.0 response headers; a 1.x receiver sends none).
struct WrittenCounts {
  bool reported = false;  // at least one of the three headers was present and valid
  int64_t samples = 0;    // a missing header counts as 0
  int64_t histograms = 0;
  int64_t exemplars = 0;
};

struct SendResult {
  Status status;
  WrittenCounts written;
  std::chrono::milliseconds retry_after{0};  // > 0 only when a usable Retry-After was sent
  long http_status = 0;                      // 0 when no response arrived
};

// Retry-After as a delay from now: an integer number of seconds or an HTTP-date. 0 when empty,
// unparsable, or not in the future.
std::chrono::milliseconds ParseRetryAfter(std::string_view value,
                                          std::chrono::system_clock::time_point now);

// One response header line ("Name: value\r\n"): when it is a valid
// X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written header (any case, a
// non-negative decimal value), stores the value in *counts, sets counts->reported and returns
// true; otherwise leaves *counts alone.
bool ParseWrittenHeader(std::string_view line, WrittenCounts* counts);

// Maps a received response to a SendResult (see the table above).
SendResult ClassifyResponse(long http_status, std::string_view body, std::string_view retry_after,
                            bool retry_on_http_429, std::chrono::system_clock::time_point now);

class HttpClient {
 public:
  // clock reads wall time for HTTP-date Retry-After values; it must outlive the client.
  // kInvalidArgument when curl cannot be set up.
  static Result<std::unique_ptr<HttpClient>> Create(const config::RemoteWriteConfig& config,
                                                    Clock& clock);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Arms the handle to POST body, which must stay alive and unchanged until the transfer is
  // complete. attempt 0 is the first try; attempt > 0 adds "Retry-Attempt: <attempt>".
  // kUnavailable when a credentials file cannot be read: do not add the handle to a multi then;
  // Complete (with any code) reports that error.
  Status Prepare(std::string_view body, int attempt);
  // The easy handle, for curl_multi_add_handle after Prepare. Owned by this client.
  CURL* handle() const { return curl_; }
  // Classifies the finished transfer; code is its CURLcode.
  SendResult Complete(CURLcode code);
  // Prepare, perform on this thread, Complete.
  SendResult Send(std::string_view body, int attempt);

 private:
  HttpClient(const config::RemoteWriteConfig& config, Clock& clock);
  static size_t OnBody(char* data, size_t size, size_t n, void* self);
  static size_t OnHeader(char* data, size_t size, size_t n, void* self);

  Clock& clock_;
  bool retry_on_http_429_;
  bool v2_;                        // protobuf_message is RW 2.0
  config::HttpClientConfig http_;  // for the Authorization header of each attempt
  bool has_auth_ = false;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;          // fixed headers of every attempt
  curl_slist* request_headers_ = nullptr;  // headers_ plus Authorization / Retry-Attempt
  curl_slist* connect_to_ = nullptr;       // tls_config.server_name's CONNECT_TO entry
  Status prepare_error_;
  std::string body_prefix_;  // first kMaxBodyInMessage bytes of the response
  std::string retry_after_;  // the response's Retry-After value
  WrittenCounts written_;    // the response's *-Written headers
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace petrel::remotewrite
