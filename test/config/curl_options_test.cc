#include "config/curl_options.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

namespace petrel::config {
namespace {

TEST_CASE("AuthorizationHeader renders basic auth and bearer credentials", "[config]") {
  HttpClientConfig none;
  CHECK(AuthorizationHeader(none).value().empty());

  HttpClientConfig basic;
  basic.basic_auth = BasicAuth{"user", "pass", ""};
  CHECK(*AuthorizationHeader(basic) == "Authorization: Basic dXNlcjpwYXNz");

  HttpClientConfig bearer;
  bearer.authorization = Authorization{"Bearer", "tok", ""};
  CHECK(*AuthorizationHeader(bearer) == "Authorization: Bearer tok");
}

TEST_CASE("credentials files are re-read on every call and never echoed", "[config]") {
  char path[] = "/tmp/petrel-cred-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  HttpClientConfig http;
  http.authorization = Authorization{"Bearer", "", path};
  std::ofstream(path) << "first\n";
  CHECK(*AuthorizationHeader(http) == "Authorization: Bearer first");
  std::ofstream(path) << "rotated";
  CHECK(*AuthorizationHeader(http) == "Authorization: Bearer rotated");
  std::remove(path);
  auto missing = AuthorizationHeader(http);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains(path));
  CHECK_THAT(missing.status().message(), !Catch::Contains("rotated"));
}

TEST_CASE("server_name rewrites the URL, keeps the Host and connects to the address", "[config]") {
  std::string url = "https://10.0.0.5:8443/metrics?x=1";
  std::vector<std::string> headers;
  std::string connect_to = ApplyServerName("node.example", &url, &headers);
  CHECK(url == "https://node.example:8443/metrics?x=1");
  CHECK(connect_to == "node.example:8443:10.0.0.5:8443");
  REQUIRE(headers.size() == 1);
  CHECK(headers[0] == "Host: 10.0.0.5:8443");

  std::string plain = "http://10.0.0.5:80/metrics";
  CHECK(ApplyServerName("node.example", &plain, &headers).empty());
  CHECK(plain == "http://10.0.0.5:80/metrics");
}

}  // namespace
}  // namespace petrel::config
