// The event-built YAML tree must read files the way YAML::Load did: the parser's messages and
// locations depend on it.
#include "config/yaml_tree.h"

#include <gtest/gtest.h>
#include <yaml-cpp/exceptions.h>

#include <string>

namespace steward::config::internal {
namespace {

TEST(YamlTree, KeepsMapPairsInFileOrderWithDuplicates) {
  YamlDoc doc;
  YamlNode root = doc.Parse("b: 1\na: [x, y]\nb: 2\n");
  ASSERT_TRUE(root.IsMap());
  ASSERT_EQ(root.Pairs().size(), 3u);
  EXPECT_EQ(root.Pairs()[0].key.Scalar(), "b");
  EXPECT_EQ(root.Pairs()[2].value.Scalar(), "2");
  YamlNode list = root.Pairs()[1].value;
  ASSERT_TRUE(list.IsSequence());
  ASSERT_EQ(list.Items().size(), 2u);
  EXPECT_EQ(list.Items()[1].Scalar(), "y");
  EXPECT_EQ(list.Items()[1].line(), 1);
  EXPECT_EQ(list.Items()[1].column(), 7);
}

TEST(YamlTree, ReadsNullsAndEmptyValuesAsNull) {
  YamlDoc doc;
  YamlNode root = doc.Parse("a:\nb: ~\nc: null\nd: ''\n");
  ASSERT_EQ(root.Pairs().size(), 4u);
  EXPECT_TRUE(root.Pairs()[0].value.IsNull());
  EXPECT_TRUE(root.Pairs()[1].value.IsNull());
  EXPECT_TRUE(root.Pairs()[2].value.IsNull());
  EXPECT_TRUE(root.Pairs()[3].value.IsScalar());
  EXPECT_EQ(root.Pairs()[3].value.Scalar(), "");
}

TEST(YamlTree, AliasIsTheAnchoredNode) {
  YamlDoc doc;
  YamlNode root = doc.Parse("a: &x {k: v}\nb: *x\n");
  EXPECT_TRUE(root.Pairs()[1].value.Is(root.Pairs()[0].value));
  EXPECT_EQ(root.Pairs()[1].value.line(), 0);
}

TEST(YamlTree, UnknownAliasIsASyntaxError) {
  YamlDoc doc;
  EXPECT_THROW(doc.Parse("a: *nope\n"), YAML::ParserException);
}

TEST(YamlTree, ReadsOnlyTheFirstDocument) {
  YamlDoc doc;
  YamlNode root = doc.Parse("a: 1\n---\nb: [\n");
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root.Pairs()[0].key.Scalar(), "a");
}

TEST(YamlTree, TextWithoutDocumentIsNull) {
  YamlDoc doc;
  EXPECT_TRUE(doc.Parse("").IsNull());
  EXPECT_TRUE(doc.Parse("# only a comment\n").IsNull());
}

TEST(YamlTree, DefaultNodeIsUndefined) {
  YamlNode node;
  EXPECT_FALSE(node.IsDefined());
  EXPECT_FALSE(node.IsNull());
  EXPECT_EQ(node.line(), -1);
  EXPECT_TRUE(node.Items().empty());
  EXPECT_TRUE(node.Pairs().empty());
}

TEST(YamlTree, NewMapSharesNodesAndHasNoPlace) {
  YamlDoc doc;
  YamlNode root = doc.Parse("a: 1\n");
  YamlPair pair = root.Pairs()[0];
  YamlNode map = doc.NewMap({&pair, 1});
  ASSERT_TRUE(map.IsMap());
  EXPECT_EQ(map.line(), -1);
  EXPECT_TRUE(map.Pairs()[0].key.Is(pair.key));
}

TEST(YamlTree, KeepsLongScalarsWhole) {
  std::string big(200000, 'x');
  YamlDoc doc;
  YamlNode root = doc.Parse("a: " + big + "\nb: [" + big + ", y]\n");
  EXPECT_EQ(root.Pairs()[0].value.Scalar(), big);
  EXPECT_EQ(root.Pairs()[1].value.Items()[0].Scalar(), big);
  EXPECT_EQ(root.Pairs()[1].value.Items()[1].Scalar(), "y");
}

}  // namespace
}  // namespace steward::config::internal
