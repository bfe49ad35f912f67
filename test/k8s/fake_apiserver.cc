#include "test/k8s/fake_apiserver.h"

#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <regex>
#include <sstream>

namespace petrel::k8s_testing {

using nlohmann::json;

std::string FixturesDir() { return PETREL_K8S_FIXTURES_DIR; }

json ReadFixture(const std::string& name) {
  std::ifstream in(FixturesDir() + "/" + name);
  if (!in) {
    std::fprintf(stderr, "cannot read fixture %s\n", name.c_str());
    std::abort();
  }
  return json::parse(in);
}

namespace {

struct Kind {
  const char* resource;
  const char* kind;
  const char* api_version;
  const char* prefix;  // "/api/v1" or "/apis/<group>/<version>"
  bool namespaced;
  const char* list_fixture;
  std::vector<std::string> fields;  // fieldSelector keys the real server supports
};

const std::vector<Kind>& Kinds() {
  static const std::vector<Kind> kinds = {
      {"pods",
       "Pod",
       "v1",
       "/api/v1",
       true,
       "podlist.json",
       {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase", "status.podIP",
        "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName"}},
      {"nodes",
       "Node",
       "v1",
       "/api/v1",
       false,
       "nodelist.json",
       {"metadata.name", "spec.unschedulable"}},
      {"services",
       "Service",
       "v1",
       "/api/v1",
       true,
       "servicelist.json",
       {"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"}},
      {"endpoints",
       "Endpoints",
       "v1",
       "/api/v1",
       true,
       "endpointslist.json",
       {"metadata.name", "metadata.namespace"}},
      {"endpointslices",
       "EndpointSlice",
       "discovery.k8s.io/v1",
       "/apis/discovery.k8s.io/v1",
       true,
       "endpointslicelist.json",
       {"metadata.name", "metadata.namespace", "addressType"}},
      {"ingresses",
       "Ingress",
       "networking.k8s.io/v1",
       "/apis/networking.k8s.io/v1",
       true,
       "ingresslist.json",
       {"metadata.name", "metadata.namespace"}},
  };
  return kinds;
}

const Kind* FindKind(const std::string& resource) {
  for (const auto& k : Kinds()) {
    if (resource == k.resource) return &k;
  }
  return nullptr;
}

json StatusBody(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Splits on commas outside parentheses.
std::vector<std::string> Terms(const std::string& sel) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : sel) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!Trim(cur).empty()) out.push_back(Trim(cur));
  return out;
}

std::optional<std::string> LabelOf(const json& obj, const std::string& key) {
  auto m = obj.find("metadata");
  if (m == obj.end()) return std::nullopt;
  auto l = m->find("labels");
  if (l == m->end() || !l->is_object()) return std::nullopt;
  auto v = l->find(key);
  if (v == l->end()) return std::nullopt;
  return v->get<std::string>();
}

std::string FieldOf(const json& obj, const std::string& path) {
  const json* cur = &obj;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (!cur->is_object()) return "";
    auto it = cur->find(part);
    if (it == cur->end()) return "";
    cur = &*it;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean()) return cur->get<bool>() ? "true" : "false";
  return cur->is_null() ? "" : cur->dump();
}

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

std::string Unhex(const std::string& s) {
  std::string out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

bool MatchesLabelSelector(const json& object, const std::string& selector) {
  static const std::regex set_re(R"(^([^ !=]+)\s+(in|notin)\s+\((.*)\)$)");
  for (const std::string& term : Terms(selector)) {
    std::smatch m;
    if (std::regex_match(term, m, set_re)) {
      std::vector<std::string> values;
      std::stringstream ss(m[3].str());
      std::string v;
      while (std::getline(ss, v, ',')) values.push_back(Trim(v));
      auto got = LabelOf(object, m[1].str());
      bool in = got && std::find(values.begin(), values.end(), *got) != values.end();
      if ((m[2] == "in") != in) return false;
      continue;
    }
    if (!term.empty() && term[0] == '!') {
      if (LabelOf(object, Trim(term.substr(1)))) return false;
      continue;
    }
    size_t ne = term.find("!=");
    if (ne != std::string::npos) {
      auto got = LabelOf(object, Trim(term.substr(0, ne)));
      if (got && *got == Trim(term.substr(ne + 2))) return false;
      continue;
    }
    size_t eq = term.find('=');
    if (eq != std::string::npos) {
      size_t vstart = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
      auto got = LabelOf(object, Trim(term.substr(0, eq)));
      if (!got || *got != Trim(term.substr(vstart))) return false;
      continue;
    }
    if (!LabelOf(object, term)) return false;
  }
  return true;
}

bool MatchesFieldSelector(const json& object, const std::string& selector) {
  for (const std::string& term : Terms(selector)) {
    size_t ne = term.find("!=");
    if (ne != std::string::npos) {
      if (FieldOf(object, Trim(term.substr(0, ne))) == Trim(term.substr(ne + 2))) return false;
      continue;
    }
    size_t eq = term.find('=');
    if (eq == std::string::npos) return false;
    size_t vstart = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
    if (FieldOf(object, Trim(term.substr(0, eq))) != Trim(term.substr(vstart))) return false;
  }
  return true;
}

struct FakeApiServer::Watcher {
  std::string resource, ns, label, field;
  bool bookmarks = false;
  std::deque<std::string> pending;
  bool closed = false;

  bool Matches(const json& obj) const {
    if (!ns.empty() && FieldOf(obj, "metadata.namespace") != ns) return false;
    return MatchesLabelSelector(obj, label) && MatchesFieldSelector(obj, field);
  }
};

FakeApiServer::FakeApiServer(std::optional<TlsFiles> tls, int port) : tls_(std::move(tls)) {
  for (const auto& k : Kinds()) resources_[k.resource] = Resource{k.kind, k.api_version, {}};
  port_ = port;
  Start();
}

FakeApiServer::~FakeApiServer() { Stop(); }

std::string FakeApiServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

void FakeApiServer::Start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  if (tls_) {
    server_ = std::make_unique<httplib::SSLServer>(tls_->cert_file.c_str(), tls_->key_file.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  server_->new_task_queue = [] { return new httplib::ThreadPool(32); };
  Serve();
  if (port_ == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    server_->bind_to_port("127.0.0.1", port_);
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void FakeApiServer::Stop() {
  if (!server_) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& w : watchers_) w->closed = true;
  }
  cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void FakeApiServer::Serve() {
  server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> params;
    for (const auto& [k, v] : req.params) params[k] = v;
    int status = 200;
    std::string body;
    std::shared_ptr<Watcher> watch;
    Handle(req.path, params, req.get_header_value("Authorization"), status, body, watch);
    res.status = status;
    if (!watch) {
      res.set_content(body, "application/json");
      return;
    }
    res.set_chunked_content_provider(
        "application/json",
        [this, watch](size_t, httplib::DataSink& sink) {
          std::deque<std::string> out;
          bool closed = false;
          {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::milliseconds(50),
                         [&] { return !watch->pending.empty() || watch->closed; });
            out.swap(watch->pending);
            closed = watch->closed;
          }
          for (const auto& chunk : out) {
            if (!sink.write(chunk.data(), chunk.size())) return false;
          }
          if (closed) {
            sink.done();
            return true;
          }
          return sink.is_writable();
        },
        [this, watch](bool) {
          std::lock_guard lock(mu_);
          std::erase(watchers_, watch);
          cv_.notify_all();
        });
  });
}

void FakeApiServer::Handle(const std::string& path,
                           const std::map<std::string, std::string>& params,
                           const std::string& authorization, int& status, std::string& body,
                           std::shared_ptr<Watcher>& watch) {
  static const std::regex path_re(
      R"(^(/api/v1|/apis/[^/]+/[^/]+)(?:/namespaces/([^/]+))?/([^/]+)$)");
  std::smatch m;
  std::string prefix, ns, resource;
  if (std::regex_match(path, m, path_re)) {
    prefix = m[1];
    ns = m[2];
    resource = m[3];
  }
  auto param = [&](const char* k) {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  };
  bool is_watch = param("watch") == "true" || param("watch") == "1";

  std::lock_guard lock(mu_);
  requests_.push_back({resource, ns, path, params, authorization, is_watch});
  cv_.notify_all();
  auto fail = [&](int code, const std::string& reason, const std::string& msg) {
    status = code;
    body = StatusBody(code, reason, msg).dump();
  };
  if (!token_.empty() && authorization != "Bearer " + token_) {
    status = 401;
    body = ReadFixture("status-401-unauthorized.json").dump();
    return;
  }
  if (fail_next_ > 0) {
    --fail_next_;
    return fail(fail_status_, "InternalError", "injected failure");
  }
  const Kind* kind = FindKind(resource);
  if (kind == nullptr || prefix != kind->prefix || (!ns.empty() && !kind->namespaced)) {
    return fail(404, "NotFound", "the server could not find the requested resource");
  }
  if (forbidden_[resource]) {
    std::string group = prefix == "/api/v1" ? "" : prefix.substr(6, prefix.rfind('/') - 6);
    return fail(403, "Forbidden",
                resource + (group.empty() ? "" : "." + group) +
                    " is forbidden: User \"system:serviceaccount:monitoring:petrel\" cannot " +
                    (is_watch ? "watch" : "list") + " resource \"" + resource +
                    "\" in API group \"" + group + "\" at the cluster scope");
  }
  for (const char* sel : {"fieldSelector"}) {
    for (const std::string& term : Terms(param(sel))) {
      std::string key = Trim(term.substr(0, term.find_first_of("!=")));
      if (std::find(kind->fields.begin(), kind->fields.end(), key) == kind->fields.end()) {
        return fail(400, "BadRequest",
                    "\"" + key +
                        "\" is not a known field selector: only \"metadata.name\", "
                        "\"metadata.namespace\"");
      }
    }
  }
  Resource& res = resources_[resource];
  if (!is_watch) {
    body = List(res, ns, params, status);
    return;
  }
  std::string from = param("resourceVersion");
  uint64_t from_rv = from.empty() ? rv_ : std::strtoull(from.c_str(), nullptr, 10);
  auto w = std::make_shared<Watcher>();
  w->resource = resource;
  w->ns = ns;
  w->label = param("labelSelector");
  w->field = param("fieldSelector");
  w->bookmarks = param("allowWatchBookmarks") == "true";
  if (from_rv < oldest_rv_) {
    std::string msg = "too old resource version: " + from + " (" + std::to_string(oldest_rv_) + ")";
    if (!expired_as_event_) return fail(410, "Expired", msg);
    w->pending.push_back(
        json{{"type", "ERROR"}, {"object", StatusBody(410, "Expired", msg)}}.dump() + "\n");
    w->closed = true;
  }
  watchers_.push_back(w);
  watch = w;
}

std::string FakeApiServer::List(Resource& res, const std::string& ns,
                                const std::map<std::string, std::string>& params, int& status) {
  auto param = [&](const char* k) {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  };
  size_t offset = 0;
  std::string token = param("continue");
  if (!token.empty()) {
    std::string raw = Unhex(token);
    uint64_t epoch = 0;
    size_t off = 0;
    if (std::sscanf(raw.c_str(), "%lu:%zu", &epoch, &off) != 2 || epoch < continue_epoch_ ||
        expire_next_continue_) {
      expire_next_continue_ = false;
      status = 410;
      return ReadFixture("status-410-expired.json").dump();
    }
    offset = off;
  }
  size_t limit = param("limit").empty() ? 0 : std::stoul(param("limit"));
  json items = json::array();
  size_t index = 0;
  size_t remaining = 0;
  std::string next;
  for (const auto& [key, obj] : res.objects) {
    if (!ns.empty() && FieldOf(obj, "metadata.namespace") != ns) continue;
    if (!MatchesLabelSelector(obj, param("labelSelector")) ||
        !MatchesFieldSelector(obj, param("fieldSelector"))) {
      continue;
    }
    size_t i = index++;
    if (i < offset) continue;
    if (limit > 0 && items.size() == limit) {
      if (next.empty()) next = Hex(std::to_string(continue_epoch_) + ":" + std::to_string(i));
      ++remaining;
      continue;
    }
    json item = obj;
    item.erase("kind");
    item.erase("apiVersion");
    items.push_back(std::move(item));
  }
  json meta = {{"resourceVersion", std::to_string(rv_)}};
  if (!next.empty()) {
    meta["continue"] = next;
    meta["remainingItemCount"] = remaining;
  }
  status = 200;
  return json{{"kind", res.kind + "List"},
              {"apiVersion", res.api_version},
              {"metadata", meta},
              {"items", items}}
      .dump();
}

void FakeApiServer::LoadList(const std::string& resource, const json& list) {
  std::lock_guard lock(mu_);
  Resource& res = resources_.at(resource);
  res.objects.clear();
  for (json item : list.at("items")) {
    item["kind"] = res.kind;
    item["apiVersion"] = res.api_version;
    const json& meta = item.at("metadata");
    std::string key = meta.value("namespace", "") + "/" + meta.at("name").get<std::string>();
    res.objects[key] = std::move(item);
  }
  rv_ = std::max<uint64_t>(
      rv_, std::stoull(list.at("metadata").at("resourceVersion").get<std::string>()));
}

void FakeApiServer::LoadFixtures() {
  for (const auto& k : Kinds()) LoadList(k.resource, ReadFixture(k.list_fixture));
}

void FakeApiServer::Send(const std::shared_ptr<Watcher>& w, std::string line) {
  w->pending.push_back(std::move(line));
}

size_t FakeApiServer::Push(const std::string& resource, const std::string& type, json object) {
  std::lock_guard lock(mu_);
  Resource& res = resources_.at(resource);
  object["kind"] = res.kind;
  object["apiVersion"] = res.api_version;
  json& meta = object["metadata"];
  std::string rv = meta.value("resourceVersion", "");
  if (rv.empty()) {
    meta["resourceVersion"] = std::to_string(++rv_);
  } else {
    rv_ = std::max<uint64_t>(rv_, std::stoull(rv));
  }
  std::string key = meta.value("namespace", "") + "/" + meta.at("name").get<std::string>();
  if (type == "DELETED") {
    res.objects.erase(key);
  } else {
    res.objects[key] = object;
  }
  std::string line = json{{"type", type}, {"object", object}}.dump() + "\n";
  size_t sent = 0;
  for (auto& w : watchers_) {
    if (w->resource == resource && !w->closed && w->Matches(object)) {
      Send(w, line);
      ++sent;
    }
  }
  cv_.notify_all();
  return sent;
}

size_t FakeApiServer::PushBookmark(const std::string& resource) {
  std::lock_guard lock(mu_);
  const Resource& res = resources_.at(resource);
  json obj = {
      {"kind", res.kind},
      {"apiVersion", res.api_version},
      {"metadata", {{"resourceVersion", std::to_string(++rv_)}, {"creationTimestamp", nullptr}}}};
  std::string line = json{{"type", "BOOKMARK"}, {"object", obj}}.dump() + "\n";
  size_t sent = 0;
  for (auto& w : watchers_) {
    if (w->resource == resource && !w->closed && w->bookmarks) {
      Send(w, line);
      ++sent;
    }
  }
  cv_.notify_all();
  return sent;
}

size_t FakeApiServer::PushExpired(const std::string& resource) {
  std::lock_guard lock(mu_);
  size_t sent = 0;
  for (auto& w : watchers_) {
    if (w->resource != resource || w->closed) continue;
    json status = StatusBody(410, "Expired", "too old resource version");
    Send(w, json{{"type", "ERROR"}, {"object", status}}.dump() + "\n");
    w->closed = true;
    ++sent;
  }
  cv_.notify_all();
  return sent;
}

size_t FakeApiServer::PushRaw(const std::string& resource, const std::string& bytes) {
  std::lock_guard lock(mu_);
  size_t sent = 0;
  for (auto& w : watchers_) {
    if (w->resource == resource && !w->closed) {
      Send(w, bytes);
      ++sent;
    }
  }
  cv_.notify_all();
  return sent;
}

void FakeApiServer::CloseWatches() {
  std::lock_guard lock(mu_);
  for (auto& w : watchers_) w->closed = true;
  cv_.notify_all();
}

void FakeApiServer::SetOldestResourceVersion(uint64_t rv, bool as_event) {
  std::lock_guard lock(mu_);
  oldest_rv_ = rv;
  expired_as_event_ = as_event;
}

void FakeApiServer::ExpireContinueTokens() {
  std::lock_guard lock(mu_);
  ++continue_epoch_;
}

void FakeApiServer::ExpireNextContinue() {
  std::lock_guard lock(mu_);
  expire_next_continue_ = true;
}

void FakeApiServer::RequireToken(const std::string& token) {
  std::lock_guard lock(mu_);
  token_ = token;
}

void FakeApiServer::Forbid(const std::string& resource, bool forbidden) {
  std::lock_guard lock(mu_);
  forbidden_[resource] = forbidden;
}

void FakeApiServer::FailNext(int n, int status) {
  std::lock_guard lock(mu_);
  fail_next_ = n;
  fail_status_ = status;
}

std::vector<RecordedRequest> FakeApiServer::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t FakeApiServer::CountRequests(const std::string& resource, bool watch) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& r : requests_) n += (r.resource == resource && r.watch == watch) ? 1 : 0;
  return n;
}

size_t FakeApiServer::OpenWatches(const std::string& resource) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& w : watchers_) n += (w->resource == resource && !w->closed) ? 1 : 0;
  return n;
}

bool FakeApiServer::WaitFor(const std::function<bool()>& pred,
                            std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace petrel::k8s_testing
