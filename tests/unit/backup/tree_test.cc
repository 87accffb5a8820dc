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
