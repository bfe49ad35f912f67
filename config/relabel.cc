// The relabel engine. Semantics follow model/relabel/relabel.go line by line; the comments
// say where Go's behaviour is subtle.
#include "config/relabel.h"

#include <fmt/format.h>
#include <locale.h>
#include <openssl/evp.h>
#include <re2/re2.h>

#include <array>
#include <cstdlib>
#include <cwctype>

#include "config/config.h"
#include "config/parse.h"

namespace petrel::config {
namespace {

constexpr std::string_view kDefaultPattern = "(.*)";

Result<std::shared_ptr<const re2::RE2>> CompileAnchored(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  // (?s): '.' also matches '\n', as in Prometheus 3.x.
  auto re = std::make_shared<const re2::RE2>(fmt::format("^(?s:{})$", pattern), options);
  if (!re->ok()) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is not a valid regex: {}", pattern, re->error()));
  }
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

const std::shared_ptr<const re2::RE2>& DefaultRe() {
  static const std::shared_ptr<const re2::RE2> re = *CompileAnchored(kDefaultPattern);
  return re;
}

bool IsNameChar(char c) {
  return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Go's regexp extract(): the reference after a '$'. ok=false for a malformed one.
struct TemplateRef {
  bool ok = false;
  std::string_view name;
  int number = -1;   // >= 0 when name is a group number
  size_t width = 0;  // bytes consumed after the '$'
};

TemplateRef ExtractRef(std::string_view s) {
  TemplateRef ref;
  if (s.empty()) return ref;
  const bool brace = s[0] == '{';
  const size_t start = brace ? 1 : 0;
  size_t i = start;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  if (i == start) return ref;  // an empty name is malformed
  ref.name = s.substr(start, i - start);
  if (brace) {
    if (i >= s.size() || s[i] != '}') return ref;  // missing closing brace
    ++i;
  }
  ref.number = 0;
  for (char c : ref.name) {
    if (c < '0' || c > '9' || ref.number >= 100000000) {
      ref.number = -1;
      break;
    }
    ref.number = ref.number * 10 + (c - '0');
  }
  if (ref.name.size() > 1 && ref.name[0] == '0') ref.number = -1;  // no leading zeros
  ref.ok = true;
  ref.width = i;
  return ref;
}

// The relabelTarget pattern of relabel.go: a label name that may contain $var / ${var} parts.
bool IsValidTemplatedName(std::string_view name) {
  static const re2::RE2 re(R"(^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$)");
  return RE2::FullMatch(re2::StringPiece(name.data(), name.size()), re);
}

// C.UTF-8 gives full Unicode simple case mapping, like Go's unicode.ToLower/ToUpper. Without
// it (a stripped image) only ASCII is mapped.
locale_t Utf8Locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Decodes one rune at s[i]; an invalid sequence is U+FFFD of width 1, as in Go.
uint32_t DecodeRune(std::string_view s, size_t i, size_t& width) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  width = 1;
  if (len == 1) return c;
  if (len == 0 || i + len > s.size() || !IsValidUtf8(s.substr(i, len))) return 0xfffd;
  uint32_t cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  width = len;
  return cp;
}

// Go's strings.ToLower / ToUpper.
void MapCase(std::string_view s, bool upper, std::string& out) {
  out.clear();
  out.reserve(s.size());
  const locale_t loc = Utf8Locale();
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(upper ? ((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : s[i])
                          : ((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : s[i]));
      ++i;
      continue;
    }
    size_t width;
    uint32_t cp = DecodeRune(s, i, width);
    if (loc != static_cast<locale_t>(0) && cp != 0xfffd) {
      const wint_t w = static_cast<wint_t>(cp);
      cp = static_cast<uint32_t>(upper ? towupper_l(w, loc) : towlower_l(w, loc));
    }
    AppendUtf8(cp, out);
    i += width;
  }
}

// The joined source value. A single source label is viewed in place; several are joined into
// scratch. The view is valid until labels or scratch change.
std::string_view SourceValue(const LabelsBuilder& labels, const RelabelConfig& rule,
                             std::string& scratch) {
  if (rule.source_labels.empty()) return {};
  if (rule.source_labels.size() == 1) return labels.Get(rule.source_labels[0]);
  scratch.clear();
  for (size_t i = 0; i < rule.source_labels.size(); ++i) {
    if (i > 0) scratch += rule.separator;
    scratch += labels.Get(rule.source_labels[i]);
  }
  return scratch;
}

// Per-thread buffers, so applying a rule does not allocate once they have grown.
struct Scratch {
  std::string joined, target, value;
  std::vector<std::string_view> groups;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

void ApplyReplace(LabelsBuilder& labels, const RelabelConfig& rule, std::string_view val,
                  Scratch& s) {
  const bool templated = rule.target_label.find('$') != std::string::npos ||
                         rule.replacement.find('$') != std::string::npos;
  if (!templated) {
    // Prometheus's fast path (empty value, default regex) gives the same result as this.
    if (!(val.empty() && rule.regex.pattern() == kDefaultPattern) && !rule.regex.FullMatch(val)) {
      return;
    }
    if (!IsValidLabelName(rule.target_label)) return;
    labels.Set(rule.target_label, rule.replacement);  // empty deletes
    return;
  }
  if (!rule.regex.Match(val, s.groups)) return;
  s.target.clear();
  rule.regex.Expand(rule.target_label, s.groups, s.target);
  if (!IsValidLabelName(s.target)) return;
  s.value.clear();
  rule.regex.Expand(rule.replacement, s.groups, s.value);
  labels.Set(s.target, s.value);  // empty deletes
}

// labelmap, labeldrop and labelkeep look at every label name, as of before the rule.
void ApplyToNames(LabelsBuilder& labels, const RelabelConfig& rule, Scratch& s) {
  const Labels snapshot = labels.Build();
  for (const Label& l : snapshot) {
    switch (rule.action) {
      case RelabelAction::kLabelMap:
        if (rule.regex.Match(l.name, s.groups)) {
          s.target.clear();
          rule.regex.Expand(rule.replacement, s.groups, s.target);
          // Go would set an empty name; a label without a name cannot exist here.
          if (!s.target.empty()) labels.Set(s.target, l.value);
        }
        break;
      case RelabelAction::kLabelDrop:
        if (rule.regex.FullMatch(l.name)) labels.Del(l.name);
        break;
      case RelabelAction::kLabelKeep:
        if (!rule.regex.FullMatch(l.name)) labels.Del(l.name);
        break;
      default:
        break;
    }
  }
}

// One rule; false when it drops the label set.
bool ApplyRule(LabelsBuilder& labels, const RelabelConfig& rule, Scratch& s) {
  const std::string_view val = SourceValue(labels, rule, s.joined);
  switch (rule.action) {
    case RelabelAction::kDrop:
      return !rule.regex.FullMatch(val);
    case RelabelAction::kKeep:
      return rule.regex.FullMatch(val);
    case RelabelAction::kDropEqual:
      return labels.Get(rule.target_label) != val;
    case RelabelAction::kKeepEqual:
      return labels.Get(rule.target_label) == val;
    case RelabelAction::kReplace:
      ApplyReplace(labels, rule, val, s);
      return true;
    case RelabelAction::kLowercase:
    case RelabelAction::kUppercase:
      MapCase(val, rule.action == RelabelAction::kUppercase, s.value);
      labels.Set(rule.target_label, s.value);
      return true;
    case RelabelAction::kHashMod: {
      const auto text = fmt::format_int(HashMod(val, rule.modulus));
      labels.Set(rule.target_label, std::string_view(text.data(), text.size()));
      return true;
    }
    case RelabelAction::kLabelMap:
    case RelabelAction::kLabelDrop:
    case RelabelAction::kLabelKeep:
      ApplyToNames(labels, rule, s);
      return true;
  }
  return true;
}

constexpr std::array<std::pair<RelabelAction, std::string_view>, 11> kActions = {{
    {RelabelAction::kReplace, "replace"},
    {RelabelAction::kKeep, "keep"},
    {RelabelAction::kDrop, "drop"},
    {RelabelAction::kKeepEqual, "keepequal"},
    {RelabelAction::kDropEqual, "dropequal"},
    {RelabelAction::kHashMod, "hashmod"},
    {RelabelAction::kLabelMap, "labelmap"},
    {RelabelAction::kLabelDrop, "labeldrop"},
    {RelabelAction::kLabelKeep, "labelkeep"},
    {RelabelAction::kLowercase, "lowercase"},
    {RelabelAction::kUppercase, "uppercase"},
}};

}  // namespace

Regex::Regex() : pattern_(kDefaultPattern), re_(DefaultRe()) {}

Result<Regex> Regex::Compile(std::string_view pattern) {
  Regex regex;
  if (pattern == kDefaultPattern) return regex;
  auto re = CompileAnchored(pattern);
  if (!re.ok()) return re.status();
  regex.pattern_ = std::string(pattern);
  regex.re_ = std::move(*re);
  return regex;
}

bool Regex::FullMatch(std::string_view text) const {
  return re_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_BOTH,
                    nullptr, 0);
}

bool Regex::Match(std::string_view text, std::vector<std::string_view>& groups) const {
  const int n = re_->NumberOfCapturingGroups() + 1;
  std::array<re2::StringPiece, 16> small;
  std::vector<re2::StringPiece> large;
  re2::StringPiece* pieces = small.data();
  if (n > static_cast<int>(small.size())) {
    large.resize(static_cast<size_t>(n));
    pieces = large.data();
  }
  if (!re_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_BOTH,
                  pieces, n)) {
    return false;
  }
  groups.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) groups[i] = std::string_view(pieces[i].data(), pieces[i].size());
  return true;
}

void Regex::Expand(std::string_view tmpl, std::span<const std::string_view> groups,
                   std::string& out) const {
  while (!tmpl.empty()) {
    const size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    const TemplateRef ref = ExtractRef(tmpl);
    if (!ref.ok) {
      out.push_back('$');  // malformed: the '$' is literal text
      continue;
    }
    tmpl.remove_prefix(ref.width);
    int index = ref.number;
    if (index < 0) {
      const auto& named = re_->NamedCapturingGroups();
      const auto it = named.find(std::string(ref.name));
      index = it == named.end() ? -1 : it->second;
    }
    if (index >= 0 && static_cast<size_t>(index) < groups.size()) out.append(groups[index]);
  }
  out.append(tmpl);
}

std::string_view ActionName(RelabelAction action) {
  for (const auto& [a, name] : kActions) {
    if (a == action) return name;
  }
  return "unknown";
}

std::optional<RelabelAction> ParseAction(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  for (const auto& [a, n] : kActions) {
    if (n == lower) return a;
  }
  return std::nullopt;
}

Status ValidateRelabel(const RelabelConfig& c, bool source_labels_set) {
  using A = RelabelAction;
  const std::string_view action = ActionName(c.action);
  const RelabelConfig d;  // defaults
  const bool equal_action = c.action == A::kKeepEqual || c.action == A::kDropEqual;
  const bool case_action = c.action == A::kLowercase || c.action == A::kUppercase;
  auto invalid_target = [&] {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is invalid 'target_label' for {} action", c.target_label, action));
  };
  if (c.action == A::kHashMod && c.modulus == 0) {
    return Status::InvalidArgument("relabel configuration for hashmod requires non-zero modulus");
  }
  if ((c.action == A::kReplace || c.action == A::kHashMod || case_action || equal_action) &&
      c.target_label.empty()) {
    return Status::InvalidArgument(
        fmt::format("relabel configuration for {} action requires 'target_label' value", action));
  }
  if (c.action == A::kReplace) {
    const bool templated = c.target_label.find('$') != std::string::npos;
    if (templated ? !IsValidTemplatedName(c.target_label) : !IsValidLabelName(c.target_label)) {
      return invalid_target();
    }
  }
  if ((case_action || equal_action || c.action == A::kHashMod) &&
      !IsValidLabelName(c.target_label)) {
    return invalid_target();
  }
  if ((case_action || equal_action) && c.replacement != d.replacement) {
    return Status::InvalidArgument(
        fmt::format("'replacement' can not be set for {} action", action));
  }
  if (c.action == A::kLabelMap && !IsValidTemplatedName(c.replacement)) {
    return Status::InvalidArgument(
        fmt::format("\"{}\" is invalid 'replacement' for {} action", c.replacement, action));
  }
  if (equal_action && (c.regex != d.regex || c.modulus != d.modulus || c.separator != d.separator ||
                       c.replacement != d.replacement)) {
    return Status::InvalidArgument(fmt::format(
        "{} action requires only 'source_labels' and `target_label`, and no other fields", action));
  }
  if ((c.action == A::kLabelDrop || c.action == A::kLabelKeep) &&
      (source_labels_set || !c.source_labels.empty() || c.target_label != d.target_label ||
       c.modulus != d.modulus || c.separator != d.separator || c.replacement != d.replacement)) {
    return Status::InvalidArgument(
        fmt::format("{} action requires only 'regex', and no other fields", action));
  }
  return Status::Ok();
}

Status Validate(const RelabelConfig& rule) { return ValidateRelabel(rule, false); }

uint64_t HashMod(std::string_view value, uint64_t modulus) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // MD5 is in every OpenSSL provider set we link against; failing is a broken install.
  if (EVP_Digest(value.data(), value.size(), digest, &len, EVP_md5(), nullptr) != 1 || len != 16) {
    std::abort();
  }
  uint64_t h = 0;
  for (int i = 8; i < 16; ++i) h = (h << 8) | digest[i];  // the last 8 bytes, big-endian
  return h % modulus;
}

bool Relabel(LabelsBuilder& labels, std::span<const RelabelConfig> rules) {
  Scratch& scratch = ThreadScratch();
  for (const RelabelConfig& rule : rules) {
    if (!ApplyRule(labels, rule, scratch)) return false;
  }
  return true;
}

std::optional<Labels> Relabel(const Labels& labels, std::span<const RelabelConfig> rules) {
  LabelsBuilder builder(labels);
  if (!Relabel(builder, rules)) return std::nullopt;
  return builder.Build();
}

}  // namespace petrel::config
