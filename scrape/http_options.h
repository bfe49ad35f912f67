// How a scrape job's settings become an HTTP request: the Accept header from
// scrape_protocols, and the http client options (auth, TLS, proxy, redirects) on a curl handle.
#pragma once

#include <curl/curl.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace petrel::scrape {

// Prometheus's weighted Accept header for the protocols in preference order
// (exposition-format.md §1): q=0.6 down by 0.1, then */*.
std::string AcceptHeader(const std::vector<config::ScrapeProtocol>& protocols);

// The Content-Type a fallback_scrape_protocol stands for, to pick the parser.
std::string ContentTypeOf(config::ScrapeProtocol protocol);

// Sets TLS, proxy, redirect and HTTP-version options on easy. One caller at a time.
void ApplyHttpClient(CURL* easy, const config::HttpClientConfig& http);

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
Result<std::string> AuthorizationHeader(const config::HttpClientConfig& http);

}  // namespace petrel::scrape
