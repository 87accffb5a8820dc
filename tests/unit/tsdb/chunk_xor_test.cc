#include "tsdb/chunk_xor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "tsdb/bit_stream.h"
#include "tsdb/encoding.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::tsdb {
namespace {

std::vector<Sample> Decode(std::string_view chunk) {
  std::vector<Sample> out;
  XorIterator it(chunk);
  while (it.Next()) out.push_back({it.t(), it.v()});
  EXPECT_FALSE(it.error());
  return out;
}

std::vector<Sample> RoundTrip(const std::vector<Sample>& in) {
  XorChunkBuilder b;
  for (const Sample& s : in) EXPECT_TRUE(b.Append(s.t, s.v)) << s.t;
  EXPECT_EQ(b.count(), static_cast<int>(in.size()));
  EXPECT_EQ(ChunkSampleCount(b.view()), static_cast<int>(in.size()));
  return Decode(b.view());
}

TEST(XorChunk, RoundTripsRandomSeries) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    std::vector<Sample> in;
    int64_t t = static_cast<int64_t>(rng() % 2000000000000) - 1000000000000;
    for (int i = 0; i < kMaxChunkSamples; ++i) {
      t += 1 + static_cast<int64_t>(rng() % (round % 2 ? 100000000 : 30));
      in.push_back({t, std::bit_cast<double>(rng())});
    }
    EXPECT_EQ(RoundTrip(in), in);
  }
}

// Values whose XOR with the previous one has every width and position (repeats, counters,
// flipped low bits, masks anywhere, whole new doubles) and timestamps in every delta-of-delta
// bucket: the decoder's single-load path and its fallbacks must agree on every sample.
TEST(XorChunk, RoundTripsEveryXorWindowAndTimestampBucket) {
  std::mt19937_64 rng(7);
  const int64_t jitters[] = {0, 0, 1, 5000, 60000, 500000, int64_t{1} << 35};
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> in;
    int64_t t = static_cast<int64_t>(rng() % 1000000);
    int64_t delta = 15000;
    double v = static_cast<double>(rng() % 1000);
    for (int i = 0; i < kMaxChunkSamples; ++i) {
      delta += static_cast<int64_t>(rng() % (2 * jitters[rng() % 7] + 1)) - jitters[rng() % 1];
      if (delta < 1) delta = 1;
      t += delta;
      uint64_t bits = std::bit_cast<uint64_t>(v);
      const int width = 1 + static_cast<int>(rng() % 64);
      const int shift = static_cast<int>(rng() % (65 - width));
      const uint64_t mask = (width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1) << shift;
      switch (rng() % 5) {
        case 0: break;
        case 1: v += static_cast<double>(rng() % 100); bits = std::bit_cast<uint64_t>(v); break;
        case 2: bits ^= rng() & 0xff; break;
        case 3: bits ^= rng() & mask; break;
        default: bits = rng(); break;
      }
      v = std::bit_cast<double>(bits);
      in.push_back({t, v});
    }
    std::vector<Sample> out = RoundTrip(in);
    ASSERT_EQ(out.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      ASSERT_EQ(out[i].t, in[i].t) << "round " << round << " sample " << i;
      ASSERT_EQ(std::bit_cast<uint64_t>(out[i].v), std::bit_cast<uint64_t>(in[i].v))
          << "round " << round << " sample " << i;
    }
  }
}

TEST(XorChunk, RealLookingSeriesCompressWell) {
  // A counter scraped every 15 s with a little jitter, and a gauge with two decimals.
  std::mt19937 rng(7);
  std::vector<Sample> counter, gauge;
  double c = 1000;
  int64_t t = 1700000000000;
  for (int i = 0; i < kMaxChunkSamples; ++i) {
    t += 15000 + static_cast<int>(rng() % 5) - 2;
    c += rng() % 10;
    counter.push_back({t, c});
    gauge.push_back({t, std::round((50 + (rng() % 1000) / 100.0) * 100) / 100});
  }
  XorChunkBuilder b1, b2;
  for (const Sample& s : counter) b1.Append(s.t, s.v);
  for (const Sample& s : gauge) b2.Append(s.t, s.v);
  EXPECT_EQ(Decode(b1.view()), counter);
  EXPECT_EQ(Decode(b2.view()), gauge);
  // Jittered timestamps and random increments are the worst realistic case: bound it loosely.
  EXPECT_LT(b1.bytes().size(), 4u * kMaxChunkSamples);
  EXPECT_LT(b2.bytes().size(), 9u * kMaxChunkSamples);
}

TEST(XorChunk, AlignedSlowCounterNeedsUnderTwoBytesPerSample) {
  // Timestamps aligned to the scrape interval (as Prometheus does within 2 ms) and a counter
  // that moves on a third of the scrapes.
  std::mt19937 rng(9);
  XorChunkBuilder b;
  std::vector<Sample> in;
  double c = 52341;
  for (int i = 0; i < kMaxChunkSamples; ++i) {
    if (rng() % 3 == 0) c += 1 + rng() % 3;
    in.push_back({1700000000000 + i * 15000, c});
    b.Append(in.back().t, in.back().v);
  }
  EXPECT_EQ(Decode(b.view()), in);
  EXPECT_LT(b.bytes().size(), 2u * kMaxChunkSamples);
}

TEST(XorChunk, ConstantSeriesAtFixedIntervalIsTiny) {
  XorChunkBuilder b;
  for (int i = 0; i < kMaxChunkSamples; ++i) b.Append(i * 15000, 1);
  EXPECT_LT(b.bytes().size(), 50u);  // ~2 bits per sample after the first two
}

TEST(XorChunk, SpecialValuesKeepTheirBits) {
  double inf = std::numeric_limits<double>::infinity();
  std::vector<Sample> in = {
      {1, std::nan("")}, {2, StaleNaN()},         {3, inf},        {4, -inf},  {5, -0.0},
      {6, 0.0},          {7, std::nan("0x1234")}, {8, StaleNaN()}, {9, 1e308}, {10, 5e-324}};
  std::vector<Sample> out = RoundTrip(in);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint64_t>(out[i].v), std::bit_cast<uint64_t>(in[i].v)) << i;
  }
  EXPECT_TRUE(IsStaleNaN(out[1].v));
  EXPECT_FALSE(IsStaleNaN(out[0].v));
}

TEST(XorChunk, BigTimestampGapsUseEveryBucket) {
  std::vector<Sample> in;
  int64_t t = -5;
  int64_t gaps[] = {1, 1, 8000, 9000, 70000, 600000, 1, int64_t{1} << 40, 3, int64_t{1} << 61, 2};
  for (int64_t g : gaps) {
    t += g;
    in.push_back({t, static_cast<double>(g)});
  }
  EXPECT_EQ(RoundTrip(in), in);
}

// Each bucket holds -(2^(n-1) - 1) .. +2^(n-1), as in Prometheus: the top value is positive.
TEST(XorChunk, DeltaOfDeltaAtEachBucketsEdgeKeepsItsSign) {
  for (int64_t edge : {int64_t{1} << 13, int64_t{1} << 16, int64_t{1} << 19}) {
    for (int64_t dod : {edge, edge + 1, -(edge - 1), -edge}) {
      std::vector<Sample> in = {{0, 1}, {1000000, 2}, {2000000 + dod, 3}, {3000000 + dod, 4}};
      EXPECT_EQ(RoundTrip(in), in) << "delta of delta " << dod;
    }
  }
}

TEST(XorChunk, RejectsNonIncreasingTimestamps) {
  XorChunkBuilder b;
  ASSERT_TRUE(b.Append(100, 1));
  EXPECT_FALSE(b.Append(100, 2));
  EXPECT_FALSE(b.Append(99, 2));
  ASSERT_TRUE(b.Append(101, 2));
  EXPECT_FALSE(b.Append(50, 3));
  EXPECT_EQ(Decode(b.view()), (std::vector<Sample>{{100, 1}, {101, 2}}));
}

TEST(XorChunk, SeekFindsFirstSampleAtOrAfter) {
  XorChunkBuilder b;
  for (int i = 0; i < 100; ++i) b.Append(i * 10, i);
  XorIterator it(b.view());
  ASSERT_TRUE(it.Seek(55));
  EXPECT_EQ(it.t(), 60);
  ASSERT_TRUE(it.Seek(60));  // stays put
  EXPECT_EQ(it.t(), 60);
  ASSERT_TRUE(it.Next());
  EXPECT_EQ(it.t(), 70);
  EXPECT_FALSE(it.Seek(5000));
  EXPECT_FALSE(it.error());
}

TEST(XorChunk, TruncatedChunkEndsWithError) {
  XorChunkBuilder b;
  for (int i = 0; i < 50; ++i) b.Append(i * 1000 + (i % 3), i * 1.5);
  std::string_view full = b.view();
  for (size_t cut = 0; cut < full.size(); ++cut) {
    XorIterator it(full.substr(0, cut));
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_TRUE(it.error()) << cut;
    EXPECT_LT(n, 50);
  }
}

TEST(XorChunk, ResetKeepsCapacityAndStartsOver) {
  XorChunkBuilder b;
  for (int i = 0; i < 120; ++i) b.Append(i, i);
  size_t cap = b.HeapBytes();
  b.Reset();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.HeapBytes(), cap);
  ASSERT_TRUE(b.Append(5, 5));  // earlier than before the reset: a new chunk
  EXPECT_EQ(Decode(b.view()), (std::vector<Sample>{{5, 5}}));
}

// Every width at every bit offset, near the end of the buffer too (the reader loads 64 bits at
// a time where 9 bytes remain and goes byte by byte at the end).
TEST(BitStream, ReadsEveryWidthAtEveryOffset) {
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint64_t, int>> written;
  std::vector<uint8_t> buf;
  uint8_t free_bits = 0;
  BitWriter w(&buf, &free_bits);
  for (int round = 0; round < 9; ++round) {
    for (int n = 0; n <= 64; ++n) {
      uint64_t v = n == 64 ? rng() : rng() & ((uint64_t{1} << n) - 1);
      w.WriteBits(v, n);
      written.push_back({v, n});
      w.WriteBit(round % 2 == 1);
      written.push_back({round % 2 == 1 ? 1u : 0u, 1});
    }
  }
  BitReader r(buf.data(), buf.size());
  for (const auto& [v, n] : written) ASSERT_EQ(r.ReadBits(n), v) << n;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.ReadBits(free_bits + 1), 0u);
  EXPECT_FALSE(r.ok());
}

TEST(Encoding, Crc32cKnownValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the standard check value
  EXPECT_EQ(Crc32c(std::string_view("56789"), Crc32c(std::string_view("1234"))), 0xE3069283u);
}

TEST(Encoding, VarintsRoundTripAndDetectTruncation) {
  std::string buf;
  PutUvarint(&buf, 300);
  PutVarint(&buf, -123456789012);
  PutString(&buf, "hello");
  PutFixed64(&buf, 0x0102030405060708ull);
  Decoder d(buf);
  EXPECT_EQ(d.Uvarint(), 300u);
  EXPECT_EQ(d.Varint(), -123456789012);
  EXPECT_EQ(d.String(), "hello");
  EXPECT_EQ(d.Fixed64(), 0x0102030405060708ull);
  EXPECT_TRUE(d.ok() && d.done());
  Decoder short_read(std::string_view(buf).substr(0, 4));
  short_read.Uvarint();
  short_read.Varint();
  EXPECT_FALSE(short_read.ok());
}

}  // namespace
}  // namespace steward::tsdb
