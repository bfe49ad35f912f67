#include "config/curl_options.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace petrel::config {
namespace {

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Io(fmt::format("cannot read secret file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Base64(std::string_view in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kChars[(n >> k) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += {kChars[(n >> 18) & 63], kChars[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kChars[(n >> 18) & 63], kChars[(n >> 12) & 63], kChars[(n >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

void ApplyHttpClient(CURL* easy, const HttpClientConfig& http) {
  const auto& tls = http.tls_config;
  if (!tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT, tls.cert_file.c_str());
  if (!tls.key_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, tls.key_file.c_str());
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, tls.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, tls.insecure_skip_verify ? 0L : 2L);
  long version = CURL_SSLVERSION_TLSv1_2;
  switch (tls.min_version) {
    case TlsVersion::kTls10:
      version = CURL_SSLVERSION_TLSv1_0;
      break;
    case TlsVersion::kTls11:
      version = CURL_SSLVERSION_TLSv1_1;
      break;
    case TlsVersion::kTls12:
      version = CURL_SSLVERSION_TLSv1_2;
      break;
    case TlsVersion::kTls13:
      version = CURL_SSLVERSION_TLSv1_3;
      break;
  }
  curl_easy_setopt(easy, CURLOPT_SSLVERSION, version);
  if (!http.proxy_url.empty()) curl_easy_setopt(easy, CURLOPT_PROXY, http.proxy_url.c_str());
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, http.follow_redirects ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);  // Go's http.Client stops after 10
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                   http.enable_http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
}

std::string ApplyServerName(const std::string& server_name, std::string* url,
                            std::vector<std::string>* headers) {
  const std::string_view kHttps = "https://";
  if (server_name.empty() || url->rfind(kHttps, 0) != 0) return "";
  size_t host_start = kHttps.size();
  size_t host_end = url->find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url->size();
  std::string authority = url->substr(host_start, host_end - host_start);
  std::string host = authority;
  std::string port = "443";
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  headers->push_back("Host: " + authority);
  *url = std::string(kHttps) + server_name + ":" + port + url->substr(host_end);
  return fmt::format("{}:{}:{}:{}", server_name, port,
                     host.find(':') != std::string::npos ? "[" + host + "]" : host, port);
}

Result<std::string> AuthorizationHeader(const HttpClientConfig& http) {
  if (http.basic_auth) {
    std::string password = http.basic_auth->password;
    if (!http.basic_auth->password_file.empty()) {
      auto p = ReadSecretFile(http.basic_auth->password_file);
      if (!p.ok()) return p.status();
      password = *p;
    }
    return "Authorization: Basic " + Base64(http.basic_auth->username + ":" + password);
  }
  if (http.authorization) {
    std::string credentials = http.authorization->credentials;
    if (!http.authorization->credentials_file.empty()) {
      auto c = ReadSecretFile(http.authorization->credentials_file);
      if (!c.ok()) return c.status();
      credentials = *c;
    }
    return fmt::format("Authorization: {} {}", http.authorization->type, credentials);
  }
  return std::string();
}

}  // namespace petrel::config
