// kubernetes_sd_configs parsing and validation (Prometheus's SDConfig rules), and kubeconfig.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "config/kubernetes_sd.h"
#include "config/node.h"

namespace petrel::config {
namespace {

const std::string kSource = "petrel.yml";

Result<std::vector<KubernetesSdConfig>> ParseYaml(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  Node node(&kSource, root, "scrape_configs[0].kubernetes_sd_configs", root.Mark());
  return ParseKubernetesSdConfigs(node);
}

std::string Error(const std::string& yaml) {
  auto r = ParseYaml(yaml);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("kubernetes_sd_configs: every key of a DaemonSet pod config", "[k8s][config]") {
  auto r = ParseYaml(R"(
- role: pod
  namespaces:
    own_namespace: true
    names: [shop, default]
  selectors:
    - role: pod
      field: spec.nodeName=edge-node-1
      label: app.kubernetes.io/name in (web, api),!canary
    - role: node
      label: node-role.kubernetes.io/edge
  attach_metadata:
    node: true
- role: endpointslice
  api_server: https://127.0.0.1:6443
  bearer_token_file: token
  tls_config:
    ca_file: ca.crt
)");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  const KubernetesSdConfig& pod = (*r)[0];
  CHECK(pod.role == KubernetesRole::kPod);
  CHECK(pod.own_namespace);
  CHECK(pod.namespaces == std::vector<std::string>{"shop", "default"});
  REQUIRE(pod.SelectorFor(KubernetesRole::kPod));
  CHECK(pod.SelectorFor(KubernetesRole::kPod)->field == "spec.nodeName=edge-node-1");
  CHECK(pod.SelectorFor(KubernetesRole::kNode)->label == "node-role.kubernetes.io/edge");
  CHECK(pod.attach_node_metadata);
  const KubernetesSdConfig& slices = (*r)[1];
  CHECK(slices.role == KubernetesRole::kEndpointSlice);
  CHECK(slices.api_server == "https://127.0.0.1:6443");
  REQUIRE(slices.http_client.authorization);
  CHECK(slices.http_client.authorization->credentials_file.ends_with("token"));
  CHECK(slices.http_client.tls_config.ca_file.ends_with("ca.crt"));
}

TEST_CASE("kubernetes_sd_configs: Prometheus's validation errors, with line and path",
          "[k8s][config]") {
  CHECK(Error("- api_server: http://x\n") ==
        "petrel.yml:1: scrape_configs[0].kubernetes_sd_configs[0]: role missing (one of: pod, "
        "service, endpoints, endpointslice, node, ingress)");
  CHECK(Error("- role: pods\n").find("unknown Kubernetes SD role \"pods\"") != std::string::npos);
  CHECK(Error("- role: pod\n  api_server: http://x\n  kubeconfig_file: k\n")
            .find("cannot use 'kubeconfig_file' and 'api_server' simultaneously") !=
        std::string::npos);
  CHECK(Error("- role: pod\n  kubeconfig_file: k\n  bearer_token: t\n")
            .find("cannot use custom HTTP client configuration together with 'kubeconfig_file'") !=
        std::string::npos);
  CHECK(Error("- role: pod\n  bearer_token: t\n")
            .find("please provide the 'api_server' URL explicitly") != std::string::npos);
  CHECK(Error("- role: pod\n  api_server: http://x\n  namespaces: {own_namespace: true}\n")
            .find("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously") !=
        std::string::npos);
  CHECK(Error("- role: service\n  selectors: [{role: pod, label: a=b}]\n")
            .find("service role supports only service selectors") != std::string::npos);
  CHECK(Error("- role: endpoints\n  selectors: [{role: node}]\n")
            .find("endpoints role supports only pod, service, endpoints selectors") !=
        std::string::npos);
  CHECK(Error("- role: pod\n  selectors: [{role: pod}, {role: pod}]\n")
            .find("duplicated selector role: pod") != std::string::npos);
  CHECK(Error("- role: pod\n  selectors: [{role: pod, field: spec.nodeName}]\n")
            .find("invalid selector") != std::string::npos);
  CHECK(Error("- role: pod\n  selectors: [{role: pod, label: 'a=b c'}]\n")
            .find("invalid label selector term") != std::string::npos);
  CHECK(Error("- role: pod\n  attach_metadata: {namespace: true}\n")
            .find("not supported by petrel yet") != std::string::npos);
  CHECK(Error("- role: pod\n  foo: 1\n").find("unknown key \"foo\"") != std::string::npos);
  CHECK(Error("- role: pod\n  api_server: ftp://x\n").find("api_server") != std::string::npos);
  // Prometheus's "off" values of unimplemented keys are accepted.
  CHECK(ParseYaml("- role: pod\n  attach_metadata: {namespace: false, node: false}\n").ok());
}

TEST_CASE("selector syntax checks", "[k8s][config]") {
  CHECK(CheckLabelSelector("").ok());
  CHECK(CheckLabelSelector("a=b,c!=d,e==f,g in (x, y),h notin (z),i,!j").ok());
  CHECK(CheckLabelSelector("example.com/tier=front-end").ok());
  CHECK_FALSE(CheckLabelSelector("a=b=c").ok());
  CHECK_FALSE(CheckLabelSelector("a in x").ok());
  CHECK_FALSE(CheckLabelSelector("-a=b").ok());
  CHECK(CheckFieldSelector("spec.nodeName=n1,metadata.name!=x").ok());
  CHECK_FALSE(CheckFieldSelector("spec.nodeName").ok());
  CHECK_FALSE(CheckFieldSelector("=x").ok());
}

TEST_CASE("kubeconfig: the current context's cluster and user", "[k8s][config]") {
  char tmpl[] = "/tmp/petrel-kubeconfig-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "config") << R"(
apiVersion: v1
kind: Config
current-context: edge
clusters:
- name: other
  cluster: {server: https://10.0.0.1}
- name: edge-cluster
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTg==
contexts:
- name: edge
  context: {cluster: edge-cluster, user: agent}
users:
- name: agent
  user:
    tokenFile: token
    client-certificate: certs/client.crt
)";
  auto kc = LoadKubeconfig((dir / "config").string());
  REQUIRE(kc.ok());
  CHECK(kc->server == "https://127.0.0.1:6443");
  CHECK(kc->ca_data == "-----BEGIN");
  CHECK(kc->token_file == (dir / "token").string());
  CHECK(kc->cert_file == (dir / "certs/client.crt").string());

  std::ofstream(dir / "bad") << "current-context: nope\ncontexts: []\n";
  auto bad = LoadKubeconfig((dir / "bad").string());
  REQUIRE_FALSE(bad.ok());
  INFO(bad.status().message());
  CHECK(bad.status().message().find("context \"nope\" not found") != std::string::npos);
  CHECK_FALSE(LoadKubeconfig((dir / "missing").string()).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace petrel::config
