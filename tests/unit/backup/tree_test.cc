#include "backup/tree.h"

#include <gtest/gtest.h>

#include "backup/snapshot.h"

namespace steward::backup {
namespace {

Node FileNode(std::string name) {
  Node n;
  n.name = std::move(name);
  n.mode = 0644;
  n.size = 3;
  n.content.push_back(*Id::FromHex(std::string(64, 'a')));
  return n;
}

TEST(Tree, EncodingIsDeterministicAndSorted) {
  Tree a, b;
  a.nodes = {FileNode("b"), FileNode("a")};
  b.nodes = {FileNode("a"), FileNode("b")};
  EXPECT_EQ(EncodeTree(a), EncodeTree(b));
  auto decoded = DecodeTree(EncodeTree(a));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->nodes.size(), 2u);
  EXPECT_EQ(decoded->nodes[0].name, "a");
  EXPECT_EQ(decoded->nodes[0].content[0].Hex(), std::string(64, 'a'));
}

TEST(Tree, NonUtf8NamesAndXattrsRoundTrip) {
  Tree t;
  Node n = FileNode(std::string("caf\xe9\xff", 5));
  n.xattrs.emplace_back("user.k", std::string("\0\x01\xfe", 3));
  Node link;
  link.name = "l";
  link.type = NodeType::kSymlink;
  link.link_target = std::string("../\x80x", 5);
  t.nodes = {n, link};
  auto decoded = DecodeTree(EncodeTree(t));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->nodes[0].name, n.name);
  EXPECT_EQ(decoded->nodes[0].xattrs, n.xattrs);
  EXPECT_EQ(decoded->nodes[1].link_target, link.link_target);
}

TEST(Tree, RejectsDamagedTrees) {
  EXPECT_EQ(DecodeTree("{").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeTree(R"({"nodes":[{"name":"a/b","type":"file"}]})").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeTree(R"({"nodes":[{"name":"d","type":"dir"}]})").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeTree(R"({"nodes":[{"name":"b","type":"file"},{"name":"a","type":"file"}]})")
                .status()
                .code(),
            StatusCode::kCorruption);
}

// Regression (backup_tree_fuzz): numbers that are not integers of the field's type — a float
// too large for int64 was undefined behaviour, a negative size wrapped — are corruption.
TEST(Tree, NonIntegerOrOutOfRangeNumbersAreCorruption) {
  EXPECT_EQ(DecodeTree(R"({"nodes":[{"name":"a","type":"file","mtime_ns":1e300}]})").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeTree(R"({"nodes":[{"name":"a","type":"file","size":-1}]})").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeTree(R"({"nodes":[{"name":"a","type":"file","uid":4294967296}]})").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(SnapshotFromJson(R"({"time_ns":176423040000000764230400000000000,"tree":")" +
                             std::string(64, 'b') + R"("})")
                .status()
                .code(),
            StatusCode::kCorruption);
  auto ok = DecodeTree(R"({"nodes":[{"name":"a","type":"file","size":18446744073709551615}]})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->nodes[0].size, 18446744073709551615u);
}

TEST(Snapshot, JsonRoundTrip) {
  Snapshot s;
  s.time_ns = 1234567890123456789;
  s.host = "h";
  s.paths = {"/srv/db"};
  s.tree = *Id::FromHex(std::string(64, 'b'));
  s.parent = *Id::FromHex(std::string(64, 'c'));
  s.summary.bytes_added = 42;
  auto back = SnapshotFromJson(SnapshotToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->time_ns, s.time_ns);
  EXPECT_EQ(back->tree, s.tree);
  EXPECT_EQ(*back->parent, *s.parent);
  EXPECT_EQ(back->summary.bytes_added, 42u);
  EXPECT_EQ(SnapshotFromJson("[]").status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace steward::backup
