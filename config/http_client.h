// HTTP client options shared by scrape_configs and remote_write: Prometheus's inline
// http_config (prometheus/common config.HTTPClientConfig), the subset Petrel implements.
//
// Parsed, validated and normalised at load as Prometheus does: the legacy bearer_token and
// bearer_token_file become authorization {type: Bearer, credentials / credentials_file};
// authorization.type defaults to "Bearer"; relative *_file paths are joined to the config
// file's directory. At most one of basic_auth, authorization and bearer_token(_file) is set.
// *_file contents are not read at load: the client reads them on use (Prometheus re-reads
// them per request), so a rotated token works without a reload.
//
// Secrets (password, credentials) never appear in error messages, and Render prints them as
// "<secret>". Keys not listed here (oauth2, http_headers, no_proxy, proxy_from_environment,
// proxy_connect_header, tls_config ca/cert/key inline, max_version, username_file) are
// rejected as "not supported by petrel yet".
#pragma once

#include <optional>
#include <string>

namespace petrel::config {

struct BasicAuth {
  std::string username = "";
  std::string password = "";       // secret; at most one of password and password_file
  std::string password_file = "";  // joined to the config directory at load
  bool operator==(const BasicAuth&) const = default;
};

// Sends "Authorization: <type> <credentials>".
struct Authorization {
  std::string type = "Bearer";        // trimmed; never "basic" (any case): use basic_auth
  std::string credentials = "";       // secret; at most one of credentials and credentials_file
  std::string credentials_file = "";  // joined to the config directory at load
  bool operator==(const Authorization&) const = default;
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

struct TlsConfig {
  std::string ca_file = "";    // PEM CA bundle; empty: the system's roots
  std::string cert_file = "";  // client certificate; set together with key_file
  std::string key_file = "";
  std::string server_name = "";  // SNI and verification name; empty: the URL's host
  bool insecure_skip_verify = false;
  TlsVersion min_version = TlsVersion::kTls12;  // Go's client default
  bool operator==(const TlsConfig&) const = default;
};

struct HttpClientConfig {
  std::optional<BasicAuth> basic_auth = std::nullopt;
  std::optional<Authorization> authorization =
      std::nullopt;  // also holds a legacy bearer_token(_file)
  TlsConfig tls_config = {};
  // "" for none, else an absolute http, https, socks5 or socks5h URL (may carry user:pass,
  // which is a secret and is redacted in messages and Render).
  std::string proxy_url = "";
  bool follow_redirects = true;
  bool enable_http2 = true;  // remote_write's default is false
  bool operator==(const HttpClientConfig&) const = default;
};

// "TLS12" etc., the YAML spelling.
const char* TlsVersionName(TlsVersion version);

// url with the password of any user:password@ part replaced by "xxxxx", as Go's URL.Redacted.
std::string RedactUrl(const std::string& url);

}  // namespace petrel::config
