#include "scrape/http_options.h"

#include <catch2/catch.hpp>

#include "scrape/parser.h"

namespace petrel::scrape {
namespace {

TEST_CASE("the Accept header weighs the protocols as Prometheus 3 does", "[scrape][accept]") {
  // The strings of Prometheus's scrape tests (exposition-format.md §1).
  CHECK(AcceptHeader(config::DefaultScrapeProtocols()) ==
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
        "application/openmetrics-text;version=0.0.1;q=0.5,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
        "text/plain;version=0.0.4;q=0.3,*/*;q=0.2");
  CHECK(AcceptHeader(config::DefaultProtoFirstScrapeProtocols()) ==
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
        "encoding=delimited;q=0.6,"
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
        "application/openmetrics-text;version=0.0.1;q=0.4,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
        "text/plain;version=0.0.4;q=0.2,*/*;q=0.1");
  CHECK(AcceptHeader({config::ScrapeProtocol::kPrometheusProto}) ==
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
        "encoding=delimited;q=0.6,*/*;q=0.5");
}

TEST_CASE("a PrometheusProto fallback picks the protobuf parser", "[scrape][accept]") {
  CHECK(FormatFromContentType(ContentTypeOf(config::ScrapeProtocol::kPrometheusProto)) ==
        ExpositionFormat::kProtobuf);
}

}  // namespace
}  // namespace petrel::scrape
