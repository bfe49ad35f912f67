// Render: the loaded Config as YAML for /api/v1/status/config, secrets hidden.
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

constexpr const char* kSecret = "<secret>";

void EmitLabels(YAML::Emitter& out, const char* key, const Labels& labels) {
  if (labels.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  // Quoted, so values such as "yes" or "1e3" read back as strings in any YAML reader.
  for (const Label& l : labels) {
    out << YAML::Key << l.name << YAML::Value << YAML::DoubleQuoted << l.value;
  }
  out << YAML::EndMap;
}

void EmitProtocols(YAML::Emitter& out, const std::vector<ScrapeProtocol>& protocols) {
  out << YAML::Key << "scrape_protocols" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (ScrapeProtocol p : protocols) out << ScrapeProtocolName(p);
  out << YAML::EndSeq;
}

// Prometheus omits zero limits.
void EmitLimits(YAML::Emitter& out, const ScrapeLimits& l) {
  if (l.body_size_limit != 0) {
    out << YAML::Key << "body_size_limit" << YAML::Value << FormatBytes(l.body_size_limit);
  }
  const std::pair<const char*, uint64_t> counts[] = {
      {"sample_limit", l.sample_limit},
      {"label_limit", l.label_limit},
      {"label_name_length_limit", l.label_name_length_limit},
      {"label_value_length_limit", l.label_value_length_limit},
      {"target_limit", l.target_limit},
  };
  for (const auto& [key, value] : counts) {
    if (value != 0) out << YAML::Key << key << YAML::Value << value;
  }
}

void EmitString(YAML::Emitter& out, const char* key, const std::string& value) {
  if (!value.empty()) out << YAML::Key << key << YAML::Value << value;
}

void EmitSecret(YAML::Emitter& out, const char* key, const std::string& value) {
  if (!value.empty()) out << YAML::Key << key << YAML::Value << kSecret;
}

void EmitHttpClient(YAML::Emitter& out, const HttpClientConfig& c) {
  if (c.basic_auth) {
    out << YAML::Key << "basic_auth" << YAML::Value << YAML::BeginMap;
    EmitString(out, "username", c.basic_auth->username);
    EmitSecret(out, "password", c.basic_auth->password);
    EmitString(out, "password_file", c.basic_auth->password_file);
    out << YAML::EndMap;
  }
  if (c.authorization) {
    out << YAML::Key << "authorization" << YAML::Value << YAML::BeginMap;
    EmitString(out, "type", c.authorization->type);
    EmitSecret(out, "credentials", c.authorization->credentials);
    EmitString(out, "credentials_file", c.authorization->credentials_file);
    out << YAML::EndMap;
  }
  const TlsConfig& t = c.tls_config;
  out << YAML::Key << "tls_config" << YAML::Value << YAML::BeginMap;
  EmitString(out, "ca_file", t.ca_file);
  EmitString(out, "cert_file", t.cert_file);
  EmitString(out, "key_file", t.key_file);
  EmitString(out, "server_name", t.server_name);
  out << YAML::Key << "insecure_skip_verify" << YAML::Value << t.insecure_skip_verify;
  out << YAML::Key << "min_version" << YAML::Value << TlsVersionName(t.min_version);
  out << YAML::EndMap;
  EmitString(out, "proxy_url", RedactUrl(c.proxy_url));
  out << YAML::Key << "follow_redirects" << YAML::Value << c.follow_redirects;
  out << YAML::Key << "enable_http2" << YAML::Value << c.enable_http2;
}

void EmitRelabelConfigs(YAML::Emitter& out, const char* key,
                        const std::vector<RelabelConfig>& rules) {
  if (rules.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const RelabelConfig& r : rules) {
    out << YAML::BeginMap;
    if (!r.source_labels.empty()) {
      out << YAML::Key << "source_labels" << YAML::Value << YAML::Flow << r.source_labels;
    }
    out << YAML::Key << "separator" << YAML::Value << YAML::DoubleQuoted << r.separator;
    out << YAML::Key << "regex" << YAML::Value << YAML::DoubleQuoted << r.regex.pattern();
    if (r.modulus != 0) out << YAML::Key << "modulus" << YAML::Value << r.modulus;
    EmitString(out, "target_label", r.target_label);
    out << YAML::Key << "replacement" << YAML::Value << YAML::DoubleQuoted << r.replacement;
    out << YAML::Key << "action" << YAML::Value << std::string(ActionName(r.action));
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void EmitGlobal(YAML::Emitter& out, const GlobalConfig& g) {
  out << YAML::Key << "global" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "scrape_interval" << YAML::Value << FormatDuration(g.scrape_interval);
  out << YAML::Key << "scrape_timeout" << YAML::Value << FormatDuration(g.scrape_timeout);
  if (!g.scrape_protocols.empty()) EmitProtocols(out, g.scrape_protocols);
  out << YAML::Key << "scrape_native_histograms" << YAML::Value << g.scrape_native_histograms;
  out << YAML::Key << "always_scrape_classic_histograms" << YAML::Value
      << g.always_scrape_classic_histograms;
  EmitLimits(out, g.limits);
  EmitLabels(out, "external_labels", g.external_labels);
  out << YAML::EndMap;
}

void EmitScrapeConfig(YAML::Emitter& out, const ScrapeConfig& sc) {
  out << YAML::BeginMap;
  out << YAML::Key << "job_name" << YAML::Value << sc.job_name;
  out << YAML::Key << "honor_labels" << YAML::Value << sc.honor_labels;
  out << YAML::Key << "honor_timestamps" << YAML::Value << sc.honor_timestamps;
  out << YAML::Key << "track_timestamps_staleness" << YAML::Value << sc.track_timestamps_staleness;
  out << YAML::Key << "scrape_interval" << YAML::Value << FormatDuration(sc.scrape_interval);
  out << YAML::Key << "scrape_timeout" << YAML::Value << FormatDuration(sc.scrape_timeout);
  EmitProtocols(out, sc.scrape_protocols);
  if (sc.fallback_scrape_protocol) {
    out << YAML::Key << "fallback_scrape_protocol" << YAML::Value
        << ScrapeProtocolName(*sc.fallback_scrape_protocol);
  }
  out << YAML::Key << "scrape_native_histograms" << YAML::Value << sc.scrape_native_histograms;
  out << YAML::Key << "always_scrape_classic_histograms" << YAML::Value
      << sc.always_scrape_classic_histograms;
  if (sc.native_histogram_bucket_limit != 0) {
    out << YAML::Key << "native_histogram_bucket_limit" << YAML::Value
        << sc.native_histogram_bucket_limit;
  }
  if (sc.native_histogram_min_bucket_factor != 0) {
    out << YAML::Key << "native_histogram_min_bucket_factor" << YAML::Value
        << sc.native_histogram_min_bucket_factor;
  }
  out << YAML::Key << "metrics_path" << YAML::Value << sc.metrics_path;
  out << YAML::Key << "scheme" << YAML::Value << sc.scheme;
  if (!sc.params.empty()) {
    out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, values] : sc.params) {
      out << YAML::Key << name << YAML::Value << YAML::Flow << values;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "enable_compression" << YAML::Value << sc.enable_compression;
  EmitLimits(out, sc.limits);
  EmitHttpClient(out, sc.http_client);
  EmitRelabelConfigs(out, "relabel_configs", sc.relabel_configs);
  EmitRelabelConfigs(out, "metric_relabel_configs", sc.metric_relabel_configs);
  if (!sc.file_sd_configs.empty()) {
    out << YAML::Key << "file_sd_configs" << YAML::Value << YAML::BeginSeq;
    for (const FileSdConfig& f : sc.file_sd_configs) {
      out << YAML::BeginMap << YAML::Key << "files" << YAML::Value << f.files;
      out << YAML::Key << "refresh_interval" << YAML::Value << FormatDuration(f.refresh_interval);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!sc.kubernetes_sd_configs.empty()) {
    out << YAML::Key << "kubernetes_sd_configs" << YAML::Value << YAML::BeginSeq;
    for (const KubernetesSdConfig& k : sc.kubernetes_sd_configs) {
      out << YAML::BeginMap << YAML::Key << "role" << YAML::Value << KubernetesRoleName(k.role);
      EmitString(out, "api_server", config::RedactUrl(k.api_server));
      EmitString(out, "kubeconfig_file", k.kubeconfig_file);
      if (!k.namespaces.empty() || k.own_namespace) {
        out << YAML::Key << "namespaces" << YAML::Value << YAML::BeginMap;
        if (k.own_namespace) out << YAML::Key << "own_namespace" << YAML::Value << true;
        if (!k.namespaces.empty()) out << YAML::Key << "names" << YAML::Value << k.namespaces;
        out << YAML::EndMap;
      }
      if (!k.selectors.empty()) {
        out << YAML::Key << "selectors" << YAML::Value << YAML::BeginSeq;
        for (const auto& sel : k.selectors) {
          out << YAML::BeginMap << YAML::Key << "role" << YAML::Value
              << KubernetesRoleName(sel.role);
          EmitString(out, "label", sel.label);
          EmitString(out, "field", sel.field);
          out << YAML::EndMap;
        }
        out << YAML::EndSeq;
      }
      if (k.attach_node_metadata) {
        out << YAML::Key << "attach_metadata" << YAML::Value << YAML::BeginMap << YAML::Key
            << "node" << YAML::Value << true << YAML::EndMap;
      }
      EmitHttpClient(out, k.http_client);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!sc.static_configs.empty()) {
    out << YAML::Key << "static_configs" << YAML::Value << YAML::BeginSeq;
    for (const StaticConfig& s : sc.static_configs) {
      out << YAML::BeginMap << YAML::Key << "targets" << YAML::Value << s.targets;
      EmitLabels(out, "labels", s.labels);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

void EmitRemoteWrite(YAML::Emitter& out, const RemoteWriteConfig& rw) {
  out << YAML::BeginMap;
  out << YAML::Key << "url" << YAML::Value << RedactUrl(rw.url);
  out << YAML::Key << "name" << YAML::Value << rw.name;
  out << YAML::Key << "remote_timeout" << YAML::Value << FormatDuration(rw.remote_timeout);
  if (!rw.headers.empty()) {
    out << YAML::Key << "headers" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, value] : rw.headers) out << YAML::Key << name << YAML::Value << value;
    out << YAML::EndMap;
  }
  EmitRelabelConfigs(out, "write_relabel_configs", rw.write_relabel_configs);
  out << YAML::Key << "send_exemplars" << YAML::Value << rw.send_exemplars;
  out << YAML::Key << "send_native_histograms" << YAML::Value << rw.send_native_histograms;
  out << YAML::Key << "protobuf_message" << YAML::Value
      << RemoteWriteProtoName(rw.protobuf_message);
  EmitHttpClient(out, rw.http_client);
  const QueueConfig& q = rw.queue_config;
  out << YAML::Key << "queue_config" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "capacity" << YAML::Value << q.capacity;
  out << YAML::Key << "max_shards" << YAML::Value << q.max_shards;
  out << YAML::Key << "min_shards" << YAML::Value << q.min_shards;
  out << YAML::Key << "max_samples_per_send" << YAML::Value << q.max_samples_per_send;
  out << YAML::Key << "batch_send_deadline" << YAML::Value << FormatDuration(q.batch_send_deadline);
  out << YAML::Key << "min_backoff" << YAML::Value << FormatDuration(q.min_backoff);
  out << YAML::Key << "max_backoff" << YAML::Value << FormatDuration(q.max_backoff);
  out << YAML::Key << "retry_on_http_429" << YAML::Value << q.retry_on_http_429;
  out << YAML::Key << "sample_age_limit" << YAML::Value << FormatDuration(q.sample_age_limit);
  // A petrel extension: shown only when set, so a Prometheus config renders as Prometheus does.
  if (q.max_bytes_per_second > 0) {
    out << YAML::Key << "max_bytes_per_second" << YAML::Value << q.max_bytes_per_second;
  }
  out << YAML::EndMap;
  const MetadataConfig& m = rw.metadata_config;
  out << YAML::Key << "metadata_config" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "send" << YAML::Value << m.send;
  out << YAML::Key << "send_interval" << YAML::Value << FormatDuration(m.send_interval);
  out << YAML::Key << "max_samples_per_send" << YAML::Value << m.max_samples_per_send;
  out << YAML::EndMap;
  out << YAML::EndMap;
}

}  // namespace

std::string Render(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  EmitGlobal(out, config.global);
  if (!config.scrape_configs.empty()) {
    out << YAML::Key << "scrape_configs" << YAML::Value << YAML::BeginSeq;
    for (const ScrapeConfig& sc : config.scrape_configs) EmitScrapeConfig(out, sc);
    out << YAML::EndSeq;
  }
  if (!config.remote_write.empty()) {
    out << YAML::Key << "remote_write" << YAML::Value << YAML::BeginSeq;
    for (const RemoteWriteConfig& rw : config.remote_write) EmitRemoteWrite(out, rw);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string RenderRemoteWriteExtras(const RemoteWriteConfig& rw) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  EmitRelabelConfigs(out, "write_relabel_configs", rw.write_relabel_configs);
  EmitHttpClient(out, rw.http_client);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace petrel::config
