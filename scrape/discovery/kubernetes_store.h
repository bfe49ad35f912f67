// The kubernetes discoverer's object cache: one Store per kind, keyed "namespace/name" (or
// "name" for cluster-scoped objects), holding compact objects (kubernetes_objects.h), or
// only keys where nothing looks the objects up. A list is staged and committed at once, so a
// relist can report which objects vanished.
//
// One caller at a time.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "scrape/discovery/discovery.h"

namespace petrel::scrape::discovery::k8s {

using json = nlohmann::json;

inline std::string NamespaceOfKey(const std::string& key) {
  size_t slash = key.find('/');
  return slash == std::string::npos ? "" : key.substr(0, slash);
}

// The cached objects of one kind across all its streams, by "namespace/name" (or "name").
class AnyStore {
 public:
  virtual ~AnyStore() = default;
  // Decodes obj; into the cache, or (staged) into the set a list is building. Returns the key.
  virtual Result<std::string> Put(const json& obj, bool staged) = 0;
  virtual bool Erase(const std::string& key) = 0;
  virtual bool Has(const std::string& key) const = 0;
  // Replaces the cached objects of namespace ns ("" = all) by the staged set. Appends the keys
  // that were removed to removed, and the staged keys (with whether they existed) to kept.
  virtual void CommitStaged(const std::string& ns, std::vector<std::string>& removed,
                            std::vector<std::pair<std::string, bool>>& kept) = 0;
  virtual void ClearStaged() = 0;
};

template <typename T>
class Store final : public AnyStore {
 public:
  using Decoder = Result<T> (*)(const json&);
  using Builder = std::function<std::optional<TargetGroup>(const T&)>;
  explicit Store(Decoder decode) : decode_(decode) {}

  // Keys-only mode, for the role's own objects when no other object's group looks them up
  // (pod without node metadata, node, service, ingress): Put builds the object's group at
  // once, Flush takes it, and only the key stays cached. This is what keeps a 10k-pod
  // DaemonSet agent small.
  void KeepKeysOnly(Builder build) { build_ = std::move(build); }
  bool keys_only() const { return static_cast<bool>(build_); }

  Result<std::string> Put(const json& obj, bool staged) override {
    auto decoded = decode_(obj);
    if (!decoded.ok()) return decoded.status();
    std::string key = decoded->meta.Key();
    if (build_) {
      (staged ? staged_keys_ : keys_).insert(key);
      (staged ? staged_ready_ : ready_)[key] = build_(*decoded);
    } else {
      (staged ? staged_ : objects_)[key] = std::move(*decoded);
    }
    return key;
  }
  bool Erase(const std::string& key) override {
    if (build_) {
      ready_.erase(key);
      return keys_.erase(key) > 0;
    }
    return objects_.erase(key) > 0;
  }
  bool Has(const std::string& key) const override {
    return build_ ? keys_.count(key) > 0 : objects_.count(key) > 0;
  }
  void CommitStaged(const std::string& ns, std::vector<std::string>& removed,
                    std::vector<std::pair<std::string, bool>>& kept) override {
    if (build_) {
      for (auto it = keys_.begin(); it != keys_.end();) {
        if ((ns.empty() || NamespaceOfKey(*it) == ns) && !staged_keys_.count(*it)) {
          removed.push_back(*it);
          ready_.erase(*it);
          it = keys_.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& key : staged_keys_) kept.emplace_back(key, !keys_.insert(key).second);
      for (auto& [key, group] : staged_ready_) ready_[key] = std::move(group);
      staged_keys_.clear();
      staged_ready_.clear();
      return;
    }
    for (auto it = objects_.begin(); it != objects_.end();) {
      if ((ns.empty() || NamespaceOfKey(it->first) == ns) && !staged_.count(it->first)) {
        removed.push_back(it->first);
        it = objects_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, obj] : staged_) {
      kept.emplace_back(key, objects_.count(key) > 0);
      objects_[key] = std::move(obj);
    }
    staged_.clear();
  }
  void ClearStaged() override {
    staged_.clear();
    staged_keys_.clear();
    staged_ready_.clear();
  }

  const T* Get(const std::string& key) const {
    auto it = objects_.find(key);
    return it == objects_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, T>& objects() const { return objects_; }

  // Keys-only mode: the group built for key since the last Take (nullopt: none; an inner
  // nullopt: the object yields no update, e.g. a node without an address).
  std::optional<std::optional<TargetGroup>> TakeReady(const std::string& key) {
    auto it = ready_.find(key);
    if (it == ready_.end()) return std::nullopt;
    auto out = std::move(it->second);
    ready_.erase(it);
    return out;
  }

 private:
  Decoder decode_;
  Builder build_;
  std::map<std::string, T> objects_;
  std::map<std::string, T> staged_;
  std::set<std::string> keys_, staged_keys_;
  std::map<std::string, std::optional<TargetGroup>> ready_, staged_ready_;
};

}  // namespace petrel::scrape::discovery::k8s
