// Relabeling: Prometheus's relabel_config rules (model/relabel/relabel.go) and their engine.
//
// A rule joins the values of source_labels with separator (a missing label gives ""), matches
// the result against regex, fully anchored as ^(?s:regex)$ with Go/RE2 syntax, and performs
// its action. Rules run in order; a rule that drops stops the run. The semantics, including
// template expansion ($1, ${1}, $name, ${name}, $$ as Go's Regexp.Expand) and the validation
// messages, are Prometheus's. Label names are checked with the legacy scheme
// [a-zA-Z_][a-zA-Z0-9_]*, as everywhere in Petrel's config.
//
// RelabelConfig is a value: copyable, cheap to copy (the compiled regex is shared, immutable)
// and comparable on its YAML-visible fields. Thread-safe: a RelabelConfig may be applied from
// many threads at once; a LabelsBuilder is used by one caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "common/status.h"

namespace re2 {
class RE2;
}

namespace petrel::config {

// A fully anchored RE2 regex that remembers the pattern it was written as.
class Regex {
 public:
  // The default relabel regex "(.*)"; shares one compiled instance, so it does not allocate.
  Regex();
  // kInvalidArgument with RE2's reason when the pattern does not compile, e.g.
  // `"a(b" is not a valid regex: missing ): a(b`.
  static Result<Regex> Compile(std::string_view pattern);

  const std::string& pattern() const { return pattern_; }
  // True when the whole of text matches.
  bool FullMatch(std::string_view text) const;
  // Equal when written the same; the compiled form follows from the pattern.
  bool operator==(const Regex& other) const { return pattern_ == other.pattern_; }

  // Full match with capture groups: groups[0] is the whole match, groups[i] group i (a null
  // data() for a group that did not participate). Returns false without a match.
  bool Match(std::string_view text, std::vector<std::string_view>& groups) const;
  // Go's Regexp.Expand: appends template to out with $1, ${1}, $name, ${name} replaced by the
  // groups of a Match and $$ by $. A name extends over ASCII letters, digits and '_' (so "$1x"
  // is the group named "1x"); unknown or non-participating groups expand to "". A '$' not
  // followed by a well-formed reference is kept literally.
  void Expand(std::string_view template_text, std::span<const std::string_view> groups,
              std::string& out) const;

 private:
  std::string pattern_;
  // Shared so that copies of a Config share compiled regexes; RE2 is immutable and thread-safe.
  std::shared_ptr<const re2::RE2> re_;
};

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// "replace", "keepequal", ... (the YAML spelling).
std::string_view ActionName(RelabelAction action);
// Case-insensitive, as Prometheus reads it; nullopt for an unknown action.
std::optional<RelabelAction> ParseAction(std::string_view name);

struct RelabelConfig {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  Regex regex;  // "(.*)"
  uint64_t modulus = 0;
  std::string target_label;
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;
  bool operator==(const RelabelConfig&) const = default;
};

// Prometheus's relabel Config.Validate, with its messages, e.g.
// `relabel configuration for hashmod requires non-zero modulus`. The YAML parser runs it on
// every rule; code that builds rules by hand should too (Relabel assumes valid rules).
Status Validate(const RelabelConfig& rule);

// Applies rules in order to labels. Returns false when a rule drops the label set (labels is
// then left partly relabeled and should be discarded), true to keep it. When no rule
// changes anything, nothing is allocated for the common single-source-label rules.
bool Relabel(LabelsBuilder& labels, std::span<const RelabelConfig> rules);

// Convenience for callers holding a Labels: nullopt when dropped.
std::optional<Labels> Relabel(const Labels& labels, std::span<const RelabelConfig> rules);

// Prometheus's hashmod value: the last 8 bytes of md5(value) as a big-endian uint64, mod
// modulus (> 0).
uint64_t HashMod(std::string_view value, uint64_t modulus);

}  // namespace petrel::config
