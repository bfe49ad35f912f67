// Metric metadata for remote write (RW 1.0 WriteRequest.metadata, field 3): what a queue sends
// every metadata_config.send_interval when it is given a MetadataSource. remotewrite/ does not
// know where metadata comes from; the agent wires a source (the scrape manager's metadata of
// all active targets) into QueueOptions::metadata.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace petrel::remotewrite {

struct MetricMetadata {
  // The values of prometheus.MetricMetadata.MetricType on the wire.
  enum class Type : uint8_t {
    kUnknown = 0,
    kCounter = 1,
    kGauge = 2,
    kHistogram = 3,
    kGaugeHistogram = 4,
    kSummary = 5,
    kInfo = 6,
    kStateSet = 7,
  };
  Type type = Type::kUnknown;
  std::string family_name;  // metric_family_name, e.g. "http_requests" (no _total suffix rule)
  std::string help;
  std::string unit;
  auto operator<=>(const MetricMetadata&) const = default;
};

// Calls `visit` once per metadata entry it knows (duplicates are fine: the queue de-duplicates).
// Called from the queue's loop thread, once per send_interval, so it must be thread-safe with
// respect to whoever updates the metadata; `visit` must not be kept after the call returns.
using MetadataVisitor = std::function<void(const MetricMetadata&)>;
using MetadataSource = std::function<void(const MetadataVisitor& visit)>;

}  // namespace petrel::remotewrite
