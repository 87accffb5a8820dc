#include "base/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "base/url.h"

namespace steward {
namespace {

// FIPS 180-4 examples.
TEST(Sha256, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, PiecesHashAsTheWhole) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 7);
  Sha256Hasher h;
  for (size_t at = 0; at < data.size(); at += 997) h.Update(std::string_view(data).substr(at, 997));
  EXPECT_EQ(h.HexDigest(), Sha256Hex(data));
}

TEST(Sha256, HexEncode) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(HexEncode(bytes, sizeof bytes), "000fa0ff");
  EXPECT_EQ(HexEncode(bytes, 0), "");
}

TEST(Url, LoopbackHosts) {
  for (std::string_view h : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"})
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  for (std::string_view h : {"0.0.0.0", "10.0.0.5", "::", "", "example.com", "127.evil.example",
                             "127.0.0", "127.0.0.1.5", "128.0.0.1"})
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
}

}  // namespace
}  // namespace steward
