// remote_write entries: fields, defaults, header rules, default names.
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "config/config.h"
#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

const std::vector<std::string_view> kRemoteWriteUnsupported = WithHttpClientKeys({
    "round_robin_dns",
    "sigv4",
    "azuread",
    "google_iam",
    "failed_request_logging",
});

// Headers the remote-write client sets itself (remote-write.md §1); lower case.
bool IsReservedHeader(std::string_view lower) {
  static const std::set<std::string_view> kReserved = {
      "host",
      "content-encoding",
      "content-length",
      "content-type",
      "user-agent",
      "connection",
      "keep-alive",
      "proxy-authenticate",
      "proxy-authorization",
      "www-authenticate",
      "accept-encoding",
      "x-prometheus-remote-write-version",
      "x-prometheus-remote-read-version",
      "x-amz-date",
      "x-amz-security-token",
      "x-amz-content-sha256",
  };
  return kReserved.count(lower) != 0;
}

// RFC 9110 token characters.
bool IsHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

Status ParseHeaders(const Node& map, std::map<std::string, std::string>& out) {
  return ForEachEntry(map, [&](const Node& key, const std::string& name, const Node& value) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "authorization") {
      return key.Error(
          "authorization header must be changed via the basic_auth, authorization, oauth2, "
          "sigv4, azuread or google_iam parameter");
    }
    if (IsReservedHeader(lower)) {
      return key.Error(fmt::format("{} is a reserved header. It must not be changed", name));
    }
    if (!IsHeaderName(name))
      return key.Error(fmt::format("\"{}\" is not a valid header name", name));
    auto text = value.String();
    if (!text.ok()) return text.status();
    if (text->find_first_of("\r\n", 0) != std::string::npos ||
        text->find('\0') != std::string::npos) {
      return value.Error(fmt::format("value of header \"{}\" contains a line break or NUL", name));
    }
    out.emplace(name, std::move(*text));
    return Status::Ok();
  });
}

// A duration that must not be negative; zero_ok: 0 means "off" for this setting.
KeyFn CheckedDuration(Duration& field, bool zero_ok) {
  return [&field, zero_ok](const Node& v) {
    auto d = v.AsDuration();
    if (!d.ok()) return d.status();
    if (d->count() < 0 || (d->count() == 0 && !zero_ok)) {
      return v.Error(zero_ok ? "must not be negative" : "must be greater than 0");
    }
    field = *d;
    return Status::Ok();
  };
}
// A zero deadline, timeout or backoff would make the queue spin.
KeyFn PositiveDuration(Duration& field) { return CheckedDuration(field, false); }
KeyFn NonNegativeDuration(Duration& field) { return CheckedDuration(field, true); }

// A plain byte count (1048576) or a size in Prometheus's units ("1MiB", "512KB").
KeyFn BytesInto(uint64_t& field) {
  return [&field](const Node& v) {
    auto text = v.String();
    if (!text.ok()) return text.status();
    if (!text->empty() && text->find_first_not_of("0123456789") == std::string::npos) {
      auto n = v.AsInt(0, INT64_MAX);
      if (!n.ok()) return n.status();
      field = static_cast<uint64_t>(*n);
      return Status::Ok();
    }
    auto bytes = ParseBytes(*text);
    if (!bytes.ok()) return v.Error(bytes.status().message());
    field = *bytes;
    return Status::Ok();
  };
}

// Prometheus itself checks none of these; Petrel refuses values its queues cannot run with
// (no room, no shards, nothing per send, min above max).
Status ParseQueueConfig(const Node& map, QueueConfig& q) {
  Status s =
      ForEachKey(map, {
                          {"capacity", IntInto(q.capacity, 1, INT_MAX)},
                          {"max_shards", IntInto(q.max_shards, 1, INT_MAX)},
                          {"min_shards", IntInto(q.min_shards, 1, INT_MAX)},
                          {"max_samples_per_send", IntInto(q.max_samples_per_send, 1, INT_MAX)},
                          {"batch_send_deadline", PositiveDuration(q.batch_send_deadline)},
                          {"min_backoff", PositiveDuration(q.min_backoff)},
                          {"max_backoff", PositiveDuration(q.max_backoff)},
                          {"retry_on_http_429", BoolInto(q.retry_on_http_429)},
                          {"sample_age_limit", NonNegativeDuration(q.sample_age_limit)},
                          {"max_bytes_per_second", BytesInto(q.max_bytes_per_second)},
                      });
  if (!s.ok()) return s;
  if (q.min_shards > q.max_shards) {
    return map.Error(
        fmt::format("min_shards ({}) greater than max_shards ({})", q.min_shards, q.max_shards));
  }
  if (q.min_backoff > q.max_backoff) {
    return map.Error(fmt::format("min_backoff ({}) greater than max_backoff ({})",
                                 FormatDuration(q.min_backoff), FormatDuration(q.max_backoff)));
  }
  return Status::Ok();
}

Status ParseMetadataConfig(const Node& map, MetadataConfig& m) {
  return ForEachKey(map, {
                             {"send", BoolInto(m.send)},
                             {"send_interval", PositiveDuration(m.send_interval)},
                             {"max_samples_per_send", IntInto(m.max_samples_per_send, 1, INT_MAX)},
                         });
}

Status ParseRemoteWrite(const Node& map, RemoteWriteConfig& rw) {
  if (map.IsNull()) return map.Error("empty or null remote write config section");
  HttpClientParser http(rw.http_client);
  KeyHandlers handlers = {
      {"url",
       [&](const Node& v) {
         auto url = v.String();
         if (!url.ok()) return url.status();
         if (const std::string why = UrlProblem(*url); !why.empty()) {
           return v.Error(fmt::format("invalid URL \"{}\": {}", RedactUrl(*url), why));
         }
         rw.url = std::move(*url);
         return Status::Ok();
       }},
      {"name", StringInto(rw.name)},
      {"remote_timeout", PositiveDuration(rw.remote_timeout)},
      {"headers", [&](const Node& v) { return ParseHeaders(v, rw.headers); }},
      {"queue_config", [&](const Node& v) { return ParseQueueConfig(v, rw.queue_config); }},
      {"write_relabel_configs",
       [&](const Node& v) {
         return ParseRelabelConfigs(v, "relabeling rule in remote write config",
                                    rw.write_relabel_configs);
       }},
      {"metadata_config",
       [&](const Node& v) { return ParseMetadataConfig(v, rw.metadata_config); }},
      {"send_exemplars", BoolInto(rw.send_exemplars)},
      {"send_native_histograms", BoolInto(rw.send_native_histograms)},
      {"protobuf_message",
       [&](const Node& v) {
         auto text = v.String();
         if (!text.ok()) return text.status();
         auto proto = ParseRemoteWriteProto(*text);
         if (!proto) {
           return v.Error(
               fmt::format("unknown remote write protobuf message \"{}\", supported: {}, {}", *text,
                           RemoteWriteProtoName(RemoteWriteProto::kV1),
                           RemoteWriteProtoName(RemoteWriteProto::kV2)));
         }
         rw.protobuf_message = *proto;
         return Status::Ok();
       }},
  };
  http.AddHandlers(handlers);
  Status s = ForEachKey(map, handlers, {.unsupported = kRemoteWriteUnsupported});
  if (!s.ok()) return s;
  if (rw.url.empty()) return map.Error("missing required key \"url\"");
  return http.Finish(map);
}

std::string Md5Hex(std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), digest, &len) == 1;
  // MD5 is built into every OpenSSL provider set we can link against; failing is a broken
  // installation, not a config error.
  if (!ok) std::abort();
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace

const char* RemoteWriteProtoName(RemoteWriteProto proto) {
  return proto == RemoteWriteProto::kV2 ? "io.prometheus.write.v2.Request"
                                        : "prometheus.WriteRequest";
}

std::optional<RemoteWriteProto> ParseRemoteWriteProto(std::string_view name) {
  if (name == RemoteWriteProtoName(RemoteWriteProto::kV1)) return RemoteWriteProto::kV1;
  if (name == RemoteWriteProtoName(RemoteWriteProto::kV2)) return RemoteWriteProto::kV2;
  return std::nullopt;
}

std::string CanonicalRemoteWrite(const RemoteWriteConfig& rw) {
  const QueueConfig& q = rw.queue_config;
  std::string out =
      fmt::format("url: {}\nremote_timeout: {}\n", rw.url, FormatDuration(rw.remote_timeout));
  out += "headers:\n";
  for (const auto& [name, value] : rw.headers) out += fmt::format("  {}: {}\n", name, value);
  out += fmt::format(
      "queue_config:\n  capacity: {}\n  max_shards: {}\n  min_shards: {}\n"
      "  max_samples_per_send: {}\n  batch_send_deadline: {}\n  min_backoff: {}\n"
      "  max_backoff: {}\n  retry_on_http_429: {}\n",
      q.capacity, q.max_shards, q.min_shards, q.max_samples_per_send,
      FormatDuration(q.batch_send_deadline), FormatDuration(q.min_backoff),
      FormatDuration(q.max_backoff), q.retry_on_http_429);
  // Later settings: only when not at their defaults, so existing derived names stay.
  const RemoteWriteConfig defaults;
  if (q.sample_age_limit != defaults.queue_config.sample_age_limit) {
    out += fmt::format("queue_config.sample_age_limit: {}\n", FormatDuration(q.sample_age_limit));
  }
  if (q.max_bytes_per_second != defaults.queue_config.max_bytes_per_second) {
    out += fmt::format("queue_config.max_bytes_per_second: {}\n", q.max_bytes_per_second);
  }
  if (rw.send_exemplars) out += "send_exemplars: true\n";
  if (rw.send_native_histograms) out += "send_native_histograms: true\n";
  if (rw.protobuf_message != RemoteWriteProto::kV1) {
    out += fmt::format("protobuf_message: {}\n", RemoteWriteProtoName(rw.protobuf_message));
  }
  if (rw.metadata_config != defaults.metadata_config) {
    out += fmt::format(
        "metadata_config:\n  send: {}\n  send_interval: {}\n  max_samples_per_send: {}\n",
        rw.metadata_config.send, FormatDuration(rw.metadata_config.send_interval),
        rw.metadata_config.max_samples_per_send);
  }
  if (!rw.write_relabel_configs.empty() || rw.http_client != defaults.http_client) {
    // The YAML rendering (Render's), secrets redacted; only identity matters here.
    out += RenderRemoteWriteExtras(rw);
  }
  return out;
}

Status ParseRemoteWrites(const Node& list, std::vector<RemoteWriteConfig>& out) {
  auto items = list.Items();
  if (!items.ok()) return items.status();
  std::map<std::string, int> name_line;  // explicit name -> line of its entry
  for (const Node& item : *items) {
    RemoteWriteConfig& rw = out.emplace_back();
    if (Status s = ParseRemoteWrite(item, rw); !s.ok()) return s;
    if (rw.name.empty()) continue;
    if (auto [it, fresh] = name_line.emplace(rw.name, item.line()); !fresh) {
      return item.Error(
          fmt::format("found multiple remote write configs with name \"{}\" (first at line {})",
                      rw.name, it->second));
    }
  }
  // Unnamed entries get a name derived from their settings, so two identical ones would
  // share a queue; Prometheus refuses them (storage/remote/write.go), and so do we.
  std::map<std::string, int> canonical_line;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].name.empty()) continue;
    const Node& item = (*items)[i];
    const std::string canonical = CanonicalRemoteWrite(out[i]);
    if (auto [it, fresh] = canonical_line.emplace(canonical, item.line()); !fresh) {
      return item.Error(fmt::format(
          "duplicate remote write configs are not allowed, found duplicate for URL: {} (first "
          "at line {})",
          out[i].url, it->second));
    }
    out[i].name = Md5Hex(canonical).substr(0, 6);
    if (auto [it, fresh] = name_line.emplace(out[i].name, item.line()); !fresh) {
      return item.Error(fmt::format(
          "derived name \"{}\" collides with the remote write config at line {}; set a name",
          out[i].name, it->second));
    }
  }
  return Status::Ok();
}

}  // namespace petrel::config
