// Pieces of the config parser shared by its .cc files. Internal to config/.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "config/node.h"
#include "config/relabel.h"

namespace petrel::config {

// Prometheus's inline HTTP client settings (common/config HTTPClientConfig), accepted by
// scrape_configs and remote_write but not implemented by Petrel yet.
std::vector<std::string_view> WithHttpClientKeys(std::vector<std::string_view> keys);

// Parses the remote_write sequence: per-entry validation, default names, uniqueness.
Status ParseRemoteWrites(const Node& list, std::vector<RemoteWriteConfig>& out);

// Empty when url is an absolute http(s) URL with a host; otherwise why not.
std::string UrlProblem(std::string_view url);

bool IsValidUtf8(std::string_view text);

// Validate, plus: source_labels_set says the key was written (even as []), which labeldrop and
// labelkeep forbid as Prometheus does.
Status ValidateRelabel(const RelabelConfig& rule, bool source_labels_set);

}  // namespace petrel::config
