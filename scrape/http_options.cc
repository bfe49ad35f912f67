#include "scrape/http_options.h"

#include <fmt/format.h>

namespace petrel::scrape {
namespace {

const char* MediaType(config::ScrapeProtocol p) {
  switch (p) {
    case config::ScrapeProtocol::kPrometheusProto:
      return "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
             "encoding=delimited";
    case config::ScrapeProtocol::kPrometheusText0_0_4:
      return "text/plain;version=0.0.4";
    case config::ScrapeProtocol::kPrometheusText1_0_0:
      return "text/plain;version=1.0.0;escaping=allow-utf-8";
    case config::ScrapeProtocol::kOpenMetricsText0_0_1:
      return "application/openmetrics-text;version=0.0.1";
    case config::ScrapeProtocol::kOpenMetricsText1_0_0:
      return "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8";
  }
  return "*/*";
}

}  // namespace

std::string AcceptHeader(const std::vector<config::ScrapeProtocol>& protocols) {
  std::string out;
  int q = 6;  // tenths: "number of known protocols + 1"
  // Config always fills the list; an empty one (hand-built settings) means the default.
  for (auto p : protocols.empty() ? config::DefaultScrapeProtocols() : protocols) {
    if (!out.empty()) out += ',';
    out += fmt::format("{};q=0.{}", MediaType(p), q);
    if (q > 1) --q;
  }
  out += fmt::format(",*/*;q=0.{}", q);
  return out;
}

std::string ContentTypeOf(config::ScrapeProtocol protocol) { return MediaType(protocol); }

}  // namespace petrel::scrape
