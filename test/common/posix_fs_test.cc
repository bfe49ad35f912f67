#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "common/fs.h"

namespace petrel {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/petrel-fs-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  REQUIRE(d != nullptr);
  return d;
}

TEST_CASE("PosixFs appends, reads back, lists and renames on a real disk", "[common]") {
  PosixFs fs;
  std::string dir = TempDir();
  std::string path = JoinPath(dir, "a");
  {
    auto f = fs.OpenForAppend(path);
    REQUIRE(f.ok());
    REQUIRE((*f)->Append("hello ").ok());
    REQUIRE((*f)->Append("world").ok());
    REQUIRE((*f)->Sync().ok());
    CHECK((*f)->Size() == 11);
    REQUIRE((*f)->Close().ok());
  }
  auto data = ReadFileToString(fs, path);
  REQUIRE(data.ok());
  CHECK(*data == "hello world");

  REQUIRE(WriteFileAtomic(fs, JoinPath(dir, "b"), "atomic").ok());
  auto names = fs.List(dir);
  REQUIRE(names.ok());
  std::sort(names->begin(), names->end());
  CHECK(*names == std::vector<std::string>{"a", "b"});

  REQUIRE(fs.Truncate(path, 5).ok());
  CHECK(*ReadFileToString(fs, path) == "hello");
  CHECK(fs.OpenForRead(JoinPath(dir, "missing")).status().code() == Code::kNotFound);
  REQUIRE(fs.RemoveAll(dir).ok());
  CHECK_FALSE(fs.Exists(dir));
}

}  // namespace
}  // namespace petrel
