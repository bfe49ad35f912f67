#include "remotewrite/http_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>
#include <vector>

#include "config/curl_options.h"

#ifndef PETREL_VERSION
#define PETREL_VERSION "dev"
#endif

namespace petrel::remotewrite {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string BodyForMessage(std::string_view body) {
  std::string out(Trim(body.substr(0, kMaxBodyInMessage)));
  return out.empty() ? "(empty body)" : out;
}

}  // namespace

const char* UserAgent() { return "Petrel/" PETREL_VERSION; }

std::string RedactUrl(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t host = scheme + 3;
  size_t at = url.find('@', host);
  size_t slash = url.find('/', host);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  size_t colon = url.find(':', host);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "xxxxx" + url.substr(at);
}

std::chrono::milliseconds ParseRetryAfter(std::string_view value,
                                          std::chrono::system_clock::time_point now) {
  using std::chrono::milliseconds;
  value = Trim(value);
  if (value.empty()) return milliseconds(0);
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  // A receiver may answer any number: clamp before converting so the arithmetic cannot
  // overflow (found by fuzz/remotewrite); a year is far beyond any sane backoff anyway.
  constexpr int64_t kMaxSeconds = 365LL * 24 * 3600;
  if (ec == std::errc::result_out_of_range && end == value.data() + value.size() &&
      value.front() != '-') {
    return milliseconds(kMaxSeconds * 1000);
  }
  if (ec == std::errc() && end == value.data() + value.size()) {
    return seconds > 0 ? milliseconds(std::min(seconds, kMaxSeconds) * 1000) : milliseconds(0);
  }
  // curl_getdate understands the RFC 7231 IMF-fixdate and the obsolete forms.
  time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return milliseconds(0);
  const time_t now_s = std::chrono::system_clock::to_time_t(now);
  if (when <= now_s) return milliseconds(0);
  const int64_t ahead = std::min<int64_t>(static_cast<int64_t>(when - now_s), kMaxSeconds);
  auto delay = std::chrono::duration_cast<milliseconds>(
      std::chrono::system_clock::from_time_t(now_s + static_cast<time_t>(ahead)) - now);
  return delay > milliseconds(0) ? delay : milliseconds(0);
}

bool ParseWrittenHeader(std::string_view line, WrittenCounts* counts) {
  constexpr std::string_view kPrefix = "x-prometheus-remote-write-";
  if (!StartsWithNoCase(line, kPrefix)) return false;
  const std::string_view rest = line.substr(kPrefix.size());
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view what = rest.substr(0, colon);
  const std::string_view value = Trim(rest.substr(colon + 1));
  auto is = [what](std::string_view name) {
    return what.size() == name.size() && StartsWithNoCase(what, name);
  };
  int64_t* field = is("samples-written")      ? &counts->samples
                   : is("histograms-written") ? &counts->histograms
                   : is("exemplars-written")  ? &counts->exemplars
                                              : nullptr;
  int64_t n = 0;
  if (field == nullptr || value.empty() ||
      std::from_chars(value.data(), value.data() + value.size(), n).ptr !=
          value.data() + value.size() ||
      n < 0) {
    return false;
  }
  *field = n;
  counts->reported = true;
  return true;
}

SendResult ClassifyResponse(long http_status, std::string_view body, std::string_view retry_after,
                            bool retry_on_http_429, std::chrono::system_clock::time_point now) {
  SendResult r;
  r.http_status = http_status;
  if (http_status / 100 == 2) return r;
  std::string msg =
      fmt::format("server returned HTTP status {}: {}", http_status, BodyForMessage(body));
  if (http_status / 100 == 5 || (http_status == 429 && retry_on_http_429)) {
    r.status = Status::Unavailable(std::move(msg));
    r.retry_after = ParseRetryAfter(retry_after, now);
  } else {
    r.status = Status::InvalidArgument(std::move(msg));
  }
  return r;
}

HttpClient::HttpClient(const config::RemoteWriteConfig& config, Clock& clock)
    : clock_(clock),
      retry_on_http_429_(config.queue_config.retry_on_http_429),
      v2_(config.protobuf_message == config::RemoteWriteProto::kV2),
      http_(config.http_client),
      has_auth_(config.http_client.basic_auth.has_value() ||
                config.http_client.authorization.has_value()) {}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const config::RemoteWriteConfig& config,
                                                       Clock& clock) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  std::unique_ptr<HttpClient> c(new HttpClient(config, clock));
  c->curl_ = curl_easy_init();
  if (c->curl_ == nullptr) return Status::InvalidArgument("curl_easy_init failed");
  c->body_prefix_.reserve(kMaxBodyInMessage);

  std::string url = config.url;
  std::vector<std::string> extra;  // the Host header when server_name rewrites the URL
  const std::string connect_to =
      config::ApplyServerName(config.http_client.tls_config.server_name, &url, &extra);
  const bool v2 = config.protobuf_message == config::RemoteWriteProto::kV2;
  const char* fixed[] = {
      "Content-Encoding: snappy",
      v2 ? "Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request"
         : "Content-Type: application/x-protobuf",
      v2 ? "X-Prometheus-Remote-Write-Version: 2.0.0" : "X-Prometheus-Remote-Write-Version: 0.1.0",
      "Expect:",  // no 100-continue round trip for large bodies
  };
  for (const char* h : fixed) c->headers_ = curl_slist_append(c->headers_, h);
  for (const auto& [name, value] : config.headers) {
    c->headers_ = curl_slist_append(c->headers_, fmt::format("{}: {}", name, value).c_str());
  }
  for (const std::string& h : extra) c->headers_ = curl_slist_append(c->headers_, h.c_str());
  if (!connect_to.empty()) {
    c->connect_to_ = curl_slist_append(nullptr, connect_to.c_str());
    if (c->connect_to_ == nullptr) return Status::InvalidArgument("curl_slist_append failed");
  }
  if (c->headers_ == nullptr) return Status::InvalidArgument("curl_slist_append failed");

  CURL* h = c->curl_;
  CURLcode rc = CURLE_OK;
  auto set = [&rc](CURLcode r) {
    if (rc == CURLE_OK) rc = r;
  };
  // TLS, proxy, redirects (Prometheus' remote-write client follows them by default) and the
  // HTTP version (remote_write's enable_http2 defaults to false).
  config::ApplyHttpClient(h, config.http_client);
  set(curl_easy_setopt(h, CURLOPT_URL, url.c_str()));
  if (c->connect_to_ != nullptr) set(curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to_));
  set(curl_easy_setopt(h, CURLOPT_POST, 1L));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, UserAgent()));
  set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config.remote_timeout.count())));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL)));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->error_));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &HttpClient::OnBody));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, c.get()));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &HttpClient::OnHeader));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, c.get()));
  set(curl_easy_setopt(h, CURLOPT_PRIVATE, c.get()));
  if (rc != CURLE_OK) {
    return Status::InvalidArgument(fmt::format("remote write {}: curl setup: {}",
                                               RedactUrl(config.url), curl_easy_strerror(rc)));
  }
  return c;
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(curl_);
  curl_slist_free_all(headers_);
  curl_slist_free_all(request_headers_);
  curl_slist_free_all(connect_to_);
}

Status HttpClient::Prepare(std::string_view body, int attempt) {
  body_prefix_.clear();
  retry_after_.clear();
  written_ = {};
  error_[0] = '\0';
  prepare_error_ = Status();
  curl_slist* headers = headers_;
  if (attempt > 0 || has_auth_) {
    std::string auth;
    if (has_auth_) {
      auto a = config::AuthorizationHeader(http_);
      if (!a.ok()) {
        prepare_error_ = Status::Unavailable(std::string(a.status().message()));
        return prepare_error_;
      }
      auth = std::move(*a);
    }
    // A short list copied per request: cheap next to the request itself.
    curl_slist_free_all(request_headers_);
    request_headers_ = nullptr;
    for (curl_slist* h = headers_; h != nullptr; h = h->next) {
      request_headers_ = curl_slist_append(request_headers_, h->data);
    }
    if (!auth.empty()) request_headers_ = curl_slist_append(request_headers_, auth.c_str());
    if (attempt > 0) {
      request_headers_ =
          curl_slist_append(request_headers_, fmt::format("Retry-Attempt: {}", attempt).c_str());
    }
    if (request_headers_ == nullptr) {
      prepare_error_ = Status::Unavailable("curl_slist_append failed");
      return prepare_error_;
    }
    headers = request_headers_;
  }
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  return Status();
}

SendResult HttpClient::Complete(CURLcode code) {
  if (!prepare_error_.ok()) {
    SendResult r;
    r.status = prepare_error_;
    return r;
  }
  if (code != CURLE_OK) {
    SendResult r;
    r.status = Status::Unavailable(
        fmt::format("transport error: {}", error_[0] != '\0' ? error_ : curl_easy_strerror(code)));
    return r;
  }
  long http_status = 0;
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &http_status);
  SendResult r =
      ClassifyResponse(http_status, body_prefix_, retry_after_, retry_on_http_429_, clock_.Now());
  r.written = written_;
  if (http_status == 415 && v2_) {
    r.status = Status::InvalidArgument(
        fmt::format("{} (the receiver does not accept RW 2.0 io.prometheus.write.v2.Request; use "
                    "protobuf_message: prometheus.WriteRequest for it)",
                    r.status.message()));
  }
  return r;
}

SendResult HttpClient::Send(std::string_view body, int attempt) {
  if (!Prepare(body, attempt).ok()) return Complete(CURLE_FAILED_INIT);
  return Complete(curl_easy_perform(curl_));
}

size_t HttpClient::OnBody(char* data, size_t size, size_t n, void* self) {
  auto* c = static_cast<HttpClient*>(self);
  size_t len = size * n;
  size_t room = kMaxBodyInMessage - std::min(kMaxBodyInMessage, c->body_prefix_.size());
  c->body_prefix_.append(data, std::min(room, len));
  return len;  // the rest is read and discarded
}

size_t HttpClient::OnHeader(char* data, size_t size, size_t n, void* self) {
  auto* c = static_cast<HttpClient*>(self);
  std::string_view line(data, size * n);
  // A redirect or 100-continue starts a new header block: forget the earlier response's value.
  if (line.starts_with("HTTP/")) {
    c->retry_after_.clear();
    c->body_prefix_.clear();
    c->written_ = {};
  }
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (StartsWithNoCase(line, kRetryAfter)) c->retry_after_ = Trim(line.substr(kRetryAfter.size()));
  ParseWrittenHeader(line, &c->written_);
  return line.size();
}

}  // namespace petrel::remotewrite
