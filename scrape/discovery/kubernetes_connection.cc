#include "scrape/discovery/kubernetes_connection.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace petrel::scrape::discovery::k8s {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Io("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TrimSpace(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

Result<Connection> ResolveConnection(const config::KubernetesSdConfig& cfg,
                                     const std::string& service_account_dir) {
  Connection c;
  if (!cfg.api_server.empty()) {
    c.server = cfg.api_server;
    const auto& http = cfg.http_client;
    if (http.authorization) {
      c.auth_type = http.authorization->type;
      c.token = http.authorization->credentials;
      c.token_file = http.authorization->credentials_file;
    }
    if (http.basic_auth) {
      c.basic_user = http.basic_auth->username;
      c.basic_password = http.basic_auth->password;
      c.basic_password_file = http.basic_auth->password_file;
    }
    c.ca_file = http.tls_config.ca_file;
    c.cert_file = http.tls_config.cert_file;
    c.key_file = http.tls_config.key_file;
    c.insecure = http.tls_config.insecure_skip_verify;
    c.proxy = http.proxy_url;
  } else if (!cfg.kubeconfig_file.empty()) {
    auto kc = config::LoadKubeconfig(cfg.kubeconfig_file);
    if (!kc.ok()) return kc.status();
    c.server = kc->server;
    c.token = kc->token;
    c.token_file = kc->token_file;
    c.basic_user = kc->username;
    c.basic_password = kc->password;
    c.ca_file = kc->ca_file;
    c.ca_pem = kc->ca_data;
    c.cert_file = kc->cert_file;
    c.cert_pem = kc->cert_data;
    c.key_file = kc->key_file;
    c.key_pem = kc->key_data;
    c.insecure = kc->insecure_skip_verify;
  } else {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || port == nullptr || *host == 0 || *port == 0) {
      return Status::Unavailable(
          "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
          "KUBERNETES_SERVICE_PORT must be defined");
    }
    std::string h = host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    c.server = "https://" + h + ":" + port;
    c.token_file = service_account_dir + "/token";
    c.ca_file = service_account_dir + "/ca.crt";
  }
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  return c;
}

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds min,
                                       std::chrono::milliseconds max, std::mt19937_64& rng) {
  double d = static_cast<double>(min.count());
  for (int i = 1; i < attempt && d < static_cast<double>(max.count()); ++i) d *= 2;
  d = std::min(d, static_cast<double>(max.count()));
  double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  return std::chrono::milliseconds(static_cast<int64_t>(d / 2 + r * d / 2));
}

}  // namespace petrel::scrape::discovery::k8s
