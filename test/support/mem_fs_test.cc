#include "test/support/mem_fs.h"

#include <algorithm>
#include <catch2/catch.hpp>

namespace petrel {
namespace {

std::vector<std::string> Sorted(Result<std::vector<std::string>> names) {
  REQUIRE(names.ok());
  std::sort(names->begin(), names->end());
  return *names;
}

TEST_CASE("MemFs behaves like a file system", "[support]") {
  MemFs fs;
  CHECK(fs.OpenForAppend("/a/f").status().code() == Code::kNotFound);  // no parent dir
  REQUIRE(fs.MkdirAll("/a//b/").ok());
  CHECK(fs.IsDir("/a"));
  CHECK(fs.IsDir("/a/b"));
  auto f = fs.OpenForAppend("/a/f");
  REQUIRE(f.ok());
  REQUIRE((*f)->Append("hello").ok());
  CHECK((*f)->Size() == 5);
  CHECK(Sorted(fs.List("/a")) == std::vector<std::string>{"b", "f"});
  CHECK(fs.List("/nope").status().code() == Code::kNotFound);

  auto r = fs.OpenForRead("/a/f");
  REQUIRE(r.ok());
  char buf[8];
  auto n = (*r)->ReadAt(1, buf, sizeof(buf));
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == "ello");
  REQUIRE((*f)->Append("!").ok());
  CHECK(*(*r)->Size() == 6);  // readers see the file grow

  CHECK(fs.Remove("/a").code() == Code::kIo);  // not empty
  REQUIRE(fs.Rename("/a", "/c").ok());         // moves the whole tree
  CHECK(fs.Contents("/c/f") == "hello!");
  CHECK(fs.IsDir("/c/b"));
  CHECK_FALSE(fs.Exists("/a"));
  REQUIRE((*f)->Append("?").ok());  // an open file follows its node, like an inode
  CHECK(fs.Contents("/c/f") == "hello!?");
  REQUIRE(fs.RemoveAll("/c").ok());
  CHECK_FALSE(fs.Exists("/c/f"));
  CHECK(fs.RemoveAll("/c").ok());
}

TEST_CASE("MemFs drops unsynced bytes and breaks files on request", "[support]") {
  MemFs fs;
  REQUIRE(fs.MkdirAll("/d").ok());
  auto f = fs.OpenForAppend("/d/f");
  REQUIRE(f.ok());
  REQUIRE((*f)->Append("abc").ok());
  REQUIRE((*f)->Sync().ok());
  REQUIRE((*f)->Append("def").ok());
  CHECK(fs.SyncCount() == 1);

  SECTION("DropUnsynced") {
    fs.DropUnsynced();
    CHECK(fs.Contents("/d/f") == "abc");
    REQUIRE((*f)->Append("x").ok());  // the handle still works
    CHECK(fs.Contents("/d/f") == "abcx");
  }
  SECTION("Crash kills old handles") {
    fs.Crash();
    CHECK(fs.Contents("/d/f") == "abc");
    CHECK((*f)->Append("x").code() == Code::kIo);
    CHECK(fs.Contents("/d/f") == "abc");
  }
  SECTION("helpers") {
    CHECK(fs.TruncateBy("/d/f", 2));
    CHECK(fs.Contents("/d/f") == "abcd");
    CHECK(fs.FlipByte("/d/f", 0));
    CHECK(fs.Contents("/d/f")[0] == static_cast<char>('a' ^ 0xff));
    CHECK(fs.SetByte("/d/f", 1, 'Z'));
    CHECK(fs.FileSize("/d/f") == 4);
    CHECK_FALSE(fs.FlipByte("/d/f", 4));
    CHECK_FALSE(fs.TruncateBy("/d/missing", 1));
    fs.FailWrites(true);
    CHECK((*f)->Append("x").code() == Code::kIo);
    CHECK(fs.OpenForAppend("/d/g").status().code() == Code::kIo);
    fs.FailWrites(false);
    fs.SetContents("/e/f/g", "new");
    CHECK(fs.IsDir("/e/f"));
    CHECK(fs.Contents("/e/f/g") == "new");
  }
}

}  // namespace
}  // namespace petrel
