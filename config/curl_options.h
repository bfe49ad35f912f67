// Applying a HttpClientConfig to libcurl: shared by scraping and remote write, so both honour
// auth, TLS, proxy and redirect settings the same way.
#pragma once

#include <curl/curl.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "config/http_client.h"

namespace petrel::config {

// Sets TLS, proxy, redirect and HTTP-version options on easy. One caller at a time.
void ApplyHttpClient(CURL* easy, const HttpClientConfig& http);

// tls_config.server_name: curl verifies against the URL's host, so the request goes to a URL
// naming server_name, with CURLOPT_CONNECT_TO pointing at the real address and the Host header
// kept as the real one (Go's http client does the same with tls.Config.ServerName). Sets
// *url, appends "Host: ..." to *headers and returns the CONNECT_TO entry; no-op ("") when
// server_name is empty or url is not https.
std::string ApplyServerName(const std::string& server_name, std::string* url,
                            std::vector<std::string>* headers);

// The Authorization header line ("Authorization: Bearer ...") for basic_auth or
// authorization, reading *_file on every call so rotated secrets apply without a reload; ""
// when none is configured. kIo (naming the file, never the secret) when a file is unreadable.
Result<std::string> AuthorizationHeader(const HttpClientConfig& http);

}  // namespace petrel::config
