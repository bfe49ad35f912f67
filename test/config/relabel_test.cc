#include "config/relabel.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace petrel::config {
namespace {

Regex Re(std::string_view pattern) {
  auto re = Regex::Compile(pattern);
  REQUIRE(re.ok());
  return *re;
}

// A rule with Prometheus's defaults plus the given fields.
struct R {
  std::vector<std::string> source_labels = {};
  std::string regex = "(.*)";
  std::string target_label = "";
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;
  uint64_t modulus = 0;
  std::string separator = ";";
};

RelabelConfig Make(const R& r) {
  RelabelConfig c;
  c.source_labels = r.source_labels;
  c.regex = Re(r.regex);
  c.target_label = r.target_label;
  c.replacement = r.replacement;
  c.action = r.action;
  c.modulus = r.modulus;
  c.separator = r.separator;
  REQUIRE(Validate(c).ok());
  return c;
}

struct Case {
  std::string name;
  Labels in;
  std::vector<R> rules;
  std::optional<Labels> want;  // nullopt: dropped
};

void Run(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO(c.name);
    std::vector<RelabelConfig> rules;
    for (const R& r : c.rules) rules.push_back(Make(r));
    const std::optional<Labels> got = Relabel(c.in, rules);
    REQUIRE(got.has_value() == c.want.has_value());
    if (got) CHECK(got->ToString() == c.want->ToString());
  }
}

using A = RelabelAction;

TEST_CASE("replace: matching, templates, deletion", "[config][relabel]") {
  Run({
      {"replacement with ${1}",
       {{"a", "foo"}},
       {{.source_labels = {"a"},
         .regex = "f(.*)",
         .target_label = "d",
         .replacement = "ch${1}-ch${1}"}},
       Labels{{"a", "foo"}, {"d", "choo-choo"}}},
      {"joined sources with separator; regex is anchored",
       {{"a", "foo"}, {"b", "bar"}},
       {{.source_labels = {"a", "b"},
         .regex = "(.*)\\|(b.*)",
         .target_label = "c",
         .replacement = "$2-$1",
         .separator = "|"}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "bar-foo"}}},
      {"non-matching regex changes nothing",
       {{"a", "boo"}},
       {{.source_labels = {"a"}, .regex = "f", .target_label = "b", .replacement = "bar"}},
       Labels{{"a", "boo"}}},
      {"partial match is no match (anchored)",
       {{"a", "foo"}},
       {{.source_labels = {"a"}, .regex = "oo", .target_label = "b", .replacement = "x"}},
       Labels{{"a", "foo"}}},
      {"$1x names group 1x, which is unknown: empty result deletes the target",
       {{"a", "foo"}, {"b", "old"}},
       {{.source_labels = {"a"}, .regex = "(f)oo", .target_label = "b", .replacement = "$1x"}},
       Labels{{"a", "foo"}}},
      {"${1}x is group 1 then x",
       {{"a", "foo"}},
       {{.source_labels = {"a"}, .regex = "(f)oo", .target_label = "b", .replacement = "${1}x"}},
       Labels{{"a", "foo"}, {"b", "fx"}}},
      {"named groups, $$ and malformed references",
       {{"a", "foo"}},
       {{.source_labels = {"a"},
         .regex = "(?P<first>f)(?P<rest>.*)",
         .target_label = "b",
         .replacement = "$rest.${first}$$1${x$"}},
       Labels{{"a", "foo"}, {"b", "oo.f$1${x$"}}},
      {"missing source label contributes empty; (.+) does not match it",
       {{"a", "foo"}},
       {{.source_labels = {"missing"}, .regex = "(.+)", .target_label = "b"}},
       Labels{{"a", "foo"}}},
      {"no source labels, default regex: literal replacement (fast path)",
       {{"a", "foo"}},
       {{.target_label = "env", .replacement = "prod"}},
       Labels{{"a", "foo"}, {"env", "prod"}}},
      {"empty replacement deletes the target",
       {{"a", "foo"}, {"b", "bar"}},
       {{.target_label = "b", .replacement = ""}},
       Labels{{"a", "foo"}}},
      {"templated target label",
       {{"a", "some-name-value"}},
       {{.source_labels = {"a"},
         .regex = "some-([^-]+)-([^,]+)",
         .target_label = "${1}",
         .replacement = "${2}"}},
       Labels{{"a", "some-name-value"}, {"name", "value"}}},
      {"templated target expanding to an invalid name changes nothing",
       {{"a", "some-1name-value"}},
       {{.source_labels = {"a"},
         .regex = "some-([^-]+)-([^,]+)",
         .target_label = "${1}",
         .replacement = "${2}"}},
       Labels{{"a", "some-1name-value"}}},
      {"upstream: target $1 replacement $2 (unset group) deletes nothing",
       {{"a", "foo"}},
       {{.source_labels = {"a"}, .regex = "(f).*", .target_label = "$1", .replacement = "$2"}},
       Labels{{"a", "foo"}}},
      {"'.' matches a newline",
       {{"a", "foo\nbar"}},
       {{.source_labels = {"a"}, .regex = "foo.bar", .target_label = "b", .replacement = "y"}},
       Labels{{"a", "foo\nbar"}, {"b", "y"}}},
      {"rules see earlier rules' results",
       {{"a", "foo"}},
       {{.source_labels = {"a"}, .target_label = "b"},
        {.source_labels = {"b"}, .regex = "f(.*)", .target_label = "c", .replacement = "$1"}},
       Labels{{"a", "foo"}, {"b", "foo"}, {"c", "oo"}}},
  });
}

TEST_CASE("keep, drop, keepequal, dropequal", "[config][relabel]") {
  const Labels in{{"a", "foo"}, {"b", "foo"}, {"c", "bar"}};
  Run({
      {"keep match", in, {{.source_labels = {"a"}, .regex = "f.*", .action = A::kKeep}}, in},
      {"keep no match",
       in,
       {{.source_labels = {"a"}, .regex = "f", .action = A::kKeep}},
       std::nullopt},
      {"keep: missing label is the empty string",
       in,
       {{.source_labels = {"missing"}, .regex = "", .action = A::kKeep}},
       in},
      {"drop match",
       in,
       {{.source_labels = {"c"}, .regex = "bar", .action = A::kDrop}},
       std::nullopt},
      {"drop no match", in, {{.source_labels = {"c"}, .regex = "ba", .action = A::kDrop}}, in},
      {"drop joined",
       in,
       {{.source_labels = {"a", "c"}, .regex = "foo;bar", .action = A::kDrop}},
       std::nullopt},
      {"drop stops the run",
       in,
       {{.source_labels = {"a"}, .regex = "foo", .action = A::kDrop},
        {.target_label = "x", .replacement = "y"}},
       std::nullopt},
      {"keepequal equal",
       in,
       {{.source_labels = {"a"}, .target_label = "b", .action = A::kKeepEqual}},
       in},
      {"keepequal different",
       in,
       {{.source_labels = {"a"}, .target_label = "c", .action = A::kKeepEqual}},
       std::nullopt},
      {"keepequal: absent target equals an empty value",
       in,
       {{.source_labels = {"missing"}, .target_label = "also_missing", .action = A::kKeepEqual}},
       in},
      {"dropequal equal",
       in,
       {{.source_labels = {"a"}, .target_label = "b", .action = A::kDropEqual}},
       std::nullopt},
      {"dropequal different",
       in,
       {{.source_labels = {"a"}, .target_label = "c", .action = A::kDropEqual}},
       in},
  });
}

// Expected values computed outside this code: `printf '<value>' | md5sum`, the last 16 hex
// digits read as an unsigned integer (python3 int(h, 16)), mod the modulus. "baz" -> 976 also
// appears in Prometheus's relabel_test.go.
TEST_CASE("hashmod matches Prometheus", "[config][relabel]") {
  CHECK(HashMod("baz", 1000) == 976);       // md5 ...e44cf984c85f6e88
  CHECK(HashMod("foo\nbar", 1000) == 734);  // md5 ...(foo\nbar)
  CHECK(HashMod("", 7) == 1);               // md5 ...e9800998ecf8427e
  CHECK(HashMod("foo", 1000) == 696);       // md5 ...edef654fccc4a4d8
  CHECK(HashMod("10.0.0.1:9100", 7) == 2);  // md5 ...4cfeac4083628b3d
  CHECK(HashMod("foo", UINT64_MAX) == 17145033699835028696ull);
  Run({
      {"sets the target",
       {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
       {{.source_labels = {"c"}, .target_label = "d", .action = A::kHashMod, .modulus = 1000}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "976"}}},
      {"hashes the joined value",
       {{"a", "foo"}, {"b", "bar"}},
       {{.source_labels = {"a", "b"}, .target_label = "h", .action = A::kHashMod, .modulus = 1000}},
       Labels{{"a", "foo"}, {"b", "bar"}, {"h", "750"}}},  // md5 ...ddadc4ed9df31f3e
      {"sharding: hashmod then keep",
       {{"__address__", "10.0.0.1:9100"}},
       {{.source_labels = {"__address__"},
         .target_label = "__tmp_hash",
         .action = A::kHashMod,
         .modulus = 7},
        {.source_labels = {"__tmp_hash"}, .regex = "2", .action = A::kKeep}},
       Labels{{"__address__", "10.0.0.1:9100"}, {"__tmp_hash", "2"}}},
  });
}

TEST_CASE("labelmap, labeldrop, labelkeep", "[config][relabel]") {
  Run({
      {"labelmap copies, keeps the original",
       {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
       {{.regex = "(b.*)", .replacement = "bar_${1}", .action = A::kLabelMap}},
       Labels{{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}, {"bar_b1", "bar"}, {"bar_b2", "baz"}}},
      {"labelmap of kubernetes pod labels; new labels are not matched again",
       {{"__meta_kubernetes_pod_label_app", "web"}, {"__meta_x", "1"}},
       {{.regex = "__meta_(.+)", .replacement = "__meta_$1", .action = A::kLabelMap},
        {.regex = "__meta_kubernetes_pod_label_(.+)", .action = A::kLabelMap}},
       Labels{{"__meta_kubernetes_pod_label_app", "web"}, {"__meta_x", "1"}, {"app", "web"}}},
      {"labelmap overwrites an existing label",
       {{"__tmp_job", "x"}, {"job", "old"}},
       {{.regex = "__tmp_(.*)", .action = A::kLabelMap}},
       Labels{{"__tmp_job", "x"}, {"job", "x"}}},
      {"labeldrop",
       {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
       {{.regex = "b.*", .action = A::kLabelDrop}},
       Labels{{"a", "foo"}}},
      {"labeldrop is anchored",
       {{"a", "foo"}, {"ab", "bar"}},
       {{.regex = "b", .action = A::kLabelDrop}},
       Labels{{"a", "foo"}, {"ab", "bar"}}},
      {"labelkeep also removes __name__ and __address__",
       {{"__name__", "up"}, {"__address__", "h:1"}, {"job", "j"}, {"instance", "i"}},
       {{.regex = "job|instance", .action = A::kLabelKeep}},
       Labels{{"instance", "i"}, {"job", "j"}}},
  });
}

TEST_CASE("lowercase and uppercase", "[config][relabel]") {
  Run({
      {"lowercase",
       {{"foo", "bAr123Foo"}},
       {{.source_labels = {"foo"}, .target_label = "foo_lower", .action = A::kLowercase}},
       Labels{{"foo", "bAr123Foo"}, {"foo_lower", "bar123foo"}}},
      {"uppercase of joined labels",
       {{"a", "x"}, {"b", "y"}},
       {{.source_labels = {"a", "b"}, .target_label = "u", .action = A::kUppercase}},
       Labels{{"a", "x"}, {"b", "y"}, {"u", "X;Y"}}},
      {"unicode-aware",
       {{"a", "ÄÖÜ straße Σ"}},
       {{.source_labels = {"a"}, .target_label = "l", .action = A::kLowercase},
        {.source_labels = {"a"}, .target_label = "u", .action = A::kUppercase}},
       Labels{{"a", "ÄÖÜ straße Σ"}, {"l", "äöü straße σ"}, {"u", "ÄÖÜ STRAßE Σ"}}},
      {"empty result deletes the target",
       {{"t", "old"}},
       {{.source_labels = {"missing"}, .target_label = "t", .action = A::kLowercase}},
       Labels{}},
  });
}

TEST_CASE("Regex::Expand follows Go's Regexp.Expand", "[config][relabel]") {
  const Regex re = Re("(?P<word>[a-z]+)-(\\d+)(x)?");
  std::vector<std::string_view> groups;
  REQUIRE(re.Match("ab-12", groups));
  auto expand = [&](std::string_view t) {
    std::string out;
    re.Expand(t, groups, out);
    return out;
  };
  CHECK(expand("$1") == "ab");
  CHECK(expand("${1}") == "ab");
  CHECK(expand("$word") == "ab");
  CHECK(expand("${word}") == "ab");
  CHECK(expand("$2") == "12");
  CHECK(expand("$3") == "");      // did not participate
  CHECK(expand("$9") == "");      // no such group
  CHECK(expand("$01") == "");     // leading zero: a name, not a number
  CHECK(expand("$1x") == "");     // group "1x"
  CHECK(expand("$1-") == "ab-");  // '-' ends the name
  CHECK(expand("$$1") == "$1");
  CHECK(expand("$") == "$");
  CHECK(expand("${1") == "${1");  // unterminated: literal
  CHECK(expand("${}") == "${}");
  CHECK(expand("a$0b") == "a");  // group "0b"
  CHECK(expand("<$0>") == "<ab-12>");
  CHECK_FALSE(re.Match("ab-12 ", groups));
}

TEST_CASE("Relabel on a builder keeps the builder's other labels", "[config][relabel]") {
  LabelsBuilder b(Labels{{"a", "1"}});
  b.Set("b", "2");
  const std::vector<RelabelConfig> rules = {
      Make({.source_labels = {"a", "b"}, .target_label = "c", .separator = ""})};
  REQUIRE(Relabel(b, rules));
  CHECK(b.Build() == Labels{{"a", "1"}, {"b", "2"}, {"c", "12"}});
  CHECK(Relabel(Labels{{"a", "1"}}, {}) == Labels{{"a", "1"}});
}

TEST_CASE("relabel validation matches Prometheus's messages", "[config][relabel]") {
  auto error = [](const R& r) {
    RelabelConfig c;
    c.source_labels = r.source_labels;
    c.regex = Re(r.regex);
    c.target_label = r.target_label;
    c.replacement = r.replacement;
    c.action = r.action;
    c.modulus = r.modulus;
    c.separator = r.separator;
    return Validate(c).message();
  };
  CHECK(error({.target_label = "x"}).empty());
  CHECK(error({.target_label = "${1}_total"}).empty());
  CHECK(error({}) == "relabel configuration for replace action requires 'target_label' value");
  CHECK(error({.target_label = "a-b"}) == "\"a-b\" is invalid 'target_label' for replace action");
  CHECK(error({.target_label = "${1}-x"}) ==
        "\"${1}-x\" is invalid 'target_label' for replace action");
  CHECK(error({.target_label = "h", .action = A::kHashMod}) ==
        "relabel configuration for hashmod requires non-zero modulus");
  CHECK(error({.action = A::kHashMod, .modulus = 2}) ==
        "relabel configuration for hashmod action requires 'target_label' value");
  CHECK(error({.target_label = "$1", .action = A::kHashMod, .modulus = 2}) ==
        "\"$1\" is invalid 'target_label' for hashmod action");
  CHECK(error({.action = A::kLowercase}) ==
        "relabel configuration for lowercase action requires 'target_label' value");
  CHECK(error({.target_label = "x", .replacement = "y", .action = A::kUppercase}) ==
        "'replacement' can not be set for uppercase action");
  CHECK(error({.target_label = "x", .action = A::kKeepEqual}).empty());
  CHECK(error({.regex = "a", .target_label = "x", .action = A::kDropEqual}) ==
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields");
  CHECK(error({.replacement = "a-b", .action = A::kLabelMap}) ==
        "\"a-b\" is invalid 'replacement' for labelmap action");
  CHECK(error({.regex = "x", .action = A::kLabelDrop}).empty());
  CHECK(error({.source_labels = {"a"}, .action = A::kLabelDrop}) ==
        "labeldrop action requires only 'regex', and no other fields");
  CHECK(error({.replacement = "", .action = A::kLabelKeep}) ==
        "labelkeep action requires only 'regex', and no other fields");
  CHECK(error({.action = A::kKeep}).empty());
  CHECK(error({.action = A::kDrop}).empty());
}

TEST_CASE("regexes compile with Go syntax or fail with RE2's reason", "[config][relabel]") {
  CHECK(Regex::Compile("a(b").status().message().find("\"a(b\" is not a valid regex") == 0);
  CHECK(Regex::Compile("\\pL+").ok());
  CHECK_FALSE(Regex::Compile("(?=lookahead)").ok());  // not in RE2/Go syntax
  CHECK(Regex().pattern() == "(.*)");
  CHECK(Regex().FullMatch("anything\nat all"));
}

TEST_CASE("rules are values: copies compare equal, regex compared by pattern",
          "[config][relabel]") {
  const RelabelConfig a = Make({.source_labels = {"a"}, .regex = "x+", .target_label = "t"});
  const RelabelConfig copy = a;
  CHECK(copy == a);
  RelabelConfig other = a;
  other.regex = Re("x*");
  CHECK_FALSE(other == a);
  other.regex = Re("x+");  // compiled again, same pattern
  CHECK(other == a);
  CHECK(ParseAction("HashMod") == A::kHashMod);
  CHECK(ParseAction("labelKeep") == A::kLabelKeep);
  CHECK_FALSE(ParseAction("copy").has_value());
  CHECK(ActionName(A::kDropEqual) == "dropequal");
}

}  // namespace
}  // namespace petrel::config
