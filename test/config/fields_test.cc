// Scrape, HTTP client, relabel, file_sd and remote_write fields: parsing, defaults,
// inheritance, validation, secrets and Render.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"

namespace petrel::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

Config MustParse(const std::string& text, const std::string& source = "/etc/petrel/petrel.yml") {
  auto cfg = Parse(text, source);
  INFO(cfg.status().message());
  REQUIRE(cfg.ok());
  return *cfg;
}

std::string ErrorOf(const std::string& text) {
  auto cfg = Parse(text, "petrel.yml");
  REQUIRE_FALSE(cfg.ok());
  return cfg.status().message();
}

TEST_CASE("scrape and remote_write fields have Prometheus's defaults", "[config][fields]") {
  const Config c =
      MustParse("scrape_configs:\n  - job_name: a\nremote_write:\n  - url: http://r/\n");
  const ScrapeConfig& sc = c.scrape_configs[0];
  CHECK_FALSE(sc.honor_labels);
  CHECK(sc.honor_timestamps);
  CHECK_FALSE(sc.track_timestamps_staleness);
  CHECK(sc.enable_compression);
  CHECK(sc.scrape_protocols == DefaultScrapeProtocols());
  CHECK(sc.scrape_protocols[0] == ScrapeProtocol::kOpenMetricsText1_0_0);
  CHECK_FALSE(sc.fallback_scrape_protocol.has_value());
  CHECK(sc.limits == ScrapeLimits{});
  CHECK(sc.params.empty());
  CHECK(sc.relabel_configs.empty());
  CHECK(sc.http_client.follow_redirects);
  CHECK(sc.http_client.enable_http2);
  CHECK_FALSE(sc.http_client.basic_auth.has_value());
  CHECK(sc.http_client.tls_config.min_version == TlsVersion::kTls12);
  const RemoteWriteConfig& rw = c.remote_write[0];
  CHECK_FALSE(rw.http_client.enable_http2);
  CHECK(rw.http_client.follow_redirects);
  CHECK_FALSE(rw.send_exemplars);
  CHECK(rw.metadata_config.send);
  CHECK(rw.metadata_config.send_interval == minutes(1));
  CHECK(rw.metadata_config.max_samples_per_send == 2000);
}

TEST_CASE("every scrape_config field is carried into the Config", "[config][fields]") {
  const Config c = MustParse(R"(
scrape_configs:
  - job_name: blackbox
    params:
      module: [http_2xx, icmp]
      target: []
    honor_labels: true
    honor_timestamps: false
    track_timestamps_staleness: true
    enable_compression: false
    sample_limit: 5000
    label_limit: 30
    label_name_length_limit: 100
    label_value_length_limit: 200
    target_limit: 7
    body_size_limit: 10MB
    scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]
    fallback_scrape_protocol: PrometheusText0.0.4
    follow_redirects: false
    enable_http2: false
    proxy_url: http://proxy:3128
    tls_config:
      ca_file: certs/ca.pem
      cert_file: /abs/cert.pem
      key_file: key.pem
      server_name: example.com
      insecure_skip_verify: true
      min_version: TLS13
    basic_auth:
      username: user
      password_file: secrets/pw
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - action: HashMod
        source_labels: [__address__]
        modulus: 4
        target_label: __tmp_shard
    metric_relabel_configs:
      - action: labeldrop
        regex: go_.*
    file_sd_configs:
      - files: [targets/*.json, /srv/extra.yml]
        refresh_interval: 30s
)");
  const ScrapeConfig& sc = c.scrape_configs[0];
  CHECK(sc.params.at("module") == std::vector<std::string>{"http_2xx", "icmp"});
  CHECK(sc.params.at("target").empty());
  CHECK(sc.honor_labels);
  CHECK_FALSE(sc.honor_timestamps);
  CHECK(sc.track_timestamps_staleness);
  CHECK_FALSE(sc.enable_compression);
  CHECK(sc.limits.sample_limit == 5000);
  CHECK(sc.limits.label_limit == 30);
  CHECK(sc.limits.label_name_length_limit == 100);
  CHECK(sc.limits.label_value_length_limit == 200);
  CHECK(sc.limits.target_limit == 7);
  CHECK(sc.limits.body_size_limit == 10u << 20);
  CHECK(sc.scrape_protocols == std::vector<ScrapeProtocol>{ScrapeProtocol::kPrometheusText0_0_4,
                                                           ScrapeProtocol::kOpenMetricsText1_0_0});
  CHECK(sc.fallback_scrape_protocol == ScrapeProtocol::kPrometheusText0_0_4);
  const HttpClientConfig& h = sc.http_client;
  CHECK_FALSE(h.follow_redirects);
  CHECK_FALSE(h.enable_http2);
  CHECK(h.proxy_url == "http://proxy:3128");
  CHECK(h.tls_config.ca_file == "/etc/petrel/certs/ca.pem");  // relative to the config file
  CHECK(h.tls_config.cert_file == "/abs/cert.pem");
  CHECK(h.tls_config.key_file == "/etc/petrel/key.pem");
  CHECK(h.tls_config.server_name == "example.com");
  CHECK(h.tls_config.insecure_skip_verify);
  CHECK(h.tls_config.min_version == TlsVersion::kTls13);
  REQUIRE(h.basic_auth.has_value());
  CHECK(h.basic_auth->username == "user");
  CHECK(h.basic_auth->password.empty());
  CHECK(h.basic_auth->password_file == "/etc/petrel/secrets/pw");
  REQUIRE(sc.relabel_configs.size() == 2);
  CHECK(sc.relabel_configs[0].action == RelabelAction::kReplace);
  CHECK(sc.relabel_configs[0].target_label == "__param_target");
  CHECK(sc.relabel_configs[1].action == RelabelAction::kHashMod);
  CHECK(sc.relabel_configs[1].modulus == 4);
  REQUIRE(sc.metric_relabel_configs.size() == 1);
  CHECK(sc.metric_relabel_configs[0].regex.pattern() == "go_.*");
  REQUIRE(sc.file_sd_configs.size() == 1);
  CHECK(sc.file_sd_configs[0].files ==
        std::vector<std::string>{"/etc/petrel/targets/*.json", "/srv/extra.yml"});
  CHECK(sc.file_sd_configs[0].refresh_interval == seconds(30));

  // The rules work as parsed.
  auto out = Relabel(Labels{{"__address__", "10.0.0.1:9100"}}, sc.relabel_configs);
  REQUIRE(out.has_value());
  CHECK(out->Get("__param_target") == "10.0.0.1:9100");
  CHECK(out->Get("__tmp_shard") == std::to_string(HashMod("10.0.0.1:9100", 4)));
}

TEST_CASE("limits and scrape_protocols are inherited from global", "[config][fields]") {
  const Config c = MustParse(R"(
global:
  sample_limit: 100
  body_size_limit: 1GiB
  target_limit: 3
  scrape_protocols: [PrometheusText0.0.4]
scrape_configs:
  - job_name: inherits
  - job_name: overrides
    sample_limit: 5
    scrape_protocols: [OpenMetricsText1.0.0]
)");
  CHECK(c.global.limits.sample_limit == 100);
  const ScrapeConfig& a = c.scrape_configs[0];
  CHECK(a.limits.sample_limit == 100);
  CHECK(a.limits.body_size_limit == 1ull << 30);
  CHECK(a.limits.target_limit == 3);
  CHECK(a.scrape_protocols == std::vector<ScrapeProtocol>{ScrapeProtocol::kPrometheusText0_0_4});
  const ScrapeConfig& b = c.scrape_configs[1];
  CHECK(b.limits.sample_limit == 5);
  CHECK(b.limits.body_size_limit == 1ull << 30);
  CHECK(b.scrape_protocols == std::vector<ScrapeProtocol>{ScrapeProtocol::kOpenMetricsText1_0_0});
}

TEST_CASE("byte sizes parse as units.Base2Bytes", "[config][fields]") {
  CHECK(*ParseBytes("0") == 0);
  CHECK(*ParseBytes("512B") == 512);
  CHECK(*ParseBytes("10MB") == 10ull << 20);
  CHECK(*ParseBytes("10MiB") == 10ull << 20);
  CHECK(*ParseBytes("1.5KB") == 1536);
  CHECK(*ParseBytes("1GB512MB") == (1ull << 30) + (512ull << 20));
  CHECK(*ParseBytes("2EB") == 2ull << 60);
  CHECK_FALSE(ParseBytes("10").ok());       // a unit is required
  CHECK_FALSE(ParseBytes("10mb").ok());     // case-sensitive
  CHECK_FALSE(ParseBytes("1GiB1MB").ok());  // styles do not mix
  CHECK_FALSE(ParseBytes("-1KB").ok());
  CHECK_FALSE(ParseBytes("").ok());
  CHECK_FALSE(ParseBytes("8EB").ok());  // past int64
  CHECK(FormatBytes(0) == "0B");
  CHECK(FormatBytes(10ull << 20) == "10MiB");
  CHECK(FormatBytes((1ull << 30) + (512ull << 20)) == "1GiB512MiB");
  CHECK(FormatBytes(1000) == "1000B");
  CHECK(ErrorOf("global:\n  body_size_limit: 10mb\n") ==
        "petrel.yml:2: global.body_size_limit: unknown unit \"mb\" in byte size \"10mb\"");
}

TEST_CASE("scrape_protocols are validated as Prometheus does", "[config][fields]") {
  const std::string job = "scrape_configs:\n  - job_name: a\n";
  CHECK(ErrorOf(job + "    scrape_protocols: [PrometheusText0.0.4, prometheustext0.0.4]\n") ==
        "petrel.yml:3: scrape_configs[0].scrape_protocols[1]: duplicated protocol in "
        "scrape_protocols, got \"prometheustext0.0.4\"");
  CHECK(ErrorOf(job + "    scrape_protocols: [Text]\n") ==
        "petrel.yml:3: scrape_configs[0].scrape_protocols[0]: unknown scrape protocol Text, "
        "supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto "
        "PrometheusText0.0.4 PrometheusText1.0.0]");
  CHECK(ErrorOf(job + "    scrape_protocols: []\n") ==
        "petrel.yml:3: scrape_configs[0].scrape_protocols: scrape_protocols cannot be empty");
  CHECK(ErrorOf(job + "    fallback_scrape_protocol: text\n") ==
        "petrel.yml:3: scrape_configs[0].fallback_scrape_protocol: invalid "
        "fallback_scrape_protocol: unknown scrape protocol text, supported: "
        "[OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 "
        "PrometheusText1.0.0]");
}

TEST_CASE("HTTP client auth: bearer_token becomes authorization, one method per block",
          "[config][fields]") {
  const Config c = MustParse(R"(
scrape_configs:
  - job_name: a
    bearer_token: tok
  - job_name: b
    bearer_token_file: token
  - job_name: c
    authorization: {type: ' Token ', credentials_file: /t}
  - job_name: d
    authorization: {credentials: xyz}
)");
  auto auth = [&](int i) { return *c.scrape_configs[i].http_client.authorization; };
  CHECK(auth(0) == Authorization{.type = "Bearer", .credentials = "tok"});
  CHECK(auth(1) == Authorization{.type = "Bearer", .credentials_file = "/etc/petrel/token"});
  CHECK(auth(2) == Authorization{.type = "Token", .credentials_file = "/t"});
  CHECK(auth(3) == Authorization{.type = "Bearer", .credentials = "xyz"});

  const std::string job = "scrape_configs:\n  - job_name: a\n";
  CHECK(ErrorOf(job + "    bearer_token: s3cr3t\n    bearer_token_file: f\n") ==
        "petrel.yml:2: scrape_configs[0]: at most one of bearer_token & bearer_token_file must "
        "be configured");
  CHECK(ErrorOf(job + "    bearer_token: s3cr3t\n    basic_auth: {username: u}\n") ==
        "petrel.yml:2: scrape_configs[0]: at most one of basic_auth, oauth2, bearer_token & "
        "bearer_token_file must be configured");
  CHECK(ErrorOf(job + "    basic_auth: {username: u, password: s3cr3t, password_file: f}\n") ==
        "petrel.yml:2: scrape_configs[0]: at most one of basic_auth password & password_file "
        "must be configured");
  CHECK(ErrorOf(job + "    authorization: {credentials: s3cr3t}\n    bearer_token: x\n") ==
        "petrel.yml:2: scrape_configs[0]: authorization is not compatible with bearer_token & "
        "bearer_token_file");
  CHECK(ErrorOf(job + "    authorization: {credentials: s3cr3t, credentials_file: f}\n") ==
        "petrel.yml:2: scrape_configs[0]: at most one of authorization credentials & "
        "credentials_file must be configured");
  CHECK(ErrorOf(job + "    authorization: {type: BASIC, credentials: s3cr3t}\n") ==
        "petrel.yml:2: scrape_configs[0]: authorization type cannot be set to \"basic\", use "
        "\"basic_auth\" instead");
  CHECK(
      ErrorOf(job + "    authorization: {credentials: s3cr3t}\n    basic_auth: {username: u}\n") ==
      "petrel.yml:2: scrape_configs[0]: at most one of basic_auth, oauth2 & authorization must "
      "be configured");
  CHECK(ErrorOf("remote_write:\n  - url: http://r/\n    bearer_token: s3cr3t\n"
                "    basic_auth: {username: u}\n") ==
        "petrel.yml:2: remote_write[0]: at most one of basic_auth, oauth2, bearer_token & "
        "bearer_token_file must be configured");
}

TEST_CASE("TLS and proxy settings are validated, URL passwords stay out of messages",
          "[config][fields]") {
  const std::string job = "scrape_configs:\n  - job_name: a\n";
  CHECK(ErrorOf(job + "    tls_config: {min_version: TLS14}\n") ==
        "petrel.yml:3: scrape_configs[0].tls_config.min_version: unknown TLS version: TLS14");
  CHECK(ErrorOf(job + "    tls_config: {key_file: k}\n") ==
        "petrel.yml:3: scrape_configs[0].tls_config: exactly one of cert or cert_file must be "
        "configured when a client key is configured");
  CHECK(ErrorOf(job + "    tls_config: {cert_file: c}\n") ==
        "petrel.yml:3: scrape_configs[0].tls_config: exactly one of key or key_file must be "
        "configured when a client certificate is configured");
  CHECK(ErrorOf(job + "    proxy_url: ftp://u:s3cr3t@proxy/\n") ==
        "petrel.yml:3: scrape_configs[0].proxy_url: invalid proxy_url \"ftp://u:xxxxx@proxy/\": "
        "unsupported proxy scheme (want http, https, socks5 or socks5h)");
  CHECK(ErrorOf("remote_write:\n  - url: http://u:s3cr3t@/x\n") ==
        "petrel.yml:2: remote_write[0].url: invalid URL \"http://u:xxxxx@/x\": missing host");
  CHECK(MustParse(job + "    proxy_url: socks5h://p:1080\n")
            .scrape_configs[0]
            .http_client.proxy_url == "socks5h://p:1080");
  CHECK(RedactUrl("https://user:pw@host:1/p?q") == "https://user:xxxxx@host:1/p?q");
  CHECK(RedactUrl("https://user@host/") == "https://user@host/");
}

TEST_CASE("relabel_configs are parsed and validated with file positions", "[config][fields]") {
  const std::string job = "scrape_configs:\n  - job_name: a\n    relabel_configs:\n";
  CHECK(ErrorOf(job + "      - action: copy\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0].action: unknown relabel action "
        "\"copy\"");
  CHECK(ErrorOf(job + "      - source_labels: [a]\n        regex: 'a(b'\n        target_label: x\n")
            .find("petrel.yml:5: scrape_configs[0].relabel_configs[0].regex: \"a(b\" is not a "
                  "valid regex: ") == 0);
  CHECK(ErrorOf(job + "      - action: hashmod\n        target_label: x\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod "
        "requires non-zero modulus");
  CHECK(ErrorOf(job + "      - action: labeldrop\n        source_labels: []\n        regex: x\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0]: labeldrop action requires only "
        "'regex', and no other fields");
  CHECK(ErrorOf(job + "      - action:\n        target_label: x\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0]: relabel action cannot be empty");
  CHECK(ErrorOf(job + "      -\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0]: empty or null target relabeling "
        "rule in scrape config");
  CHECK(ErrorOf(job + "      - {target_label: x, source_label: [a]}\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0]: unknown key \"source_label\"");
  CHECK(ErrorOf(job + "      - {target_label: x, source_labels: [a-b]}\n") ==
        "petrel.yml:4: scrape_configs[0].relabel_configs[0].source_labels[0]: \"a-b\" is not a "
        "valid label name");
  CHECK(ErrorOf("remote_write:\n  - url: http://r/\n    write_relabel_configs:\n      - ~\n") ==
        "petrel.yml:4: remote_write[0].write_relabel_configs[0]: empty or null relabeling rule "
        "in remote write config");

  // A null value is the zero value, as with Go's YAML decoder: `regex:` is the empty regex.
  const Config c = MustParse(job + "      - {source_labels: [a], regex: , target_label: t}\n");
  CHECK(c.scrape_configs[0].relabel_configs[0].regex.pattern().empty());
}

TEST_CASE("file_sd_configs are validated as discovery/file does", "[config][fields]") {
  const std::string job = "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n";
  const Config c = MustParse(job + "      - files: [a.json]\n", "petrel.yml");
  CHECK(c.scrape_configs[0].file_sd_configs[0].files == std::vector<std::string>{"a.json"});
  CHECK(c.scrape_configs[0].file_sd_configs[0].refresh_interval == minutes(5));
  CHECK(ErrorOf(job + "      - files: [targets.txt]\n") ==
        "petrel.yml:4: scrape_configs[0].file_sd_configs[0].files[0]: path name \"targets.txt\" "
        "is not valid for file discovery");
  CHECK(ErrorOf(job + "      - files: ['*/x.json']\n") ==
        "petrel.yml:4: scrape_configs[0].file_sd_configs[0].files[0]: path name \"*/x.json\" is "
        "not valid for file discovery");
  CHECK(ErrorOf(job + "      - refresh_interval: 1m\n") ==
        "petrel.yml:4: scrape_configs[0].file_sd_configs[0]: file service discovery config must "
        "contain at least one path name");
  CHECK(ErrorOf(job + "      - files: [a.yml]\n        refresh_interval: 0s\n") ==
        "petrel.yml:4: scrape_configs[0].file_sd_configs[0]: refresh_interval must be greater "
        "than 0");
}

TEST_CASE("remote_write fields: write_relabel_configs, exemplars, metadata, HTTP client",
          "[config][fields]") {
  const Config c = MustParse(R"(
remote_write:
  - url: https://thanos/api/v1/receive
    send_exemplars: false
    enable_http2: true
    metadata_config: {send: false, send_interval: 30s, max_samples_per_send: 500}
    authorization: {credentials_file: /var/run/token}
    write_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
  - url: https://thanos/api/v1/receive
)");
  const RemoteWriteConfig& rw = c.remote_write[0];
  CHECK_FALSE(rw.send_exemplars);
  CHECK(Parse("remote_write:\n  - url: http://r/w\n    send_exemplars: true\n", "p.yml")
            ->remote_write[0]
            .send_exemplars);
  CHECK(ErrorOf("remote_write:\n  - url: http://r/\n    protobuf_message: v2\n") ==
        "petrel.yml:3: remote_write[0].protobuf_message: unknown remote write protobuf message "
        "\"v2\", supported: prometheus.WriteRequest, io.prometheus.write.v2.Request");
  CHECK(rw.http_client.enable_http2);
  CHECK(rw.metadata_config ==
        MetadataConfig{.send = false, .send_interval = seconds(30), .max_samples_per_send = 500});
  CHECK(rw.http_client.authorization->credentials_file == "/var/run/token");
  REQUIRE(rw.write_relabel_configs.size() == 1);
  CHECK_FALSE(Relabel(Labels{{"__name__", "go_goroutines"}}, rw.write_relabel_configs));
  // Different settings, different derived names; the second entry is the plain default.
  CHECK(rw.name != c.remote_write[1].name);
  CHECK(ErrorOf("remote_write:\n  - url: http://r/\n    metadata_config: {send_interval: 0s}\n") ==
        "petrel.yml:3: remote_write[0].metadata_config.send_interval: must be greater than 0");
}

TEST_CASE("equal files give equal configs, any rule change is a difference", "[config][fields]") {
  const std::string text =
      "scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
      "      - {source_labels: [x], regex: 'a+', target_label: y}\n";
  CHECK(MustParse(text) == MustParse(text));
  std::string changed = text;
  changed.replace(changed.find("a+"), 2, "a*");
  CHECK_FALSE(MustParse(text) == MustParse(changed));
}

TEST_CASE("Render shows the loaded config with secrets hidden", "[config][fields][render]") {
  const Config c = MustParse(R"(
global:
  external_labels: {cluster: edge}
scrape_configs:
  - job_name: a
    basic_auth: {username: user, password: hunter2}
    proxy_url: http://pu:proxypass@proxy:3128
    static_configs: [{targets: ['h:1']}]
remote_write:
  - url: https://ru:urlpass@thanos/api/v1/receive
    bearer_token: tokentoken
)");
  const std::string yaml = Render(c);
  INFO(yaml);
  CHECK(yaml.find("hunter2") == std::string::npos);
  CHECK(yaml.find("proxypass") == std::string::npos);
  CHECK(yaml.find("urlpass") == std::string::npos);
  CHECK(yaml.find("tokentoken") == std::string::npos);
  CHECK(yaml.find("password: <secret>") != std::string::npos);
  CHECK(yaml.find("credentials: <secret>") != std::string::npos);
  CHECK(yaml.find("job_name: a") != std::string::npos);
}

TEST_CASE("Render output parses back to the same config", "[config][fields][render]") {
  const Config c = MustParse(R"(
global:
  scrape_interval: 30s
  external_labels: {cluster: edge, region: eu}
  sample_limit: 10
  body_size_limit: 3MB
scrape_configs:
  - job_name: full
    params: {module: [a, b]}
    honor_labels: true
    honor_timestamps: false
    enable_compression: false
    label_limit: 4
    scrape_protocols: [PrometheusText1.0.0, PrometheusText0.0.4]
    fallback_scrape_protocol: PrometheusText0.0.4
    tls_config: {ca_file: /ca.pem, insecure_skip_verify: true, min_version: TLS11}
    authorization: {type: Token, credentials_file: /t}
    relabel_configs:
      - {source_labels: [a, b], separator: '', regex: '(.*)-(\d+)', target_label: 'x_${1}', replacement: '$2'}
      - {action: labelmap, regex: '__meta_(.+)'}
      - {action: hashmod, source_labels: [a], modulus: 3, target_label: h}
      - {action: keep, source_labels: [h], regex: '1'}
    metric_relabel_configs:
      - {action: labeldrop, regex: 'tmp_.*'}
    file_sd_configs: [{files: [/sd/*.yml], refresh_interval: 1m}]
    static_configs: [{targets: ['h:1', 'h:2'], labels: {env: prod}}]
remote_write:
  - url: https://thanos/api/v1/receive
    name: thanos
    headers: {X-Scope-OrgID: edge}
    write_relabel_configs: [{action: drop, source_labels: [__name__], regex: 'go_.*'}]
    queue_config: {max_shards: 7, sample_age_limit: 5m, max_bytes_per_second: 1MiB}
    metadata_config: {send: false}
)");
  auto again = Parse(Render(c), "/etc/petrel/petrel.yml");
  INFO(Render(c));
  INFO(again.status().message());
  REQUIRE(again.ok());
  CHECK(*again == c);
}

}  // namespace
}  // namespace petrel::config
