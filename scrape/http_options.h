// How a scrape job's protocols become its Accept header (the HTTP client options are applied
// by config/curl_options.h, shared with remote write).
#pragma once

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

}  // namespace petrel::scrape
