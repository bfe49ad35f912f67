// kubernetes_sd_configs entries and kubeconfig files.
#include "config/kubernetes_sd.h"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "config/node.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

constexpr std::pair<KubernetesRole, const char*> kRoles[] = {
    {KubernetesRole::kNode, "node"},
    {KubernetesRole::kPod, "pod"},
    {KubernetesRole::kService, "service"},
    {KubernetesRole::kEndpoints, "endpoints"},
    {KubernetesRole::kEndpointSlice, "endpointslice"},
    {KubernetesRole::kIngress, "ingress"},
};

// Prometheus's allowedSelectors, in its order.
std::vector<KubernetesRole> AllowedSelectors(KubernetesRole role) {
  using R = KubernetesRole;
  switch (role) {
    case R::kPod:
      return {R::kPod, R::kNode};
    case R::kService:
      return {R::kService};
    case R::kEndpointSlice:
      return {R::kPod, R::kService, R::kEndpointSlice};
    case R::kEndpoints:
      return {R::kPod, R::kService, R::kEndpoints};
    case R::kNode:
      return {R::kNode};
    case R::kIngress:
      return {R::kIngress};
  }
  return {};
}

Status RoleInto(const Node& v, KubernetesRole& out) {
  auto name = v.String();
  if (!name.ok()) return name.status();
  auto role = ParseKubernetesRole(*name);
  if (!role) return v.Error(fmt::format("unknown Kubernetes SD role \"{}\"", *name));
  out = *role;
  return Status::Ok();
}

std::function<Status(const Node&)> ExpandedInto(std::string& out) {
  return [&out](const Node& v) {
    auto text = v.ExpandedString();
    if (!text.ok()) return text.status();
    out = std::move(*text);
    return Status::Ok();
  };
}

Status ParseSelector(const Node& map, KubernetesSelector& sel) {
  bool has_role = false;
  Status s = ForEachKey(map, {
                                 {"role",
                                  [&](const Node& v) {
                                    has_role = true;
                                    return RoleInto(v, sel.role);
                                  }},
                                 // ${VAR} expands from the environment (unset: error),
                                 // so a DaemonSet config can say spec.nodeName=${NODE_NAME}.
                                 {"label", ExpandedInto(sel.label)},
                                 {"field", ExpandedInto(sel.field)},
                             });
  if (!s.ok()) return s;
  if (!has_role) return map.Error("role missing in selector");
  if (Status c = CheckFieldSelector(sel.field); !c.ok()) return map.Error(c.message());
  if (Status c = CheckLabelSelector(sel.label); !c.ok()) return map.Error(c.message());
  return Status::Ok();
}

// attach_metadata: node is implemented; the others only as false.
const std::string_view kAttachUnsupported[] = {"namespace", "deployment", "job", "cronjob"};

Status ParseOne(const Node& map, KubernetesSdConfig& sd) {
  if (map.IsNull()) return map.Error("empty or null section in kubernetes_sd_configs");
  bool has_role = false;
  HttpClientParser http(sd.http_client);
  KeyHandlers handlers = {
      {"role",
       [&](const Node& v) {
         has_role = true;
         return RoleInto(v, sd.role);
       }},
      {"api_server",
       [&](const Node& v) {
         auto url = v.String();
         if (!url.ok()) return url.status();
         if (std::string why = UrlProblem(*url); !why.empty()) return v.Error(why);
         sd.api_server = *url;
         return Status::Ok();
       }},
      {"kubeconfig_file",
       [&](const Node& v) {
         auto path = v.String();
         if (!path.ok()) return path.status();
         sd.kubeconfig_file = v.ResolvePath(*path);
         return Status::Ok();
       }},
      {"namespaces",
       [&](const Node& v) {
         return ForEachKey(v, {
                                  {"own_namespace", BoolInto(sd.own_namespace)},
                                  {"names",
                                   [&](const Node& n) {
                                     auto names = n.StringList();
                                     if (!names.ok()) return names.status();
                                     sd.namespaces = std::move(*names);
                                     return Status::Ok();
                                   }},
                              });
       }},
      {"selectors", ForEachItem([&](const Node& item) {
         return ParseSelector(item, sd.selectors.emplace_back());
       })},
      {"attach_metadata",
       [&](const Node& v) {
         KeyHandlers attach = {{"node", BoolInto(sd.attach_node_metadata)}};
         for (std::string_view key : kAttachUnsupported) {
           // Only Prometheus's default (false) until Petrel implements them.
           attach[key] = [key](const Node& value) {
             auto on = value.AsBool();
             if (!on.ok()) return on.status();
             if (!*on) return Status::Ok();
             return value.Error(fmt::format("\"{}\" is not supported by petrel yet", key));
           };
         }
         return ForEachKey(v, attach);
       }},
  };
  http.AddHandlers(handlers);
  static const std::vector<std::string_view> unsupported = WithHttpClientKeys({});
  Status s = ForEachKey(map, handlers, KeyRules{.unsupported = unsupported});
  if (!s.ok()) return s;
  if (s = http.Finish(map); !s.ok()) return s;

  if (!has_role) {
    return map.Error(
        "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)");
  }
  const bool custom_http = !(sd.http_client == HttpClientConfig{});
  if (!sd.api_server.empty() && !sd.kubeconfig_file.empty()) {
    return map.Error("cannot use 'kubeconfig_file' and 'api_server' simultaneously");
  }
  if (!sd.kubeconfig_file.empty() && custom_http) {
    return map.Error("cannot use custom HTTP client configuration together with 'kubeconfig_file'");
  }
  if (sd.api_server.empty() && sd.kubeconfig_file.empty() && custom_http) {
    return map.Error(
        "to use custom HTTP client configuration please provide the 'api_server' URL explicitly");
  }
  if (!sd.api_server.empty() && sd.own_namespace) {
    return map.Error("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously");
  }
  if (!sd.kubeconfig_file.empty() && sd.own_namespace) {
    return map.Error("cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously");
  }
  std::set<KubernetesRole> seen;
  for (const auto& sel : sd.selectors) {
    if (!seen.insert(sel.role).second) {
      return map.Error(fmt::format("duplicated selector role: {}", KubernetesRoleName(sel.role)));
    }
    auto allowed = AllowedSelectors(sd.role);
    if (std::find(allowed.begin(), allowed.end(), sel.role) == allowed.end()) {
      std::string names;
      for (auto r : allowed)
        names += (names.empty() ? "" : ", ") + std::string(KubernetesRoleName(r));
      return map.Error(
          fmt::format("{} role supports only {} selectors", KubernetesRoleName(sd.role), names));
    }
  }
  return Status::Ok();
}

// Kubernetes qualified names: [prefix/]name, name <= 63 of [A-Za-z0-9-_.] starting and ending
// alphanumeric; the prefix a DNS subdomain.
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool IsLabelValue(std::string_view v) {
  if (v.empty()) return true;
  if (v.size() > 63 || !IsAlnum(v.front()) || !IsAlnum(v.back())) return false;
  for (char c : v) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsQualifiedName(std::string_view k) {
  size_t slash = k.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = k.substr(0, slash);
    if (prefix.empty() || prefix.size() > 253) return false;
    for (char c : prefix) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
        return false;
      }
    }
    k = k.substr(slash + 1);
  }
  return !k.empty() && IsLabelValue(k);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitTerms(std::string_view sel) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= sel.size(); ++i) {
    if (i < sel.size() && sel[i] == '(') ++depth;
    if (i < sel.size() && sel[i] == ')') --depth;
    if (i == sel.size() || (sel[i] == ',' && depth == 0)) {
      out.push_back(Trim(sel.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

Status CheckLabelTerm(std::string_view t) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("invalid label selector term \"{}\": {}", t, why));
  };
  if (t.empty()) return bad("empty term");
  if (t.front() == '!') {
    return IsQualifiedName(Trim(t.substr(1))) ? Status::Ok() : bad("invalid label key");
  }
  for (std::string_view op : {" notin ", " in "}) {
    size_t at = t.find(op);
    if (at == std::string_view::npos) continue;
    if (!IsQualifiedName(Trim(t.substr(0, at)))) return bad("invalid label key");
    std::string_view rest = Trim(t.substr(at + op.size()));
    if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')')
      return bad("expected (values)");
    rest = rest.substr(1, rest.size() - 2);
    size_t start = 0;
    for (size_t i = 0; i <= rest.size(); ++i) {
      if (i == rest.size() || rest[i] == ',') {
        if (!IsLabelValue(Trim(rest.substr(start, i - start)))) return bad("invalid label value");
        start = i + 1;
      }
    }
    return Status::Ok();
  }
  size_t op = t.find_first_of("!=");
  if (op == std::string_view::npos) {
    return IsQualifiedName(t) ? Status::Ok() : bad("invalid label key");
  }
  std::string_view key = Trim(t.substr(0, op));
  size_t len = t.compare(op, 2, "!=") == 0 || t.compare(op, 2, "==") == 0 ? 2 : 1;
  if (t[op] == '!' && len != 2) return bad("expected !=");
  if (!IsQualifiedName(key)) return bad("invalid label key");
  if (!IsLabelValue(Trim(t.substr(op + len)))) return bad("invalid label value");
  return Status::Ok();
}

std::string Base64Decode(std::string_view in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    size_t pos = chars.find(c);
    if (pos == std::string::npos) continue;  // '=' padding, whitespace
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

const char* KubernetesRoleName(KubernetesRole role) {
  for (const auto& [r, name] : kRoles) {
    if (r == role) return name;
  }
  return "?";
}

std::optional<KubernetesRole> ParseKubernetesRole(std::string_view name) {
  for (const auto& [r, n] : kRoles) {
    if (name == n) return r;
  }
  return std::nullopt;
}

Status CheckLabelSelector(std::string_view selector) {
  if (Trim(selector).empty()) return Status::Ok();
  for (std::string_view t : SplitTerms(selector)) {
    if (Status s = CheckLabelTerm(t); !s.ok()) return s;
  }
  return Status::Ok();
}

Status CheckFieldSelector(std::string_view selector) {
  if (Trim(selector).empty()) return Status::Ok();
  for (std::string_view t : SplitTerms(selector)) {
    size_t op = t.find_first_of("!=");
    if (op == std::string_view::npos || Trim(t.substr(0, op)).empty() ||
        (t[op] == '!' && t.compare(op, 2, "!=") != 0)) {
      return Status::InvalidArgument(
          fmt::format("invalid selector: '{}'; can't understand '{}'", selector, t));
    }
  }
  return Status::Ok();
}

Result<std::vector<KubernetesSdConfig>> ParseKubernetesSdConfigs(const Node& list) {
  std::vector<KubernetesSdConfig> out;
  auto items = list.Items();
  if (!items.ok()) return items.status();
  for (const Node& item : *items) {
    if (Status s = ParseOne(item, out.emplace_back()); !s.ok()) return s;
  }
  return out;
}

Result<Kubeconfig> LoadKubeconfig(const std::string& path) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument(fmt::format("kubeconfig {}: {}", path, why));
  };
  std::ifstream in(path);
  if (!in) return fail("cannot read file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = path.find('/') == std::string::npos ? "" : path.substr(0, path.rfind('/') + 1);
  auto resolve = [&](const std::string& p) { return p.empty() || p.front() == '/' ? p : dir + p; };
  try {
    YAML::Node root = YAML::Load(ss.str());
    auto current = root["current-context"] ? root["current-context"].as<std::string>() : "";
    if (current.empty()) return fail("no current-context");
    auto find = [&](const char* list, const std::string& name, const char* field) -> YAML::Node {
      for (const auto& e : root[list]) {
        if (e["name"] && e["name"].as<std::string>() == name) return e[field];
      }
      return YAML::Node();
    };
    YAML::Node ctx = find("contexts", current, "context");
    if (!ctx || ctx.IsNull()) return fail(fmt::format("context \"{}\" not found", current));
    std::string cluster_name = ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    std::string user_name = ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = find("clusters", cluster_name, "cluster");
    if (!cluster || cluster.IsNull())
      return fail(fmt::format("cluster \"{}\" not found", cluster_name));
    auto str = [](const YAML::Node& n, const char* k) {
      return n && n[k] ? n[k].as<std::string>() : std::string();
    };
    Kubeconfig kc;
    kc.server = str(cluster, "server");
    if (kc.server.empty()) return fail(fmt::format("cluster \"{}\" has no server", cluster_name));
    kc.ca_file = resolve(str(cluster, "certificate-authority"));
    kc.ca_data = Base64Decode(str(cluster, "certificate-authority-data"));
    kc.insecure_skip_verify =
        cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
    YAML::Node user = find("users", user_name, "user");
    if (user && !user.IsNull()) {
      kc.token = str(user, "token");
      kc.token_file = resolve(str(user, "tokenFile"));
      kc.cert_file = resolve(str(user, "client-certificate"));
      kc.cert_data = Base64Decode(str(user, "client-certificate-data"));
      kc.key_file = resolve(str(user, "client-key"));
      kc.key_data = Base64Decode(str(user, "client-key-data"));
      kc.username = str(user, "username");
      kc.password = str(user, "password");
      if (user["exec"] || user["auth-provider"]) {
        return fail(
            fmt::format("user \"{}\": exec and auth-provider credentials are not "
                        "supported by petrel",
                        user_name));
      }
    }
    return kc;
  } catch (const YAML::Exception& e) {
    return fail(e.what());
  }
}

}  // namespace petrel::config
