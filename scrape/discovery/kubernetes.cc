#include "scrape/discovery/kubernetes.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "scrape/discovery/kubernetes_connection.h"
#include "scrape/discovery/kubernetes_objects.h"
#include "scrape/discovery/kubernetes_store.h"
#include "scrape/discovery/kubernetes_targets.h"

namespace petrel::scrape::discovery {
namespace {

using config::KubernetesRole;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
namespace k8s = ::petrel::scrape::discovery::k8s;

using k8s::AnyStore;
using k8s::BackoffDelay;
using k8s::Connection;
using k8s::NamespaceOfKey;
using k8s::ReadFile;
using k8s::Store;
using k8s::TrimSpace;

enum class Kind { kNode, kPod, kService, kEndpoints, kEndpointSlice, kIngress };

struct KindInfo {
  const char* role;      // events_total role label and selector role
  const char* prefix;    // API path prefix
  const char* resource;  // plural
  bool namespaced;
};

const KindInfo& Info(Kind k) {
  static const KindInfo infos[] = {
      {"node", "/api/v1", "nodes", false},
      {"pod", "/api/v1", "pods", true},
      {"service", "/api/v1", "services", true},
      {"endpoints", "/api/v1", "endpoints", true},
      {"endpointslice", "/apis/discovery.k8s.io/v1", "endpointslices", true},
      {"ingress", "/apis/networking.k8s.io/v1", "ingresses", true},
  };
  return infos[static_cast<int>(k)];
}

KubernetesRole RoleOf(Kind k) {
  switch (k) {
    case Kind::kNode:
      return KubernetesRole::kNode;
    case Kind::kPod:
      return KubernetesRole::kPod;
    case Kind::kService:
      return KubernetesRole::kService;
    case Kind::kEndpoints:
      return KubernetesRole::kEndpoints;
    case Kind::kEndpointSlice:
      return KubernetesRole::kEndpointSlice;
    case Kind::kIngress:
      return KubernetesRole::kIngress;
  }
  return KubernetesRole::kPod;
}

Kind KindOf(KubernetesRole r) {
  switch (r) {
    case KubernetesRole::kNode:
      return Kind::kNode;
    case KubernetesRole::kPod:
      return Kind::kPod;
    case KubernetesRole::kService:
      return Kind::kService;
    case KubernetesRole::kEndpoints:
      return Kind::kEndpoints;
    case KubernetesRole::kEndpointSlice:
      return Kind::kEndpointSlice;
    case KubernetesRole::kIngress:
      return Kind::kIngress;
  }
  return Kind::kPod;
}

// ---- streams -------------------------------------------------------------------------------

// One list+watch of one kind in one namespace ("" = cluster-wide).
struct Stream {
  Kind kind;
  std::string ns;
  std::string label_selector, field_selector;
  AnyStore* store = nullptr;
  void* owner = nullptr;       // the KubernetesDiscoverer::Impl, for libcurl callbacks
  bool counts_events = false;  // informer events counted in events_total

  enum class Phase { kIdle, kList, kWatch } phase = Phase::kIdle;
  bool need_list = true;  // next start lists (initially and after 410)
  bool synced = false;    // a list has completed
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string buf;          // list body, error body, or the unconsumed tail of a watch
  std::string rv;           // last resourceVersion seen
  std::string cont;         // continue token of the list in progress
  bool gone = false;        // a 410 ERROR event arrived on this watch
  bool broken = false;      // the watch stream was malformed or failed
  bool progressed = false;  // the watch delivered at least one event
  bool counted = false;     // http_request_total counted for this request
  int attempts = 0;         // consecutive failures, for backoff
  Steady::time_point next_start{};
  Steady::time_point started{};

  std::string Path() const {
    const KindInfo& info = Info(kind);
    std::string p = info.prefix;
    if (!ns.empty()) p += "/namespaces/" + ns;
    return p + "/" + info.resource;
  }
  std::string What() const {
    return std::string(Info(kind).resource) +
           (ns.empty() ? " in all namespaces" : " in namespace " + ns);
  }
};

std::string Escape(CURL* easy, const std::string& s) {
  char* e = curl_easy_escape(easy, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

}  // namespace

// ---- the discoverer ------------------------------------------------------------------------

class KubernetesDiscoverer::Impl {
 public:
  Impl(config::KubernetesSdConfig cfg, Clock& clock, Registry& metrics, KubernetesOptions opts)
      : cfg_(std::move(cfg)),
        clock_(clock),
        metrics_(metrics),
        opts_(std::move(opts)),
        rng_(opts_.seed),
        role_(KindOf(cfg_.role)) {
    static constexpr const char* kRoles[] = {"endpointslice", "endpoints", "node",
                                             "pod",           "service",   "ingress"};
    static constexpr const char* kEvents[] = {"add", "delete", "update"};
    for (const char* role : kRoles) {
      for (const char* event : kEvents) {
        events_[std::string(role) + "/" + event] = metrics_.GetCounter(
            "prometheus_sd_kubernetes_events_total", "The number of Kubernetes events handled.",
            {"role", "event"}, {role, event});
      }
    }
    failures_ = metrics_.GetCounter("prometheus_sd_kubernetes_failures_total",
                                    "The number of failed WATCH/LIST requests.");
  }

  ~Impl() {
    for (auto& s : streams_) Release(*s);
  }

  void Run(std::stop_token stop, const UpdateFn& update);

 private:
  // Setup.
  Status Setup();
  void AddStreams(Kind kind, bool counts_events);
  // Transfers.
  void StartStream(Stream& s);
  void Release(Stream& s);
  void Finish(Stream& s, CURLcode code);
  void FinishList(Stream& s, long status);
  void Fail(Stream& s, const std::string& why);
  void CountRequest(Stream& s, long status);
  static size_t OnWrite(char* data, size_t size, size_t n, void* user);
  size_t Write(Stream& s, const char* data, size_t len);
  bool HandleLine(Stream& s, std::string_view line);
  // Cache changes and groups.
  void Changed(Kind kind, const std::string& key);
  void CountEvent(const Stream& s, const char* event);
  std::optional<TargetGroup> Build(const std::string& key);
  void Flush(const UpdateFn& update);
  k8s::Lookups MakeLookups() const;

  config::KubernetesSdConfig cfg_;
  Clock& clock_;
  Registry& metrics_;
  KubernetesOptions opts_;
  std::mt19937_64 rng_;
  Kind role_;
  std::map<std::string, Counter*> events_;
  Counter* failures_;

  // Everything below belongs to the Run thread.
  Connection conn_;
  CURLM* multi_ = nullptr;
  std::vector<std::unique_ptr<Stream>> streams_;
  Store<k8s::Node> nodes_{k8s::DecodeNode};
  Store<k8s::Pod> pods_{k8s::DecodePod};
  Store<k8s::Service> services_{k8s::DecodeService};
  Store<k8s::Endpoints> endpoints_{k8s::DecodeEndpoints};
  Store<k8s::EndpointSlice> slices_{k8s::DecodeEndpointSlice};
  Store<k8s::Ingress> ingresses_{k8s::DecodeIngress};
  std::set<std::string> dirty_;  // keys of role objects whose group must be re-sent
  bool initial_sent_ = false;
  std::unordered_map<std::string, uint64_t> sent_;  // source -> hash of the last group sent
};

namespace {

uint64_t GroupHash(const TargetGroup& tg) {
  uint64_t h = tg.labels.Hash();
  for (const auto& t : tg.targets) h = h * 1099511628211ULL ^ t.Hash();
  return h;
}

AnyStore* StoreFor(Kind k, AnyStore* node, AnyStore* pod, AnyStore* svc, AnyStore* ep,
                   AnyStore* slice, AnyStore* ing) {
  switch (k) {
    case Kind::kNode:
      return node;
    case Kind::kPod:
      return pod;
    case Kind::kService:
      return svc;
    case Kind::kEndpoints:
      return ep;
    case Kind::kEndpointSlice:
      return slice;
    case Kind::kIngress:
      return ing;
  }
  return nullptr;
}

}  // namespace

void KubernetesDiscoverer::Impl::AddStreams(Kind kind, bool counts_events) {
  std::vector<std::string> namespaces = {""};
  if (Info(kind).namespaced && (!cfg_.namespaces.empty() || cfg_.own_namespace)) {
    namespaces = cfg_.namespaces;
    if (cfg_.own_namespace) {
      auto own = ReadFile(opts_.service_account_dir + "/namespace");
      if (own.ok() && !TrimSpace(*own).empty()) namespaces.push_back(TrimSpace(*own));
    }
    std::sort(namespaces.begin(), namespaces.end());
    namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
  }
  const config::KubernetesSelector* sel = cfg_.SelectorFor(RoleOf(kind));
  for (const auto& ns : namespaces) {
    auto s = std::make_unique<Stream>();
    s->kind = kind;
    s->ns = ns;
    if (sel != nullptr) {
      s->label_selector = sel->label;
      s->field_selector = sel->field;
    }
    s->store = StoreFor(kind, &nodes_, &pods_, &services_, &endpoints_, &slices_, &ingresses_);
    s->counts_events = counts_events;
    s->owner = this;
    streams_.push_back(std::move(s));
  }
}

Status KubernetesDiscoverer::Impl::Setup() {
  auto conn = k8s::ResolveConnection(cfg_, opts_.service_account_dir);
  if (!conn.ok()) return conn.status();
  conn_ = std::move(*conn);
  AddStreams(role_, true);
  if (role_ == Kind::kEndpoints || role_ == Kind::kEndpointSlice) {
    AddStreams(Kind::kService, true);
    AddStreams(Kind::kPod, true);
  }
  bool node_meta = cfg_.attach_node_metadata && (role_ == Kind::kPod || role_ == Kind::kEndpoints ||
                                                 role_ == Kind::kEndpointSlice);
  if (node_meta) AddStreams(Kind::kNode, false);
  if (role_ == Kind::kPod && !node_meta) {
    pods_.KeepKeysOnly([](const k8s::Pod& p) { return std::optional(k8s::PodGroup(p, {})); });
  }
  if (role_ == Kind::kNode)
    nodes_.KeepKeysOnly([](const k8s::Node& n) { return k8s::NodeGroup(n); });
  if (role_ == Kind::kService) {
    services_.KeepKeysOnly(
        [](const k8s::Service& v) { return std::optional(k8s::ServiceGroup(v)); });
  }
  if (role_ == Kind::kIngress) {
    ingresses_.KeepKeysOnly(
        [](const k8s::Ingress& i) { return std::optional(k8s::IngressGroup(i)); });
  }
  return Status::Ok();
}

void KubernetesDiscoverer::Impl::Release(Stream& s) {
  if (s.easy != nullptr) {
    if (multi_ != nullptr) curl_multi_remove_handle(multi_, s.easy);
    curl_easy_cleanup(s.easy);
    s.easy = nullptr;
  }
  if (s.headers != nullptr) {
    curl_slist_free_all(s.headers);
    s.headers = nullptr;
  }
}

void KubernetesDiscoverer::Impl::StartStream(Stream& s) {
  Release(s);
  CURL* e = curl_easy_init();
  s.easy = e;
  s.buf.clear();
  s.gone = s.broken = s.progressed = s.counted = false;
  s.started = clock_.Monotonic();

  std::string query;
  auto add = [&](const char* k, const std::string& v) {
    query += query.empty() ? "?" : "&";
    query += k;
    query += "=";
    query += Escape(e, v);
  };
  if (!s.label_selector.empty()) add("labelSelector", s.label_selector);
  if (!s.field_selector.empty()) add("fieldSelector", s.field_selector);
  if (s.need_list) {
    s.phase = Stream::Phase::kList;
    if (opts_.list_page_size > 0) add("limit", std::to_string(opts_.list_page_size));
    if (!s.cont.empty()) add("continue", s.cont);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    // Lists may be large; a watch must not be compressed, or events wait in the compressor.
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
  } else {
    s.phase = Stream::Phase::kWatch;
    auto base = opts_.watch_timeout.count();
    auto timeout =
        base + std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(base - 1, 0))(rng_);
    add("allowWatchBookmarks", "true");
    add("resourceVersion", s.rv);
    add("timeoutSeconds", std::to_string(timeout));
    add("watch", "true");
    // The server ends the watch; the client's own limit only catches a silent dead peer.
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>((timeout + 30) * 1000));
  }
  std::string url = conn_.server + s.Path() + query;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, &s);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, opts_.user_agent.c_str());

  s.headers = curl_slist_append(nullptr, "Accept: application/json");
  std::string token = conn_.token;
  if (!conn_.token_file.empty()) {
    // Re-read on every request: projected service-account tokens rotate.
    auto t = ReadFile(conn_.token_file);
    if (t.ok()) token = TrimSpace(*t);
  }
  if (!token.empty()) {
    s.headers =
        curl_slist_append(s.headers, ("Authorization: " + conn_.auth_type + " " + token).c_str());
  } else if (!conn_.basic_user.empty()) {
    std::string password = conn_.basic_password;
    if (!conn_.basic_password_file.empty()) {
      auto p = ReadFile(conn_.basic_password_file);
      if (p.ok()) password = TrimSpace(*p);
    }
    curl_easy_setopt(e, CURLOPT_USERNAME, conn_.basic_user.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, password.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headers);
  if (!conn_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, conn_.ca_file.c_str());
  if (!conn_.ca_pem.empty()) {
    curl_blob blob{conn_.ca_pem.data(), conn_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!conn_.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, conn_.cert_file.c_str());
  if (!conn_.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, conn_.key_file.c_str());
  if (!conn_.cert_pem.empty()) {
    curl_blob blob{conn_.cert_pem.data(), conn_.cert_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
  }
  if (!conn_.key_pem.empty()) {
    curl_blob blob{conn_.key_pem.data(), conn_.key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
  }
  if (conn_.insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!conn_.proxy.empty()) curl_easy_setopt(e, CURLOPT_PROXY, conn_.proxy.c_str());
  curl_multi_add_handle(multi_, e);
}

size_t KubernetesDiscoverer::Impl::OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Stream*>(user);
  return static_cast<Impl*>(s->owner)->Write(*s, data, size * n);
}

void KubernetesDiscoverer::Impl::CountRequest(Stream& s, long status) {
  if (s.counted) return;
  s.counted = true;
  std::string code = status > 0 ? std::to_string(status) : "<error>";
  metrics_
      .GetCounter("prometheus_sd_kubernetes_http_request_total",
                  "Total number of HTTP requests to the Kubernetes API by status code.",
                  {"status_code"}, {code})
      ->Inc();
}

size_t KubernetesDiscoverer::Impl::Write(Stream& s, const char* data, size_t len) {
  long status = 0;
  curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status);
  CountRequest(s, status);
  if (s.phase == Stream::Phase::kList || status != 200) {
    if (status != 200 && s.buf.size() > (64 << 10)) return len;  // an error body: keep the start
    s.buf.append(data, len);
    return len;
  }
  if (s.gone || s.broken) return len;  // the rest of a stream that ended with ERROR
  s.buf.append(data, len);
  size_t start = 0;
  for (size_t nl; (nl = s.buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(s.buf.data() + start, nl - start);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    if (!HandleLine(s, line)) {
      s.buf.clear();
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR); Finish backs off
    }
    if (s.gone) break;
  }
  s.buf.erase(0, std::min(start, s.buf.size()));
  return len;
}

// A string member, or "" when absent or of another type. The API server's framing is not
// trusted: json::value() throws on a wrong type, and nothing may throw out of a curl callback.
static std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One watch event. False when the stream is malformed.
bool KubernetesDiscoverer::Impl::HandleLine(Stream& s, std::string_view line) {
  json ev = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!ev.is_object() || !ev.contains("type") || !ev["type"].is_string() ||
      !ev.contains("object") || !ev["object"].is_object()) {
    Fail(s, "malformed watch event: " + std::string(line.substr(0, 200)));
    s.broken = true;
    return false;
  }
  const std::string type = ev["type"].get<std::string>();
  const json& obj = ev["object"];
  if (type == "ERROR") {
    auto code = obj.find("code");
    if (code != obj.end() && code->is_number_integer() && code->get<int64_t>() == 410) {
      s.gone = true;  // Finish re-lists
      return true;
    }
    const std::string message = StringField(obj, "message");
    Fail(s, "watch error event: " + (message.empty() ? obj.dump() : message));
    s.broken = true;
    return true;
  }
  auto meta = k8s::DecodeMeta(obj);
  if (!meta.ok()) {
    Fail(s, meta.status().message());
    s.broken = true;
    return false;
  }
  if (type == "BOOKMARK") {
    s.rv = meta->resource_version;
    s.progressed = true;
    return true;
  }
  if (type == "ADDED" || type == "MODIFIED") {
    std::string key = meta->Key();
    bool existed = s.store->Has(key);
    auto put = s.store->Put(obj, /*staged=*/false);
    if (!put.ok()) {
      Fail(s, put.status().message());  // skip the object, keep the stream
    } else {
      CountEvent(s, existed ? "update" : "add");
      Changed(s.kind, *put);
    }
  } else if (type == "DELETED") {
    std::string key = meta->Key();
    if (s.store->Erase(key)) {
      CountEvent(s, "delete");
      Changed(s.kind, key);
    }
  } else {
    Fail(s, "unknown watch event type \"" + type + "\"");
    s.broken = true;
    return false;
  }
  s.rv = meta->resource_version;
  s.progressed = true;
  return true;
}

void KubernetesDiscoverer::Impl::CountEvent(const Stream& s, const char* event) {
  if (!s.counts_events) return;
  auto it = events_.find(std::string(Info(s.kind).role) + "/" + event);
  if (it != events_.end()) it->second->Inc();
}

void KubernetesDiscoverer::Impl::Fail(Stream& s, const std::string& why) {
  failures_->Inc();
  bool listing =
      s.phase == Stream::Phase::kList || (s.phase == Stream::Phase::kIdle && s.need_list);
  spdlog::warn(
      "msg=\"kubernetes discovery failed\" component=discovery role={} what=\"{} {}\" err=\"{}\"",
      Info(role_).role, listing ? "list" : "watch", s.What(), why);
}

// Text of a Status body, for messages.
static std::string StatusMessage(const std::string& body, long status) {
  json j = json::parse(body, nullptr, false);
  std::string msg = "HTTP " + std::to_string(status);
  if (j.is_object()) {
    if (j.contains("reason") && j["reason"].is_string())
      msg += " " + j["reason"].get<std::string>();
    if (j.contains("message") && j["message"].is_string()) {
      msg += ": " + j["message"].get<std::string>();
    }
  }
  return msg;
}

void KubernetesDiscoverer::Impl::FinishList(Stream& s, long status) {
  json body = json::parse(s.buf, nullptr, false);
  s.buf.clear();
  s.buf.shrink_to_fit();
  if (!body.is_object() || !body.contains("items") || !body["items"].is_array()) {
    Fail(s, "list response is not a list object");
    s.store->ClearStaged();
    s.cont.clear();
    s.next_start =
        clock_.Monotonic() + BackoffDelay(++s.attempts, opts_.min_backoff, opts_.max_backoff, rng_);
    return;
  }
  for (const auto& item : body["items"]) {
    auto put = s.store->Put(item, /*staged=*/true);
    if (!put.ok()) Fail(s, put.status().message());
  }
  const json& meta = body.contains("metadata") ? body["metadata"] : json::object();
  std::string cont = meta.is_object() ? StringField(meta, "continue") : "";
  std::string rv = meta.is_object() ? StringField(meta, "resourceVersion") : "";
  body = json();
  if (!cont.empty()) {
    s.cont = cont;  // next page right away
    s.next_start = clock_.Monotonic();
    return;
  }
  (void)status;
  s.cont.clear();
  std::vector<std::string> removed;
  std::vector<std::pair<std::string, bool>> kept;
  s.store->CommitStaged(s.ns, removed, kept);
  for (const auto& key : removed) {
    CountEvent(s, "delete");
    Changed(s.kind, key);
  }
  for (const auto& [key, existed] : kept) {
    CountEvent(s, existed ? "update" : "add");
    Changed(s.kind, key);
  }
  s.rv = rv;
  s.synced = true;
  s.need_list = false;
  s.attempts = 0;
  s.next_start = clock_.Monotonic();
}

void KubernetesDiscoverer::Impl::Finish(Stream& s, CURLcode code) {
  long status = 0;
  curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status);
  CountRequest(s, code == CURLE_OK ? status : 0);
  bool listing = s.phase == Stream::Phase::kList;
  std::string body = std::move(s.buf);
  s.buf.clear();
  Release(s);
  s.phase = Stream::Phase::kIdle;
  Steady::time_point now = clock_.Monotonic();

  if (code == CURLE_OK && status == 200 && listing) {
    s.buf = std::move(body);
    return FinishList(s, status);
  }
  if (status == 410 || (code == CURLE_OK && s.gone)) {
    // The history is gone: list again. Back off only if this keeps happening right away.
    s.need_list = true;
    s.cont.clear();
    s.store->ClearStaged();
    if (!s.progressed) ++s.attempts;
    s.next_start =
        s.progressed || s.attempts <= 1
            ? now
            : now + BackoffDelay(s.attempts - 1, opts_.min_backoff, opts_.max_backoff, rng_);
    return;
  }
  if (code == CURLE_OK && status == 200 && !s.broken) {
    // A watch the server ended: resume from the last resourceVersion. One that delivered
    // nothing and lasted under a second counts as a failure for the backoff, so a server
    // that closes at once is not hammered; a quiet watch that ran its course is not.
    if (s.progressed || now - s.started >= std::chrono::seconds(1)) {
      s.attempts = 0;
      s.next_start = now;
    } else {
      s.next_start = now + BackoffDelay(++s.attempts, opts_.min_backoff, opts_.max_backoff, rng_);
    }
    return;
  }
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && s.broken)) {
    Fail(s, curl_easy_strerror(code));
  } else if (!s.broken) {
    Fail(s, StatusMessage(body, status));
  }
  if (listing) {
    s.cont.clear();
    s.store->ClearStaged();
  }
  s.next_start = now + BackoffDelay(++s.attempts, opts_.min_backoff, opts_.max_backoff, rng_);
}

// ---- groups --------------------------------------------------------------------------------

k8s::Lookups KubernetesDiscoverer::Impl::MakeLookups() const {
  k8s::Lookups l;
  if (cfg_.attach_node_metadata) {
    l.node = [this](std::string_view name) { return nodes_.Get(std::string(name)); };
  }
  l.pod = [this](std::string_view ns, std::string_view name) {
    return pods_.Get(std::string(ns) + "/" + std::string(name));
  };
  l.service = [this](std::string_view ns, std::string_view name) {
    return services_.Get(std::string(ns) + "/" + std::string(name));
  };
  return l;
}

void KubernetesDiscoverer::Impl::Changed(Kind kind, const std::string& key) {
  if (kind == role_) {
    dirty_.insert(key);
    return;
  }
  std::string ns = NamespaceOfKey(key);
  std::string name = ns.empty() ? key : key.substr(ns.size() + 1);
  auto refers = [&](const std::optional<k8s::ObjectRef>& ref, const char* ref_kind,
                    const std::string& ref_ns) {
    return ref && ref->kind == ref_kind && ref->name == name && (ns.empty() || ref_ns == ns);
  };
  if (role_ == Kind::kPod && kind == Kind::kNode) {
    for (const auto& [k, pod] : pods_.objects()) {
      if (pod.node_name == name) dirty_.insert(k);
    }
  } else if (role_ == Kind::kEndpoints) {
    if (kind == Kind::kService) {
      if (endpoints_.Get(key)) dirty_.insert(key);
      return;
    }
    for (const auto& [k, eps] : endpoints_.objects()) {
      bool hit = false;
      for (const auto& subset : eps.subsets) {
        for (const auto* list : {&subset.addresses, &subset.not_ready_addresses}) {
          for (const auto& a : *list) {
            if (kind == Kind::kPod)
              hit = hit || refers(a.target, "Pod", a.target ? a.target->namespace_ : "");
            if (kind == Kind::kNode) {
              hit = hit || (a.node_name && *a.node_name == name) || refers(a.target, "Node", ns);
            }
          }
        }
      }
      if (hit) dirty_.insert(k);
    }
  } else if (role_ == Kind::kEndpointSlice) {
    for (const auto& [k, slice] : slices_.objects()) {
      bool hit = false;
      if (kind == Kind::kService) {
        hit = slice.meta.namespace_ == ns && slice.meta.Label("kubernetes.io/service-name") == name;
      }
      for (const auto& ep : slice.endpoints) {
        if (kind == Kind::kPod)
          hit = hit || refers(ep.target, "Pod", ep.target ? ep.target->namespace_ : "");
        if (kind == Kind::kNode) {
          hit = hit || (ep.node_name && *ep.node_name == name) || refers(ep.target, "Node", ns);
        }
      }
      if (hit) dirty_.insert(k);
    }
  }
}

std::optional<TargetGroup> KubernetesDiscoverer::Impl::Build(const std::string& key) {
  std::string ns = NamespaceOfKey(key);
  std::string name = ns.empty() ? key : key.substr(ns.size() + 1);
  k8s::Lookups lookups = MakeLookups();
  auto take = [&](auto& store) -> std::optional<std::optional<TargetGroup>> {
    if (!store.keys_only()) return std::nullopt;
    if (auto ready = store.TakeReady(key)) return ready;
    // Deleted (or unchanged, which cannot happen: only the object itself dirties it).
    return std::optional<TargetGroup>(std::nullopt);
  };
  std::optional<std::optional<TargetGroup>> ready;
  switch (role_) {
    case Kind::kNode:
      ready = take(nodes_);
      break;
    case Kind::kPod:
      ready = take(pods_);
      break;
    case Kind::kService:
      ready = take(services_);
      break;
    case Kind::kIngress:
      ready = take(ingresses_);
      break;
    default:
      break;
  }
  if (ready && *ready) return ready->value();
  if (ready) {
    bool present = (role_ == Kind::kNode && nodes_.Has(key)) ||
                   (role_ == Kind::kPod && pods_.Has(key)) ||
                   (role_ == Kind::kService && services_.Has(key)) ||
                   (role_ == Kind::kIngress && ingresses_.Has(key));
    if (present) return std::nullopt;  // e.g. a node without an address: no update
  }
  switch (role_) {
    case Kind::kNode:
      if (const auto* o = nodes_.Get(key)) return k8s::NodeGroup(*o);
      return TargetGroup{k8s::NodeSource(name), {}, {}};
    case Kind::kPod:
      if (const auto* o = pods_.Get(key)) return k8s::PodGroup(*o, lookups);
      return TargetGroup{k8s::PodSource(ns, name), {}, {}};
    case Kind::kService:
      if (const auto* o = services_.Get(key)) return k8s::ServiceGroup(*o);
      return TargetGroup{k8s::ServiceSource(ns, name), {}, {}};
    case Kind::kEndpoints:
      if (const auto* o = endpoints_.Get(key)) return k8s::EndpointsGroup(*o, lookups);
      return TargetGroup{k8s::EndpointsSource(ns, name), {}, {}};
    case Kind::kEndpointSlice:
      if (const auto* o = slices_.Get(key)) return k8s::EndpointSliceGroup(*o, lookups);
      return TargetGroup{k8s::EndpointSliceSource(ns, name), {}, {}};
    case Kind::kIngress:
      if (const auto* o = ingresses_.Get(key)) return k8s::IngressGroup(*o);
      return TargetGroup{k8s::IngressSource(ns, name), {}, {}};
  }
  return std::nullopt;
}

void KubernetesDiscoverer::Impl::Flush(const UpdateFn& update) {
  if (!initial_sent_) {
    for (const auto& s : streams_) {
      if (!s->synced) return;
    }
  }
  std::vector<TargetGroup> out;
  for (const auto& key : dirty_) {
    auto tg = Build(key);
    if (!tg) continue;
    bool empty = tg->targets.empty() && tg->labels.empty();
    auto it = sent_.find(tg->source);
    if (empty) {
      // Only groups that were sent need a deletion (the initial set lists every object).
      if (it == sent_.end() && initial_sent_) continue;
      if (it != sent_.end()) sent_.erase(it);
    } else {
      uint64_t h = GroupHash(*tg);
      if (it != sent_.end() && it->second == h) continue;
      sent_[tg->source] = h;
    }
    out.push_back(std::move(*tg));
  }
  dirty_.clear();
  if (!initial_sent_ || !out.empty()) update(std::move(out));
  initial_sent_ = true;
}

void KubernetesDiscoverer::Impl::Run(std::stop_token stop, const UpdateFn& update) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  int setup_attempts = 0;
  for (;;) {
    Status st = Setup();
    if (st.ok()) break;
    failures_->Inc();
    spdlog::error(
        "msg=\"kubernetes discovery cannot connect\" component=discovery role={} err=\"{}\"",
        Info(role_).role, st.message());
    streams_.clear();
    auto wait = BackoffDelay(++setup_attempts, opts_.min_backoff, opts_.max_backoff, rng_);
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, stop, wait, [] { return false; }) || stop.stop_requested()) return;
  }

  multi_ = curl_multi_init();
  std::stop_callback wake(stop, [this] { curl_multi_wakeup(multi_); });
  while (!stop.stop_requested()) {
    Steady::time_point now = clock_.Monotonic();
    for (auto& s : streams_) {
      if (s->phase == Stream::Phase::kIdle && s->next_start <= now) StartStream(*s);
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Stream* s = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
      Finish(*s, msg->data.result);
    }
    Flush(update);
    // Wait for I/O, a stop, or the next scheduled start. The wait is capped so a fake clock
    // moved by a test is noticed.
    now = clock_.Monotonic();
    int timeout_ms = 1000;
    for (auto& s : streams_) {
      if (s->phase != Stream::Phase::kIdle) continue;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s->next_start - now).count();
      timeout_ms = std::min(timeout_ms, static_cast<int>(std::clamp<int64_t>(ms, 0, 100)));
    }
    if (timeout_ms > 0) curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
  }
  for (auto& s : streams_) Release(*s);
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
}

KubernetesDiscoverer::KubernetesDiscoverer(config::KubernetesSdConfig config, Clock& clock,
                                           Registry& metrics, KubernetesOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), clock, metrics, std::move(options))) {}

KubernetesDiscoverer::~KubernetesDiscoverer() = default;

void KubernetesDiscoverer::Run(std::stop_token stop, const UpdateFn& update) {
  impl_->Run(stop, update);
}

}  // namespace petrel::scrape::discovery
