#include "remotewrite/http_client.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "remotewrite/encoder.h"
#include "test/remotewrite/dropper.h"
#include "test/remotewrite/fake_receiver.h"

namespace petrel::remotewrite {
namespace {

using std::chrono::milliseconds;
using testing::FakeReceiver;
using testing::Reply;

std::string Body() {
  std::string labels;
  EncodeLabels(Labels{{"__name__", "up"}, {"job", "node"}}, &labels);
  RequestEncoder enc;
  enc.AddSample(labels, 1700000000000, 1.0);
  std::string buf;
  return std::string(SnappyCompress(enc.bytes(), &buf));
}

config::RemoteWriteConfig Config(const std::string& url, bool retry_429 = false) {
  config::RemoteWriteConfig c;
  c.url = url;
  c.name = "test";
  c.remote_timeout = std::chrono::seconds(5);
  c.queue_config.retry_on_http_429 = retry_429;
  return c;
}

TEST_CASE("http client sends the remote-write headers and a decodable body", "[remotewrite]") {
  FakeReceiver rx;
  FakeClock clock;
  auto cfg = Config(rx.url());
  cfg.headers = {{"X-Scope-OrgID", "tenant-1"}};
  auto client = HttpClient::Create(cfg, clock);
  REQUIRE(client.ok());
  std::string body = Body();
  SendResult r = (*client)->Send(body, 0);
  CHECK(r.status.ok());
  CHECK(r.http_status == 200);
  r = (*client)->Send(body, 3);
  CHECK(r.status.ok());

  auto reqs = rx.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].decoded);
  CHECK(reqs[0].Header("Content-Encoding") == "snappy");
  CHECK(reqs[0].Header("Content-Type") == "application/x-protobuf");
  CHECK(reqs[0].Header("X-Prometheus-Remote-Write-Version") == "0.1.0");
  CHECK(reqs[0].Header("User-Agent").rfind("Petrel/", 0) == 0);
  CHECK(reqs[0].Header("X-Scope-OrgID") == "tenant-1");
  CHECK(reqs[0].Header("Retry-Attempt").empty());
  CHECK(reqs[1].Header("Retry-Attempt") == "3");
  REQUIRE(reqs[0].body.timeseries_size() == 1);
  CHECK(reqs[0].body.timeseries(0).samples(0).timestamp() == 1700000000000);
}

TEST_CASE("http client classifies responses", "[remotewrite]") {
  FakeReceiver rx;
  FakeClock clock;
  Reply reply;
  rx.SetResponder([&reply](size_t, const testing::ReceivedRequest&) { return reply; });
  bool retry_429 = false;
  std::string body = Body();
  auto send = [&] {
    auto client = HttpClient::Create(Config(rx.url(), retry_429), clock);
    REQUIRE(client.ok());
    return (*client)->Send(body, 0);
  };

  SECTION("204 is success") {
    reply.status = 204;
    CHECK(send().status.ok());
  }
  SECTION("500 is retried, body kept in the message") {
    reply = {500, {}, "storage on fire"};
    SendResult r = send();
    CHECK(r.status.code() == Code::kUnavailable);
    CHECK(r.http_status == 500);
    CHECK(r.status.message().find("500") != std::string::npos);
    CHECK(r.status.message().find("storage on fire") != std::string::npos);
    CHECK(r.retry_after == milliseconds(0));
  }
  SECTION("503 with Retry-After seconds") {
    reply = {503, {{"Retry-After", "7"}}, ""};
    SendResult r = send();
    CHECK(r.status.code() == Code::kUnavailable);
    CHECK(r.retry_after == milliseconds(7000));
  }
  SECTION("400 is dropped, a long body is cut") {
    reply = {400, {}, "out of order sample " + std::string(1000, 'x')};
    SendResult r = send();
    CHECK(r.status.code() == Code::kInvalidArgument);
    CHECK(r.status.message().find("out of order sample") != std::string::npos);
    CHECK(r.status.message().size() < kMaxBodyInMessage + 64);
  }
  SECTION("404 and 413 are dropped") {
    reply.status = 404;
    CHECK(send().status.code() == Code::kInvalidArgument);
    reply.status = 413;
    CHECK(send().status.code() == Code::kInvalidArgument);
  }
  SECTION("429 without retry_on_http_429 is dropped") {
    reply = {429, {{"Retry-After", "2"}}, "slow down"};
    SendResult r = send();
    CHECK(r.status.code() == Code::kInvalidArgument);
    CHECK(r.retry_after == milliseconds(0));
  }
  SECTION("429 with retry_on_http_429 is retried after Retry-After") {
    retry_429 = true;
    reply = {429, {{"Retry-After", "2"}}, "slow down"};
    SendResult r = send();
    CHECK(r.status.code() == Code::kUnavailable);
    CHECK(r.retry_after == milliseconds(2000));
  }
}

TEST_CASE("http client reports transport errors as retryable", "[remotewrite]") {
  FakeClock clock;
  std::string body = Body();
  SECTION("connection refused") {
    int port;
    {
      FakeReceiver gone;  // a port that was just free; nothing listens once it is gone
      port = gone.port();
    }
    auto client =
        HttpClient::Create(Config("http://127.0.0.1:" + std::to_string(port) + "/w"), clock);
    REQUIRE(client.ok());
    SendResult r = (*client)->Send(body, 0);
    CHECK(r.status.code() == Code::kUnavailable);
    CHECK(r.http_status == 0);
    CHECK(r.status.message().find("transport") != std::string::npos);
  }
  SECTION("connection closed without a response") {
    testing::Dropper dropper;
    auto client = HttpClient::Create(
        Config("http://127.0.0.1:" + std::to_string(dropper.port()) + "/w"), clock);
    REQUIRE(client.ok());
    SendResult r = (*client)->Send(body, 0);
    CHECK(r.status.code() == Code::kUnavailable);
    CHECK(r.http_status == 0);
    CHECK(dropper.dropped() >= 1);
  }
  SECTION("timeout") {
    FakeReceiver rx;
    rx.Hold();
    auto cfg = Config(rx.url());
    cfg.remote_timeout = milliseconds(200);
    auto client = HttpClient::Create(cfg, clock);
    REQUIRE(client.ok());
    auto t0 = std::chrono::steady_clock::now();
    SendResult r = (*client)->Send(body, 0);
    CHECK(r.status.code() == Code::kUnavailable);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  }
}

TEST_CASE("Retry-After accepts seconds and HTTP dates", "[remotewrite]") {
  auto now = std::chrono::system_clock::from_time_t(1700000000);  // Tue, 14 Nov 2023 22:13:20 GMT
  CHECK(ParseRetryAfter("120", now) == milliseconds(120000));
  CHECK(ParseRetryAfter(" 5 ", now) == milliseconds(5000));
  CHECK(ParseRetryAfter("0", now) == milliseconds(0));
  CHECK(ParseRetryAfter("-3", now) == milliseconds(0));
  CHECK(ParseRetryAfter("", now) == milliseconds(0));
  CHECK(ParseRetryAfter("soon", now) == milliseconds(0));
  CHECK(ParseRetryAfter("Tue, 14 Nov 2023 22:13:50 GMT", now) == milliseconds(30000));
  CHECK(ParseRetryAfter("Tue, 14 Nov 2023 22:13:00 GMT", now) == milliseconds(0));  // past
}

TEST_CASE("Retry-After values that would overflow are clamped to a year", "[remotewrite]") {
  // Both were undefined behaviour before (fuzz/crashers/remotewrite-retry-after-*).
  auto now = std::chrono::system_clock::from_time_t(1700000000);
  const milliseconds year(365LL * 24 * 3600 * 1000);
  CHECK(ParseRetryAfter("9300000000000000", now) == year);
  CHECK(ParseRetryAfter("99999999999999999999999", now) == year);
  CHECK(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now) <= year);
  CHECK(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now) > milliseconds(0));
}

TEST_CASE("RedactUrl hides the password only", "[remotewrite]") {
  CHECK(RedactUrl("http://u:secret@host:9090/api/v1/write") ==
        "http://u:xxxxx@host:9090/api/v1/write");
  CHECK(RedactUrl("https://host:9090/a@b") == "https://host:9090/a@b");
  CHECK(RedactUrl("http://user@host/w") == "http://user@host/w");
  CHECK(RedactUrl("http://127.0.0.1:1/w") == "http://127.0.0.1:1/w");
  CHECK(RedactUrl("not a url") == "not a url");
}

TEST_CASE("ClassifyResponse maps statuses to codes", "[remotewrite]") {
  auto now = std::chrono::system_clock::from_time_t(1700000000);
  CHECK(ClassifyResponse(200, "", "", false, now).status.ok());
  CHECK(ClassifyResponse(299, "", "", false, now).status.ok());
  CHECK(ClassifyResponse(500, "", "", false, now).status.code() == Code::kUnavailable);
  CHECK(ClassifyResponse(599, "", "", false, now).status.code() == Code::kUnavailable);
  CHECK(ClassifyResponse(302, "", "", false, now).status.code() == Code::kInvalidArgument);
  CHECK(ClassifyResponse(400, "", "", true, now).status.code() == Code::kInvalidArgument);
  CHECK(ClassifyResponse(429, "", "", false, now).status.code() == Code::kInvalidArgument);
  CHECK(ClassifyResponse(429, "", "", true, now).status.code() == Code::kUnavailable);
  CHECK(ClassifyResponse(500, "", "3", false, now).retry_after == milliseconds(3000));
}

}  // namespace

namespace {

// A file under a fresh directory of the system temp dir, removed with the object.
struct TempFile {
  std::filesystem::path dir;
  std::filesystem::path path;
  TempFile() {
    dir = std::filesystem::temp_directory_path() /
          ("petrel_rw_auth_" + std::to_string(::getpid()) + "_" +
           std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir);
    path = dir / "secret";
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void Write(const std::string& content) const {
    std::ofstream out(path, std::ios::trunc);
    out << content;
  }
};

}  // namespace

TEST_CASE("http client sends basic and bearer credentials as Authorization", "[remotewrite]") {
  FakeReceiver rx;
  FakeClock clock;
  std::string body = Body();

  auto basic = Config(rx.url());
  basic.http_client.basic_auth = config::BasicAuth{.username = "user", .password = "pass"};
  auto c1 = HttpClient::Create(basic, clock);
  REQUIRE(c1.ok());
  CHECK((*c1)->Send(body, 0).status.ok());
  CHECK((*c1)->Send(body, 2).status.ok());  // a retry keeps it, next to Retry-Attempt

  auto bearer = Config(rx.url());
  bearer.headers = {{"X-Scope-OrgID", "tenant-1"}};
  bearer.http_client.authorization = config::Authorization{.credentials = "tok3n"};
  auto c2 = HttpClient::Create(bearer, clock);
  REQUIRE(c2.ok());
  CHECK((*c2)->Send(body, 0).status.ok());

  auto reqs = rx.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].Header("Authorization") == "Basic dXNlcjpwYXNz");
  CHECK(reqs[1].Header("Authorization") == "Basic dXNlcjpwYXNz");
  CHECK(reqs[1].Header("Retry-Attempt") == "2");
  CHECK(reqs[2].Header("Authorization") == "Bearer tok3n");
  CHECK(reqs[2].Header("X-Scope-OrgID") == "tenant-1");
  CHECK(reqs[2].decoded);
}

TEST_CASE("http client re-reads credentials files on every request", "[remotewrite]") {
  FakeReceiver rx;
  FakeClock clock;
  TempFile secret;
  secret.Write("first\n");
  auto cfg = Config(rx.url());
  cfg.http_client.authorization =
      config::Authorization{.type = "Token", .credentials_file = secret.path.string()};
  auto client = HttpClient::Create(cfg, clock);
  REQUIRE(client.ok());
  std::string body = Body();
  CHECK((*client)->Send(body, 0).status.ok());
  secret.Write("second");
  CHECK((*client)->Send(body, 0).status.ok());

  // An unreadable file: nothing is sent, and the attempt is retryable.
  std::filesystem::remove(secret.path);
  SendResult r = (*client)->Send(body, 0);
  CHECK(r.status.code() == Code::kUnavailable);
  CHECK(r.status.message().find(secret.path.string()) != std::string::npos);
  secret.Write("third");
  CHECK((*client)->Send(body, 1).status.ok());

  auto reqs = rx.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].Header("Authorization") == "Token first");
  CHECK(reqs[1].Header("Authorization") == "Token second");
  CHECK(reqs[2].Header("Authorization") == "Token third");
}

}  // namespace petrel::remotewrite

namespace petrel::remotewrite {
namespace {

TEST_CASE("RW 2.0 client: its headers, the written counts of the answer, and 415",
          "[remotewrite]") {
  FakeReceiver rx;
  FakeClock clock;
  auto cfg = Config(rx.url());
  cfg.protobuf_message = config::RemoteWriteProto::kV2;
  auto client = HttpClient::Create(cfg, clock);
  REQUIRE(client.ok());
  rx.SetResponder([](size_t n, const testing::ReceivedRequest&) {
    Reply r;
    r.status = 204;
    if (n == 0) {  // names in any case; each header alone counts as reported
      r.headers["x-prometheus-remote-write-samples-written"] = "7";
      r.headers["X-Prometheus-Remote-Write-HISTOGRAMS-Written"] = " 2";
    } else if (n == 1) {  // unparsable or negative values are ignored
      r.headers["X-Prometheus-Remote-Write-Samples-Written"] = "7x";
      r.headers["X-Prometheus-Remote-Write-Exemplars-Written"] = "-1";
      r.headers["X-Prometheus-Remote-Write-Samples-Written-Extra"] = "9";
    } else {
      r.status = 415;
      r.body = "unsupported content type";
    }
    return r;
  });
  const std::string body = Body();  // the receiver only needs valid snappy here
  SendResult r = (*client)->Send(body, 0);
  CHECK(r.status.ok());
  CHECK(r.written.reported);
  CHECK(r.written.samples == 7);
  CHECK(r.written.histograms == 2);
  CHECK(r.written.exemplars == 0);

  r = (*client)->Send(body, 0);
  CHECK(r.status.ok());
  CHECK_FALSE(r.written.reported);
  CHECK(r.written.samples == 0);

  r = (*client)->Send(body, 0);
  CHECK(r.status.code() == Code::kInvalidArgument);  // not retried
  CHECK(r.http_status == 415);
  CHECK_THAT(std::string(r.status.message()),
             Catch::Contains("does not accept RW 2.0") &&
                 Catch::Contains("protobuf_message: prometheus.WriteRequest"));

  auto reqs = rx.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].Header("Content-Type") ==
        "application/x-protobuf;proto=io.prometheus.write.v2.Request");
  CHECK(reqs[0].Header("X-Prometheus-Remote-Write-Version") == "2.0.0");
  CHECK(reqs[0].Header("Content-Encoding") == "snappy");
}

}  // namespace
}  // namespace petrel::remotewrite
