// How the kubernetes discoverer reaches the API server: the server URL and credentials from
// api_server + http_config, a kubeconfig, or the in-cluster service account; and the retry
// delays of its list and watch requests.
//
// Thread-safe: no shared state.
#pragma once

#include <chrono>
#include <random>
#include <string>

#include "common/status.h"
#include "config/kubernetes_sd.h"

namespace petrel::scrape::discovery::k8s {

// Secrets live here in memory only; *_file fields are read per request by the client.
struct Connection {
  std::string server;  // scheme://host:port, no trailing slash
  std::string auth_type = "Bearer";
  std::string token, token_file;  // Authorization: <auth_type> <token>
  std::string basic_user, basic_password, basic_password_file;
  std::string ca_file, ca_pem, cert_file, cert_pem, key_file, key_pem;
  bool insecure = false;
  std::string proxy;
};

// api_server (+ http_config), else kubeconfig_file (current context), else in-cluster:
// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (IPv6 bracketed), token and
// ca.crt under service_account_dir. kUnavailable when the in-cluster env is missing;
// kInvalidArgument for a bad kubeconfig.
Result<Connection> ResolveConnection(const config::KubernetesSdConfig& cfg,
                                     const std::string& service_account_dir);

// The delay before retry number attempt (1-based): min * 2^(attempt-1) capped at max, with
// "equal jitter" (half fixed, half uniform from rng), so it lies in [d/2, d].
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds min,
                                       std::chrono::milliseconds max, std::mt19937_64& rng);

Result<std::string> ReadFile(const std::string& path);
// s without leading and trailing whitespace.
std::string TrimSpace(std::string s);

}  // namespace petrel::scrape::discovery::k8s
